"""Paper cards say where a paper comes from: its organisation and who submitted it."""

from __future__ import annotations

from datetime import date

from bot.models import Listing, Paper
from cogs.ui.render import ORIGIN_NAME_MAX, paper_embed

DAY = date(2026, 7, 13)


def card(**fields: object) -> dict:
    paper = Paper(id="2607.10001", title="Looms", abstract="Weaving.", **fields)  # type: ignore[arg-type]
    return paper_embed(Listing(paper, DAY, 1)).to_dict()


def test_the_footer_names_the_organisation_and_the_submitter() -> None:
    footer = card(organization="Example Lab", submitter="ada_l")["footer"]["text"]
    assert footer == "Example Lab · Submitted by ada_l · Daily Papers 2026-07-13"


def test_the_full_card_shows_them_too() -> None:
    paper = Paper(id="2607.10001", title="L", abstract="W.", organization="Lab", submitter="u")
    footer = paper_embed(Listing(paper, DAY, 1), full=True).to_dict()["footer"]["text"]
    assert footer.startswith("Lab · Submitted by u · ")


def test_long_or_multiline_names_are_clipped_to_one_line() -> None:
    footer = card(organization="Lab\n" + "x" * 500, submitter="@everyone " * 30)["footer"]["text"]
    org, submitter, _ = footer.split(" · ")
    assert "\n" not in footer and len(org) == ORIGIN_NAME_MAX and org.endswith("…")
    assert len(submitter) == len("Submitted by ") + ORIGIN_NAME_MAX


def test_a_paper_without_them_has_only_its_date() -> None:
    assert card(organization="  ", submitter=None)["footer"]["text"] == "Daily Papers 2026-07-13"
