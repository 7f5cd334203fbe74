"""Personal libraries and servers' reading lists: what people save, find again and export.

A paper is named by an arXiv id or link; one that is not stored yet is fetched from Hugging
Face once (as /paper does, within the same shared budget), and text that is no id is refused
without asking Hugging Face anything. Limits are the store's, checked as it writes.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass

from bot.arxiv import normalise_id
from bot.errors import NotFoundError, QueryError, ScrapeError, SourceUnavailable, UserError
from bot.export import ExportFile, ExportFormat, ExportItem, export
from bot.lookups import PaperLookups
from bot.matching import PaperText, matches
from bot.models import Listing, ReadingEntry, SavedPaper
from bot.query import parse_query
from bot.store.base import MAX_READING, MAX_SAVED, LibraryStore

log = logging.getLogger(__name__)

NOTE_MAX = 500  # characters of a reading-list note
SHOWN_MAX = 80  # characters of a person's input quoted back to them


@dataclass(frozen=True, slots=True)
class Added:
    """A paper put in a library or on a reading list; `new` is False if it was there."""

    listing: Listing
    new: bool


def paper_id(text: str) -> str:
    """The arXiv id in an id or link; UserError (and no request anywhere) for anything else."""
    found = normalise_id(text)
    if found is None:
        shown = " ".join(text.split())[:SHOWN_MAX]
        raise UserError(
            f"“{shown}” is not an arXiv id or paper link. Use an id like 2509.24002, or a"
            " huggingface.co/papers/… or arxiv.org/abs/… link."
        )
    return found


def clean_note(text: str | None) -> str:
    """A note as plain text on one line (control characters dropped); UserError if longer
    than NOTE_MAX. It is stored as typed: escaping is for whoever shows it."""
    if not text:
        return ""
    kept = "".join(c for c in text if unicodedata.category(c)[0] != "C" or c in "\n\t")
    note = " ".join(kept.split())
    if len(note) > NOTE_MAX:
        raise UserError(f"A note is at most {NOTE_MAX} characters; yours has {len(note)}.")
    return note


class Library:
    """Saving, listing, removing and exporting papers, for people and for servers."""

    def __init__(
        self,
        store: LibraryStore,
        lookups: PaperLookups,
        *,
        max_saved: int = MAX_SAVED,
        max_reading: int = MAX_READING,
    ) -> None:
        self._store = store
        self._lookups = lookups
        self.max_saved = max_saved
        self.max_reading = max_reading

    async def paper(self, text: str) -> Listing:
        """The paper an id or link names: stored, or fetched once from Hugging Face."""
        pid = paper_id(text)
        try:
            listing = await self._lookups.get(pid)
        except (SourceUnavailable, ScrapeError) as e:
            log.warning("could not fetch paper %s from Hugging Face: %s", pid, e)
            raise UserError(
                f"Hugging Face did not answer properly, so I can't look up {pid} right now."
                " Please try again in a few minutes."
            ) from e
        if listing is None:
            raise NotFoundError(f"{pid} is not on Hugging Face Papers, so I can't save it.")
        return listing

    # -- a person's library -----------------------------------------------------------------

    async def save(self, user_id: int, text: str) -> Added:
        """Save a paper to the person's library (LibraryLimitError when it is full)."""
        listing = await self.paper(text)
        new = await self._store.save_paper(user_id, listing.paper.id, max_saved=self.max_saved)
        return Added(listing, new)

    async def unsave(self, user_id: int, text: str) -> str:
        """Take a paper out of the person's library; its id. NotFoundError if not in it."""
        pid = paper_id(text)
        if not await self._store.unsave_paper(user_id, pid):
            raise NotFoundError(f"{pid} is not in your library.")
        return pid

    async def saved(self, user_id: int, query: str | None = None) -> list[SavedPaper]:
        """The person's saved papers, latest first; with a query (the /search language),
        only those it matches, read as search reads words."""
        papers = await self._store.library(user_id)
        if query is None or not query.strip():
            return papers
        parsed = parse_query(query)
        if parsed.is_empty:
            raise QueryError("Nothing to search for: type at least one word, e.g. `grokking`.")
        return [s for s in papers if matches(parsed, PaperText.of(s.listing.paper))]

    async def export_saved(self, user_id: int, fmt: ExportFormat) -> ExportFile:
        """The person's library as a file; UserError when it is empty."""
        papers = await self._store.library(user_id)
        if not papers:
            raise UserError("Your library is empty: there is nothing to export yet.")
        items = [ExportItem(s.listing.paper, s.saved_at) for s in papers]
        return export(fmt, items, name="library", title="My library")

    # -- a server's reading list ------------------------------------------------------------

    async def add_reading(
        self, guild_id: int, user_id: int, text: str, note: str | None = None
    ) -> Added:
        """Put a paper on the server's list (LibraryLimitError when it is full)."""
        cleaned = clean_note(note)
        listing = await self.paper(text)
        new = await self._store.add_reading(
            guild_id, listing.paper.id, user_id, cleaned, max_entries=self.max_reading
        )
        return Added(listing, new)

    async def remove_reading(
        self, guild_id: int, user_id: int, text: str, *, may_remove_any: bool
    ) -> str:
        """Take a paper off the server's list: one's own entry, or anyone's with
        `may_remove_any` (Manage Messages). Its id; UserError why not otherwise."""
        pid = paper_id(text)
        added_by = None if may_remove_any else user_id
        if await self._store.remove_reading(guild_id, pid, added_by=added_by):
            return pid
        if await self._store.reading_entry(guild_id, pid) is None:
            raise NotFoundError(f"{pid} is not on this server's reading list.")
        raise UserError(
            f"Someone else added {pid}: removing it needs the Manage Messages permission."
        )

    async def reading(self, guild_id: int) -> list[ReadingEntry]:
        """The server's reading list, latest added first."""
        return await self._store.reading_list(guild_id)

    async def export_reading(self, guild_id: int, fmt: ExportFormat) -> ExportFile:
        """The server's reading list as a file; UserError when it is empty."""
        entries = await self._store.reading_list(guild_id)
        if not entries:
            raise UserError("This server's reading list is empty: there is nothing to export.")
        items = [ExportItem(e.listing.paper, e.added_at, e.note) for e in entries]
        return export(fmt, items, name="reading-list", title="Reading list")
