"""Plain data that flows between the source, the store and the cogs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, NamedTuple, NewType

HF_BASE = "https://huggingface.co"
# Every real list item's thumbnail; papers looked up by id and card fallbacks get the same.
THUMBNAIL_URL = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{id}.png"


def thumbnail_url(paper_id: str) -> str:
    """HF's social thumbnail of a paper (what its list items carry)."""
    return THUMBNAIL_URL.format(id=paper_id)


Sort = Literal["relevance", "upvotes", "newest"]  # the orders search results come in
# A digest delivery: sending until every part is done (or resumed after a crash), then
# sent, or failed (the channel is gone, or Discord refused the whole digest).
DeliveryState = Literal["sending", "sent", "failed"]
Frequency = Literal["daily", "weekly"]  # how often a channel's digest is posted
DigestStyle = Literal["cards", "compact"]  # an embed per paper, or one numbered list
# What a delivery covers: one day's list, or the 7 days starting at its date.
PeriodKind = Literal["day", "week"]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# An alert outbox row: queued (waiting, maybe until retry_at), sending (claimed for a message
# with a known nonce: resent with it after a crash), sent, or dropped (may no longer be sent).
OutboxState = Literal["queued", "sending", "sent", "dropped"]
AlertDeliver = Literal["dm", "here"]  # by direct message, or in the channel it was made in
# Where an alert's matches go: 'dm' or 'channel:<id>'.
AlertTarget = NewType("AlertTarget", str)
DM = AlertTarget("dm")


def channel_target(channel_id: int) -> AlertTarget:
    """The target of matches posted in a channel."""
    return AlertTarget(f"channel:{channel_id}")


def follow_row_id(follow_id: int) -> int:
    """The outbox's alert_id for a followed author's paper: negative, never an alert's id."""
    return -follow_id


def target_channel(target: str) -> int | None:
    """The channel of a target ('channel:<id>'); None for 'dm'."""
    return None if target == DM else int(target.split(":", 1)[1])


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as Hugging Face lists it, normalised (ids are strings, text unwrapped)."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None  # arXiv publication time
    submitted_at: datetime | None = None  # when it was put on Daily Papers
    upvotes: int = 0
    num_comments: int | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    thumbnail: str | None = None
    organization: str | None = None
    submitter: str | None = None  # the HF username that put it on Daily Papers
    media_urls: tuple[str, ...] = ()  # images or videos uploaded with it
    # The Hugging Face username of each author in `authors` (None: not claimed), when the
    # source says; empty when unknown. Kept by the store per author, not compared.
    author_users: tuple[str | None, ...] = field(default=(), compare=False)

    @property
    def hf_url(self) -> str:
        return f"{HF_BASE}/papers/{self.id}"

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.id}"


@dataclass(frozen=True, slots=True)
class Listing:
    """A paper as it stands on one day's list: the paper plus its rank that day.

    A paper only looked up by id is on no list yet: `list_date` None, `rank` 0.
    """

    paper: Paper
    list_date: date | None
    rank: int


@dataclass(frozen=True, slots=True)
class DayList:
    """What the source found for one requested date."""

    requested: date
    served: date | None  # the date the page/API actually served, if it says
    papers: tuple[Paper, ...] = ()
    skipped: int = 0  # invalid items left out (each one logged)
    other_day: int = 0  # items of another list day the response also held, left out


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What storing one day's list changed."""

    list_date: date
    found: int
    new: tuple[str, ...] = ()  # ids seen for the first time ever
    updated: int = 0  # known papers whose counts changed


@dataclass(frozen=True, slots=True)
class Snippet:
    """A few words of an abstract, and the character spans of its words the query matched.

    `text` is one line, `…` where it was cut; each span is (start, end) into `text`.
    """

    text: str = ""
    spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: the listing and a short snippet around the matched words."""

    listing: Listing
    snippet: Snippet = Snippet()


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results; `capped` means `total` is a floor (very broad query), and
    `newest_only` that only the newest matches were ranked then (False: all of them)."""

    hits: tuple[SearchHit, ...]
    total: int
    capped: bool = False
    newest_only: bool = True


