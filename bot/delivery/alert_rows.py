"""The alert outbox rows a batch of matched papers makes, built column by column with numpy.

A re-match after a refresh makes hundreds of thousands of rows. Made one Python tuple at a
time they took seconds, and, all alive at once, they set off a full collection of the cycle
collector that held the event loop for over a second. Here they are a few arrays, and each
row is made only while the store writes it (and freed right after).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

import numpy as np

from bot.models import AlertTarget, FollowMatch, OutboxRow, Paper, follow_row_id
from bot.percolator import Matches
from bot.store.deferred import DeferredPart, pack

_Ints = np.ndarray[Any, np.dtype[np.int64]]


class Routes:
    """Every active alert's owner, target and rising threshold, as arrays sorted by id."""

    def __init__(self, alerts: Mapping[int, tuple[int, AlertTarget, int]]) -> None:
        routes = list(alerts.values())
        targets: dict[AlertTarget, int] = {}
        self._arrange(
            np.fromiter(alerts.keys(), dtype=np.int64, count=len(alerts)),
            np.fromiter((r[0] for r in routes), np.int64, len(routes)),
            np.fromiter((r[2] for r in routes), np.int64, len(routes)),
            np.fromiter((targets.setdefault(r[1], len(targets)) for r in routes), np.int64),
            list(targets),
        )

    @classmethod
    def of_columns(
        cls,
        ids: _Ints,
        users: _Ints,
        min_upvotes: _Ints,
        target_of: _Ints,
        targets: list[AlertTarget],
    ) -> Routes:
        """The routes given as columns (any order of ids; `target_of` numbers `targets`)."""
        routes = cls.__new__(cls)
        routes._arrange(ids, users, min_upvotes, target_of, targets)
        return routes

    def _arrange(
        self,
        ids: _Ints,
        users: _Ints,
        min_upvotes: _Ints,
        target_of: _Ints,
        targets: list[AlertTarget],
    ) -> None:
        order = np.argsort(ids, kind="stable")
        self.ids = ids[order]
        self.users = users[order]
        self.min_upvotes = min_upvotes[order]
        self.target_of = target_of[order] if len(ids) else target_of
        self.targets = targets
        # Each alert's owner as a rank among the owners (sorts as the ids do, in fewer bits).
        self.user_rank = np.unique(self.users, return_inverse=True)[1].ravel()
        self.is_rising = np.append(self.min_upvotes > 0, False)  # (place -1: no alert)
        # Alert ids are dense (the store counts them up): a table from id to place, unless
        # removed alerts left it mostly empty.
        top = int(self.ids[-1]) + 1 if len(self.ids) else 0
        self._place: _Ints | None = None
        if int(self.ids[0] if len(self.ids) else 0) >= 0 and top <= 4 * len(self.ids) + 4096:
            self._place = np.full(top + 1, -1, dtype=np.int64)  # (top: any id past the end)
            self._place[self.ids] = np.arange(len(self.ids))

    def route(self, at: int) -> tuple[int, AlertTarget, int]:
        """The (user id, target, rising threshold) of the alert at a place of the arrays."""
        return int(self.users[at]), self.targets[self.target_of[at]], int(self.min_upvotes[at])

    def merged(self, changed: Mapping[int, tuple[int, AlertTarget, int] | None]) -> Routes:
        """These routes with some alerts' replaced, added or (None) removed."""
        if not changed:
            return self
        kept = self.find(np.fromiter(changed, np.int64, len(changed)))
        keep = np.ones(len(self.ids), dtype=np.bool_)
        keep[kept[kept >= 0]] = False
        new = [(i, r) for i, r in changed.items() if r is not None]
        numbers = {t: n for n, t in enumerate(self.targets)}
        targets = list(self.targets)

        def number(target: AlertTarget) -> int:
            if target not in numbers:
                numbers[target] = len(targets)
                targets.append(target)
            return numbers[target]

        return Routes.of_columns(
            np.append(self.ids[keep], np.fromiter((i for i, _ in new), np.int64, len(new))),
            np.append(self.users[keep], np.fromiter((r[0] for _, r in new), np.int64, len(new))),
            np.append(
                self.min_upvotes[keep], np.fromiter((r[2] for _, r in new), np.int64, len(new))
            ),
            np.append(
                self.target_of[keep],
                np.fromiter((number(r[1]) for _, r in new), np.int64, len(new)),
            ),
            targets,
        )

    def rising(self, alert_ids: _Ints) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Which of these alerts are active rising alerts (they wait for upvotes)."""
        return self.is_rising[self.find(alert_ids)]

    def find(self, alert_ids: _Ints) -> _Ints:
        """Where each alert is in the arrays (-1: not an active alert)."""
        if self._place is not None:
            # (any id out of range reads the last entry: -1)
            return self._place[np.clip(alert_ids, -1, len(self._place) - 1)]
        at = np.searchsorted(self.ids, alert_ids)
        at[at >= len(self.ids)] = 0
        found = self.ids[at] == alert_ids if len(self.ids) else np.zeros(len(at), np.bool_)
        return np.where(found, at, -1)


class OutboxRows(Sequence[OutboxRow]):
    """Rows as columns: each row an OutboxRow when read (a slice is a view, not a copy)."""

    def __init__(
        self,
        columns: tuple[_Ints, _Ints, _Ints, _Ints, _Ints],
        papers: list[str],
        reasons: list[str],
        targets: list[AlertTarget],
    ) -> None:
        # user id, paper (its index in `papers`), alert id, reason and target (indexes)
        self._columns = columns
        self._papers, self._reasons, self._targets = papers, reasons, targets

    def __len__(self) -> int:
        return len(self._columns[0])

    @overload
    def __getitem__(self, i: int) -> OutboxRow: ...
    @overload
    def __getitem__(self, i: slice) -> OutboxRows: ...
    def __getitem__(self, i: int | slice) -> OutboxRow | OutboxRows:
        if isinstance(i, slice):
            users, papers, alerts, reasons, targets = (c[i] for c in self._columns)
            columns = (users, papers, alerts, reasons, targets)
            return OutboxRows(columns, self._papers, self._reasons, self._targets)
        u, p, a, r, t = (int(c[i]) for c in self._columns)
        return OutboxRow(u, self._papers[p], a, self._reasons[r], self._targets[t])

    def packed(self) -> list[DeferredPart]:
        """The rows packed for the store to keep (defer_alert_matches), a part per bucket of
        people."""
        return pack(self._columns, self._papers, self._reasons, self._targets)

    def __iter__(self) -> Iterator[OutboxRow]:
        users, papers, alerts, reasons, targets = (c.tolist() for c in self._columns)
        paper_of, reason_of, target_of = self._papers, self._reasons, self._targets
        for u, p, a, r, t in zip(users, papers, alerts, reasons, targets, strict=True):
            yield OutboxRow(u, paper_of[p], a, reason_of[r], target_of[t])


def outbox_rows(
    routes: Routes,
    papers: list[Paper],
    found: Mapping[str, Matches],
    rising: set[str],
    have: Mapping[str, set[int]],
    follows: list[FollowMatch],
) -> OutboxRows:
    """One row per (person, paper) not in the outbox yet: the first alert (by id) that may
    fire, every distinct reason joined in alert order; then the followed authors'. In key
    order (person, then paper): the outbox's key index is written page by page."""
    reasons: list[str] = []
    reason_at: dict[str, int] = {}

    def reason_no(text: str) -> int:
        at = reason_at.get(text)
        if at is None:
            at = reason_at[text] = len(reasons)
            reasons.append(text)
        return at

    paper_ids = [p.id for p in papers]
    # Papers in id order, so that rows sort as the outbox's key does.
    rank = np.empty(len(paper_ids), dtype=np.int64)
    rank[sorted(range(len(paper_ids)), key=paper_ids.__getitem__)] = np.arange(len(paper_ids))
    # Every match of every paper as columns, each paper's matches together.
    ids: list[_Ints] = []
    codes: list[_Ints] = []
    spans: dict[int, tuple[int, int]] = {}  # paper index -> its matches' start and end
    table: Matches | None = None  # (the Matches of one index read codes alike)
    size = 0
    for index, paper in enumerate(papers):
        hits = found.get(paper.id)
        if not hits:
            continue
        table = hits
        ids.append(hits.ids())
        codes.append(hits.codes())
        spans[index] = (size, size + len(hits))
        size += len(hits)
    if table is None:
        built = [np.zeros(0, np.int64) for _ in range(5)]
    else:
        built = _alert_columns(
            routes, papers, rank, ids, codes, spans, table, rising, have, reason_no, reasons
        )
    targets = list(routes.targets)
    alert_rows = len(built[0])
    if follows:
        joined: dict[tuple[int, int], int] = {}  # (person, paper index) -> row
        _add_follows(built, paper_ids, follows, have, reason_no, reasons, targets, joined)
    if len(built[0]) > alert_rows:  # (the alerts' rows come in key order already)
        order = _sorting(built[0], rank[built[1]])
        built = [c[order] for c in built]
    users, papers_of, alerts, row_reasons, row_targets = built
    return OutboxRows(
        (users, papers_of, alerts, row_reasons, row_targets), paper_ids, reasons, targets
    )


