"""Rules of the store contract that are plain Python, shared by every backend: what a new
sighting of a paper changes in the stored one, what a refresh clears, and how recorded alert
changes read back."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.errors import ClusterConfigError
from bot.models import AlertChanges, ClusterProcess, IngestResult

# A paper's stored fields, in column order: what a new sighting may change.
REFRESHED = (
    "title",
    "abstract",
    "authors",
    "keywords",
    "published_at",
    "submitted_at",
    "upvotes",
    "num_comments",
    "ai_summary",
    "github_repo",
    "github_stars",
    "project_page",
    "thumbnail",
    "organization",
    "submitter",
    "media_urls",
)
SEARCHED = ("title", "abstract", "keywords", "authors")  # the fields search reads
# What a refresh takes from Hugging Face even when it is gone: a removed repository, summary
# or keyword list is cleared rather than kept forever.
CLEARED = frozenset(
    {
        "upvotes",
        "num_comments",
        "ai_summary",
        "keywords",
        "github_repo",
        "github_stars",
        "project_page",
    }
)


def merge(
    old: Mapping[str, Any], new: Mapping[str, Any], clear: Collection[str] = ()
) -> dict[str, Any]:
    """The stored values after `new`: None or empty keeps the old value, except in the
    `clear` columns, which take the new value (a refresh clears what the source removed)."""
    return {k: (v if v not in (None, "") or k in clear else old[k]) for k, v in new.items()}


@dataclass(frozen=True, slots=True)
class DayWrite:
    """What writing one day's list changed: the result, the papers whose searchable text
    changed, and the (paper, old, new) upvotes of those whose upvotes rose."""

    result: IngestResult
    text_changed: tuple[str, ...] = ()
    rises: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Sighting:
    """A stored paper seen again: its row `merged` with the new data, its first list date,
    and what that changes."""

    merged: dict[str, Any]
    first_date: Any  # the backend's own date value, the earlier of the two
    stored: bool  # a stored column or the first list date changes: the row is written
    searched: bool  # a field search reads changes
    rise: tuple[str, int, int] | None  # (paper, old, new) when its upvotes rose


def seen_again(
    paper_id: str,
    old: Mapping[str, Any],
    row: Mapping[str, Any],
    list_date: Any,
    clear: Collection[str] = (),
) -> Sighting:
    """A stored paper (`old`, with its list_date) seen on a list of `list_date` with `row`
    (merged by `merge`, `clear` columns taken as they come)."""
    merged = merge(old, row, clear)
    first_date = min(filter(None, (old["list_date"], list_date)))
    before, after = old["upvotes"] or 0, merged["upvotes"] or 0
    return Sighting(
        merged,
        first_date,
        any(merged[k] != old[k] for k in REFRESHED) or first_date != old["list_date"],
        any(merged[k] != old[k] for k in SEARCHED),
        (paper_id, before, after) if after > before else None,
    )


def changes_since(
    since: int, oldest: int | None, version: int, touched: Iterable[tuple[str, int]]
) -> AlertChanges | None:
    """What changed after version `since`, from the kept change log's bounds and the (kind,
    key) rows after `since`; None when the log no longer reaches back to `since`, or it is
    not a version of this store (such as -1, before a first load)."""
    if since == version:
        return AlertChanges(version)
    if since < 0 or since > version or oldest is None or oldest > since + 1:
        return None
    keys: dict[str, set[int]] = {"alert": set(), "user": set(), "guild": set()}
    for kind, key in touched:
        keys[kind].add(key)
    return AlertChanges(
        version, frozenset(keys["alert"]), frozenset(keys["user"]), frozenset(keys["guild"])
    )


def shard_text(shard_ids: tuple[int, ...]) -> str:
    """Shard ids as stored: comma-separated, '' for every shard."""
    return ",".join(str(s) for s in shard_ids)


def shard_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.split(",") if s)


def check_shard_agreement(process: ClusterProcess, live: Sequence[Sequence[object]]) -> None:
    """ClusterConfigError naming the first live process whose shard_count differs."""
    for other_id, host, pid, count in live:
        if count != process.shard_count:
            theirs = "Discord's recommended count" if count is None else f"shard_count = {count}"
            ours = (
                "Discord's recommended count"
                if process.shard_count is None
                else f"shard_count = {process.shard_count}"
            )
            raise ClusterConfigError(
                f"process {other_id} (pid {pid} on {host}) runs with {theirs}, this one with"
                f" {ours}: every process sharing the store must use the same shard_count"
                " (stop them all to change it)"
            )
