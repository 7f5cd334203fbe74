"""The errors paperboy raises on purpose, each with a message fit to show a person."""

from __future__ import annotations

import re


class PaperboyError(Exception):
    """Base of every deliberate paperboy error."""


class ConfigError(PaperboyError):
    """The configuration file or environment is wrong; the message names the key."""


class UserError(PaperboyError):
    """Bad input from a person: shown to them as is, never logged as a failure."""


class QueryError(UserError):
    """A search or alert query that cannot be run (too long, too broad, never matches)."""


class NotFoundError(UserError):
    """Something the person asked for does not exist."""


class AlertLimitError(UserError):
    """A person already has as many alerts as anyone may have."""


class LibraryLimitError(UserError):
    """A library or reading list already holds as many papers as it may."""


class WatchLimitError(UserError):
    """A person already watches as many papers as allowed."""


class FollowLimitError(UserError):
    """A person already follows as many authors as they may."""


class ScrapeError(PaperboyError):
    """Hugging Face answered, but not with what we expected (layout or schema changed)."""


class SourceUnavailable(PaperboyError):
    """Hugging Face could not be reached or kept failing after retries."""


class StoreError(PaperboyError):
    """The store cannot be opened (not a database, not writable); the message names the path."""


class StoreUnavailable(StoreError):
    """The database server stayed unreachable through the store's retries; the operation
    did not happen and may simply be tried again."""


class BackupError(PaperboyError):
    """A backup was refused (it would overwrite the store) or failed; nothing was replaced."""


_USERINFO = re.compile(r"\b([a-z][a-z0-9+.\-]*://)[^/?#\s]*@", re.IGNORECASE)


def without_userinfo(text: str) -> str:
    """The text with any `user:password@` taken out of the URLs in it (for logs and errors)."""
    return _USERINFO.sub(r"\1", text)


class ClusterConfigError(PaperboyError):
    """This process cannot join the processes sharing the store (e.g. another shard_count);
    the message says which process disagrees and how."""


class LeaseLost(PaperboyError):
    """A delivery's lease was taken over by another process (or released): the write it
    fenced did not happen, and this process must not send anything more for it."""