@dataclass(frozen=True, slots=True)
class ScrapeRun:
    """A record of one scrape of one date, for /status and `paperboy status`."""

    list_date: date
    finished_at: datetime
    ok: bool
    found: int = 0
    new: int = 0
    updated: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What `paperboy status` and /status show about the store."""

    papers: int
    list_dates: int
    first_date: date | None
    newest_date: date | None
    last_scrape: ScrapeRun | None
    last_success: ScrapeRun | None
    location: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Subscription:
    """A channel's digest settings."""

    channel_id: int
    guild_id: int
    post_time: str  # HH:MM, in `timezone`
    timezone: str
    top: int
    min_upvotes: int = 0
    keywords: str = ""
    threads: bool = False
    created_at: datetime | None = None
    failing_reason: str | None = None
    frequency: Frequency = "daily"
    weekday: int = 0  # 0 = Monday; when a weekly digest is posted
    style: DigestStyle = "cards"
    # Since when the channel has had this frequency (set by the store): digests scheduled
    # before it are not due, so a change takes effect from the next one.
    frequency_since: datetime | None = None

    @property
    def kind(self) -> PeriodKind:
        """The period each of its digests covers."""
        return "week" if self.frequency == "weekly" else "day"


@dataclass(frozen=True, slots=True)
class DeliveryPart:
    """One planned message of a digest: `message_id` is set once Discord has it, `refused`
    once Discord refused this message alone (it is left out, never sent again)."""

    part: int
    payload: str  # JSON
    nonce: str
    message_id: int | None = None
    refused: bool = False

    @property
    def done(self) -> bool:
        return self.message_id is not None or self.refused


@dataclass(frozen=True, slots=True)
class Delivery:
    """A digest of one period for one channel, as recorded in the outbox: one day's list
    (`kind` 'day'), or the week starting at `list_date` ('week')."""

    channel_id: int
    list_date: date
    state: DeliveryState
    parts: tuple[DeliveryPart, ...] = ()
    error: str | None = None
    kind: PeriodKind = "day"

    @property
    def pending(self) -> tuple[DeliveryPart, ...]:
        return tuple(p for p in self.parts if not p.done)


@dataclass(frozen=True, slots=True)
class Alert:
    """One saved keyword alert of one person."""

    id: int
    user_id: int
    query: str
    deliver: AlertDeliver = "dm"
    channel_id: int | None = None
    guild_id: int | None = None
    muted: bool = False
    created_at: datetime | None = None
    min_upvotes: int = 0  # a rising alert: matches wait until the paper has this many

    @property
    def target(self) -> AlertTarget:
        """Where its matches go: 'dm' or 'channel:<id>'."""
        if self.deliver == "here" and self.channel_id is not None:
            return channel_target(self.channel_id)
        return DM


@dataclass(frozen=True, slots=True)
class AlertUser:
    """A person's alert-wide state."""

    user_id: int
    paused: bool = False
    dm_blocked: str | None = None
    dm_block_notified: bool = False


@dataclass(frozen=True, slots=True)
class AlertChanges:
    """What may have changed in the alerts up to `version`: the alerts, people and servers
    whose alerts must be read again (a removed alert is only in `alert_ids`)."""

    version: int
    alert_ids: frozenset[int] = frozenset()
    user_ids: frozenset[int] = frozenset()
    guild_ids: frozenset[int] = frozenset()


class OutboxRow(NamedTuple):
    """A match to queue in the alert outbox: QueuedAlert's first five fields in a plain tuple,
    many times cheaper to make (matching papers again makes hundreds of thousands)."""

    user_id: int
    paper_id: str
    alert_id: int
    reason: str
    target: AlertTarget = DM


