"""The store contract's merge rule, shared by every backend: what a new sighting of a paper
changes in the stored one."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

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


def merge(
    old: Mapping[str, Any], new: Mapping[str, Any], clear: Collection[str] = ()
) -> dict[str, Any]:
    """The stored values after `new`: None or empty keeps the old value, except in the
    `clear` columns, which take the new value (a refresh clears what the source removed)."""
    return {k: (v if v not in (None, "") or k in clear else old[k]) for k, v in new.items()}
