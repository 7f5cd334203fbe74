"""Exports: BibTeX that a real BibTeX parser reads back (ids, unique keys, escaped text),
Markdown that shows titles as text, and CSV a spreadsheet cannot run."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import bibtexparser
import pytest
from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors

from bot.export import ExportItem, bibtex, bibtex_keys, csv_text, export, latex_escape, markdown
from bot.models import Paper

SAVED = datetime(2025, 1, 8, 10, tzinfo=UTC)
NASTY = "Grokking {at} 100% & _edge_ #1 $x$ ~ back\\slash É Ø ß naïve “q” – Ω"


def item(
    pid: str, title: str = "A title", *authors: str, note: str = "", **fields: object
) -> ExportItem:
    paper = Paper(id=pid, title=title, abstract="", authors=authors, **fields)  # type: ignore[arg-type]
    return ExportItem(paper, SAVED, note)


def parse(text: str) -> bibtexparser.Library:
    library = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()])
    assert library.failed_blocks == [], [b.error for b in library.failed_blocks]
    return library


def test_bibtex_is_arxivs_eprint_form_and_parses() -> None:
    published = datetime(2025, 9, 28, tzinfo=UTC)
    text = bibtex(
        [item("2509.24002", "Grokking", "Ada Lovelace", "Alan Turing", published_at=published)]
    )
    (entry,) = parse(text).entries
    assert entry.entry_type == "misc" and entry.key == "lovelace2025grokking"
    fields = {f.key: f.value for f in entry.fields}
    assert fields == {
        "title": "Grokking",
        "author": "Ada Lovelace and Alan Turing",
        "year": "2025",
        "eprint": "2509.24002",
        "archivePrefix": "arXiv",
        "url": "https://arxiv.org/abs/2509.24002",
    }


@pytest.mark.parametrize("char", list("{}%&_#$~^\\"))
def test_every_latex_special_is_escaped(char: str) -> None:
    text = bibtex([item("2501.00001", f"a {char}{char} b", f"Name {char}x")])
    (entry,) = parse(text).entries  # an unescaped brace or backslash would not parse
    escaped = latex_escape(char)
    assert escaped != char
    raw = text.split("title = {", 1)[1].split("},\n", 1)[0]
    assert raw == f"a {escaped}{escaped} b"
    if char != "^":  # the decoder reads \textasciicircum as a modifier letter
        assert entry["title"] == f"a {char}{char} b"


def test_titles_and_names_come_back_as_written() -> None:
    authors = ("José Müller", "Zoë Ångström", "Łukasz Øster")
    (entry,) = parse(bibtex([item("2501.00001", NASTY, *authors)])).entries
    assert entry["title"] == NASTY
    raw = {
        f.key: f.value
        for f in bibtexparser.parse_string(bibtex([item("2501.00001", NASTY, *authors)]))
        .entries[0]
        .fields
    }
    assert "é" not in raw["title"] and r"{\'{E}}" in raw["title"]  # accents as LaTeX commands


def test_names_with_a_comma_or_and_stay_one_author() -> None:
    text = bibtex([item("2501.00001", "T", "Ada Lovelace", "Smith and Sons", "King, Jr.")])
    library = bibtexparser.parse_string(text, append_middleware=[SeparateCoAuthors()])
    (entry,) = library.entries
    assert entry["author"] == ["Ada Lovelace", "{Smith and Sons}", "{King, Jr.}"]


def test_keys_are_unique_and_years_come_from_the_id_when_unknown() -> None:
    items = [
        item("2501.00001", "The Grokking of things", "Ann Lee"),
        item("2501.00002", "Grokking again", "Ann Lee"),
        item("2501.00003", "Grokking thrice", "Ann Lee"),
        item(
            "hep-th/9901001",
            "",
        ),
    ]
    keys = bibtex_keys([i.paper for i in items])
    assert keys == ["lee2025grokking", "lee2025grokkinga", "lee2025grokkingb", "anon1999paper"]
    library = parse(bibtex(items))
    assert [e.key for e in library.entries] == keys
    assert [e["eprint"] for e in library.entries] == [i.paper.id for i in items]
    assert library.entries[3]["year"] == "1999"


def test_markdown_shows_titles_as_text_with_notes() -> None:
    text = markdown(
        [item("2501.00001", "a *b* [x](http://evil)", "Ann", note="read `§3`")], "Reading"
    )
    assert "# Reading (1 paper)" in text
    assert r"[a \*b\* \[x\](http://evil)](https://arxiv.org/abs/2501.00001)" in text
    assert r"> read \`§3\`" in text


def test_csv_rows_cannot_run_as_formulas() -> None:
    text = csv_text([item("2501.00001", "=HYPERLINK(1)", "Ann", "Bo", note="@me")])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["arxiv_id", "title", "authors"]
    assert rows[1][:4] == ["2501.00001", "'=HYPERLINK(1)", "Ann; Bo", "2025"]
    assert rows[1][-1] == "'@me"


def test_export_names_the_file_by_format() -> None:
    items = [item("2501.00001")]
    assert export("bibtex", items, name="library", title="t").filename == "library.bib"
    assert export("markdown", items, name="library", title="t").filename == "library.md"
    got = export("csv", items, name="library", title="t")
    assert got.filename == "library.csv" and got.data.decode().startswith("arxiv_id,")