@dataclass(frozen=True, slots=True)
class QueuedAlert:
    """A matched (person, paper) waiting in the outbox. `alert_id` is the alert that matched
    or, for a followed author's paper, minus the follow's id (see follow_row_id)."""

    user_id: int
    paper_id: str
    alert_id: int
    reason: str
    target: AlertTarget = DM
    state: OutboxState = "queued"
    batch: str | None = None
    attempts: int = 0

    @property
    def is_code(self) -> bool:
        """Whether this row is the news that a watched paper's code is out (not a match)."""
        return self.paper_id.endswith(CODE_SUFFIX)

    @property
    def listed_id(self) -> str:
        """The paper this row is about."""
        return self.paper_id.removesuffix(CODE_SUFFIX)


# An alert outbox row about a watched paper's code carries the paper id with this suffix (and
# alert id 0): it is a different thing to deliver than a match of the same paper.
CODE_SUFFIX = "#code"
CODE_ALERT_ID = 0


def code_key(paper_id: str) -> str:
    """The alert outbox key of the news that `paper_id`'s code is out."""
    return paper_id + CODE_SUFFIX


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What one refresh of recent lists changed."""

    papers: int  # papers on the lists read
    changed: int = 0  # stored papers whose fields changed
    rematch: int = 0  # papers marked to be matched against the alerts again
    new: tuple[str, ...] = ()  # papers never stored before


@dataclass(frozen=True, slots=True)
class Watch:
    """A person waiting for a paper's code."""

    user_id: int
    paper_id: str
    created_at: datetime
    notified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Climb:
    """A paper's upvotes now and its gain since `since` (or since its first known count)."""

    listing: Listing
    gain: int


@dataclass(frozen=True, slots=True)
class RisingChannel:
    """A channel that gets each recent paper once it reaches `threshold` upvotes."""

    channel_id: int
    guild_id: int
    threshold: int
    keywords: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RisingPost:
    """One planned rising-paper post: sent once, resent with its nonce after a crash."""

    channel_id: int
    paper_id: str
    payload: str
    nonce: str
    state: Literal["sending", "sent", "dropped"] = "sending"
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class SavedPaper:
    """A paper in a person's library, and when they saved it."""

    listing: Listing
    saved_at: datetime


@dataclass(frozen=True, slots=True)
class ReadingEntry:
    """A paper on a server's reading list: who added it, their note (plain text), and when."""

    listing: Listing
    added_by: int
    note: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class Author:
    """An author as the stored papers credit them: a name and, where someone claimed those
    papers on Hugging Face, that account (two people with one name differ by it)."""

    name: str
    hf_user: str | None = None
    papers: int = 0  # stored papers crediting this author (0 when not counted)


@dataclass(frozen=True, slots=True)
class Follow:
    """An author a person follows: their new papers arrive with the person's alerts."""

    id: int
    user_id: int
    author: Author
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FollowMatch:
    """A new paper by an author someone follows."""

    follow_id: int
    user_id: int
    paper_id: str
    author: Author


@dataclass(frozen=True, slots=True)
class ClusterProcess:
    """One bot process sharing the store: who it is, which shards it holds, when it was last
    seen (`age`: seconds since, by the store's clock, so hosts' clocks do not matter)."""

    id: str
    host: str
    pid: int
    shard_count: int | None  # None: Discord's recommended count (one process only)
    shard_ids: tuple[int, ...]  # empty: every shard
    started_at: datetime
    last_seen: datetime
    leader: bool = False
    age: float = 0.0


@dataclass(frozen=True, slots=True)
class Fence:
    """A delivery's lease as its holder knows it: writes made under it happen only while
    `token` is still the lease's current token (each write also extends it by `seconds`)."""

    key: str
    token: int
    seconds: float


@dataclass(frozen=True, slots=True)
class StoredProblem:
    """A health problem kept in the store (reported once for every process)."""

    key: str
    message: str
    since: datetime
    guild_id: int | None = None