def _alert_columns(
    routes: Routes,
    papers: list[Paper],
    rank: _Ints,
    ids: list[_Ints],
    codes: list[_Ints],
    spans: dict[int, tuple[int, int]],
    table: Matches,
    rising: set[str],
    have: Mapping[str, set[int]],
    reason_no: Callable[[str], int],
    reasons: list[str],
) -> list[_Ints]:
    """The alerts' rows as columns (person, paper index, alert id, reason number, target
    number) in key order (person, then paper in id order: `rank`): per paper and person,
    the first alert by id that may fire, with every distinct reason of their alerts joined
    in alert order."""
    alert_ids = np.concatenate(ids)
    code_of = np.concatenate(codes)
    paper_at = np.empty(len(alert_ids), dtype=np.int64)
    for index, (start, end) in spans.items():
        paper_at[start:end] = index
    at = routes.find(alert_ids)
    keep = at >= 0
    users = routes.users[at]
    for index, (start, end) in spans.items():
        taken = have.get(papers[index].id)
        if taken:  # matched before: skip the people who have it
            keep[start:end] &= ~np.isin(users[start:end], np.fromiter(taken, np.int64, len(taken)))
    # A rising alert waits for its upvotes (the paper is matched again then).
    waiting = routes.min_upvotes[at]
    upvotes = np.fromiter((p.upvotes for p in papers), np.int64, len(papers))
    ready = np.fromiter((p.id in rising for p in papers), np.bool_, len(papers))
    keep &= (waiting == 0) | (ready[paper_at] & (upvotes[paper_at] >= waiting))
    alert_ids, code_of, users, at, paper_at = (
        c.compress(keep) for c in (alert_ids, code_of, users, at, paper_at)
    )
    # By person, paper, then alert (by id: `at`): the outbox's key order, each row's
    # first alert first.
    order = _sorting(routes.user_rank[at], rank[paper_at], at)
    alert_ids, code_of, users, at, paper_at = (
        c[order] for c in (alert_ids, code_of, users, at, paper_at)
    )
    first = np.ones(len(users), dtype=np.bool_)
    first[1:] = (users[1:] != users[:-1]) | (paper_at[1:] != paper_at[:-1])
    starts = np.flatnonzero(first)
    # The reason of each distinct Match once (one Match is shared by many alerts).
    # (Codes are places in the index's table of Matches: a table by code, not a sort.)
    number_of = np.zeros(int(code_of.max()) + 1 if len(code_of) else 0, dtype=np.int64)
    number_of[code_of] = 1
    distinct = np.flatnonzero(number_of)
    number_of[distinct] = np.fromiter(
        (reason_no(table.reason_of(c)) for c in distinct.tolist()), np.int64, len(distinct)
    )
    each_row = number_of[code_of]
    row_reasons = each_row[starts]
    several = np.flatnonzero(np.diff(starts, append=len(users)) > 1)
    if len(several) and len(each_row):
        # Several alerts of one reason keep it: only groups of different reasons are joined.
        differ = np.maximum.reduceat(each_row, starts) != np.minimum.reduceat(each_row, starts)
        several = several[differ[several]]
    if len(several):  # people with several alerts: every distinct reason, in alert order
        # Only those groups' numbers are read into Python (a few percent of the rows).
        begins = starts[several]
        sizes = np.append(starts[1:], len(users))[several] - begins
        ends = np.cumsum(sizes)
        gather = np.arange(int(ends[-1])) + np.repeat(begins - (ends - sizes), sizes)
        each = each_row[gather].tolist()
        joined: dict[tuple[int, ...], int] = {}
        firsts = (ends - sizes).tolist()
        for k, start, end in zip(several.tolist(), firsts, ends.tolist(), strict=True):
            numbers_in = tuple(each[start:end])
            number = joined.get(numbers_in)
            if number is None:
                text = reasons[numbers_in[0]]
                for n in numbers_in[1:]:
                    if reasons[n] not in text:
                        text = f"{text}; {reasons[n]}"
                number = joined[numbers_in] = reason_no(text)
            row_reasons[k] = number
    return [
        users[starts],
        paper_at[starts],
        alert_ids[starts],
        row_reasons,
        routes.target_of[at[starts]],
    ]


def _sorting(*keys: _Ints) -> _Ints:
    """The order that sorts rows by keys[0], then keys[1], ... as np.lexsort(keys[::-1])
    does, for rows whose keys are distinct: one sort of the keys' ranks packed into one
    int64 when they fit (a third of lexsort's time on the re-match's ~460,000 rows)."""
    ranks: list[tuple[_Ints, int]] = []
    for key in keys:
        if not len(key):
            return np.zeros(0, dtype=np.int64)
        low, high = int(key.min()), int(key.max())
        if low >= 0 and high < 1 << 24:  # small already: as it is
            ranks.append((key, high.bit_length()))
        else:
            values, rank = np.unique(key, return_inverse=True)
            ranks.append((rank.ravel(), (len(values) - 1).bit_length()))
    if sum(bits for _, bits in ranks) > 62:
        return np.lexsort(keys[::-1])
    packed = np.zeros(len(keys[0]), dtype=np.int64)
    for rank, bits in ranks:
        packed = (packed << bits) | rank
    return np.argsort(packed)


def _add_follows(
    built: list[_Ints],
    paper_ids: list[str],
    follows: list[FollowMatch],
    have: Mapping[str, set[int]],
    reason_no: Any,
    reasons: list[str],
    targets: list[AlertTarget],
    joined: dict[tuple[int, int], int],
) -> None:
    """The followed authors' rows: a new row per (person, paper), or their reason added to
    the alert row already there (a few per batch: plain Python)."""
    index_of = {p: i for i, p in enumerate(paper_ids)}
    wanted = {index_of[f.paper_id] for f in follows if f.paper_id in index_of}
    for row in np.flatnonzero(np.isin(built[1], list(wanted))).tolist():
        joined[(int(built[0][row]), int(built[1][row]))] = row
    dm = targets.index(AlertTarget("dm")) if "dm" in targets else len(targets)
    if dm == len(targets):
        targets.append(AlertTarget("dm"))
    extra: list[tuple[int, int, int, int, int]] = []
    for follow in follows:
        if follow.user_id in have.get(follow.paper_id, ()) or follow.paper_id not in index_of:
            continue
        paper = index_of[follow.paper_id]
        key = (follow.user_id, paper)
        # In code formatting, like an alert's words: a name renders as typed.
        name = follow.author.name.replace("`", "'")
        reason = f"new paper by `{name}`"
        at = joined.get(key)
        if at is None:
            joined[key] = len(built[0]) + len(extra)
            extra.append(
                (follow.user_id, paper, follow_row_id(follow.follow_id), reason_no(reason), dm)
            )
        elif at >= len(built[0]):  # a row of this loop
            u, p, a, r, t = extra[at - len(built[0])]
            if reason not in reasons[r]:
                extra[at - len(built[0])] = (u, p, a, reason_no(f"{reasons[r]}; {reason}"), t)
        elif reason not in reasons[int(built[3][at])]:
            built[3][at] = reason_no(f"{reasons[int(built[3][at])]}; {reason}")
    if extra:
        more = np.array(extra, dtype=np.int64).T
        for c in range(5):
            built[c] = np.concatenate((built[c], more[c]))
