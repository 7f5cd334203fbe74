"""The alert outbox rows a batch of matched papers makes, built column by column with numpy.

A re-match after a refresh makes hundreds of thousands of rows. Made one Python tuple at a
time they took seconds, and, all alive at once, they set off a full collection of the cycle
collector that held the event loop for over a second. Here they are a few arrays, and each
row is made only while the store writes it (and freed right after).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

import numpy as np

from bot.models import AlertTarget, FollowMatch, OutboxRow, Paper, follow_row_id
from bot.percolator import Matches

_Ints = np.ndarray[Any, np.dtype[np.int64]]


class Routes:
    """Every active alert's owner, target and rising threshold, as arrays sorted by id."""

    def __init__(self, alerts: Mapping[int, tuple[int, AlertTarget, int]]) -> None:
        ids = np.fromiter(alerts.keys(), dtype=np.int64, count=len(alerts))
        order = np.argsort(ids, kind="stable")
        routes = list(alerts.values())
        self.ids = ids[order]
        self.users = np.fromiter((r[0] for r in routes), np.int64, len(routes))[order]
        self.min_upvotes = np.fromiter((r[2] for r in routes), np.int64, len(routes))[order]
        targets: dict[AlertTarget, int] = {}
        of = np.fromiter((targets.setdefault(r[1], len(targets)) for r in routes), np.int64)
        self.target_of = of[order] if len(routes) else of
        self.targets = list(targets)
        self.is_rising = np.append(self.min_upvotes > 0, False)  # (place -1: no alert)
        # Alert ids are dense (the store counts them up): a table from id to place, unless
        # removed alerts left it mostly empty.
        top = int(self.ids[-1]) + 1 if len(self.ids) else 0
        self._place: _Ints | None = None
        if int(self.ids[0] if len(self.ids) else 0) >= 0 and top <= 4 * len(self.ids) + 4096:
            self._place = np.full(top + 1, -1, dtype=np.int64)  # (top: any id past the end)
            self._place[self.ids] = np.arange(len(self.ids))

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
    columns: list[list[_Ints]] = [[], [], [], [], []]
    reasons: list[str] = []
    reason_at: dict[str, int] = {}
    of_match: dict[int, int] = {}  # a Match's code -> its reason's number
    joined: dict[tuple[int, int], int] = {}  # (person, paper index) -> row, for follows

    def reason_no(text: str) -> int:
        at = reason_at.get(text)
        if at is None:
            at = reason_at[text] = len(reasons)
            reasons.append(text)
        return at

    paper_ids = [p.id for p in papers]
    for index, paper in enumerate(papers):
        hits = found.get(paper.id)
        if not hits:
            continue
        alert_ids = hits.ids()
        codes = hits.codes()
        at = routes.find(alert_ids)
        keep = at >= 0
        users = routes.users[at]
        taken = have.get(paper.id)
        if taken:  # matched before: skip the people who have it
            keep &= ~np.isin(users, np.fromiter(taken, np.int64, len(taken)))
        # A rising alert waits for its upvotes (the paper is matched again then).
        waiting = routes.min_upvotes[at]
        ready = paper.id in rising
        keep &= (waiting == 0) | (ready & (paper.upvotes >= waiting))
        if not keep.any():
            continue
        alert_ids, codes, users, at = alert_ids[keep], codes[keep], users[keep], at[keep]
        order = np.lexsort((alert_ids, users))
        alert_ids, codes, users, at = alert_ids[order], codes[order], users[order], at[order]
        first = np.ones(len(users), dtype=np.bool_)
        first[1:] = users[1:] != users[:-1]
        starts = np.flatnonzero(first)
        # The reason of each distinct Match once (one Match is shared by many alerts).
        distinct, of_code = np.unique(codes, return_inverse=True)
        for code in distinct.tolist():
            if code not in of_match:
                of_match[code] = reason_no(hits.match_of(code).reason)
        numbers = np.array([of_match[c] for c in distinct.tolist()], dtype=np.int64)
        row_reasons = numbers[of_code][starts]
        several = np.flatnonzero(np.diff(starts, append=len(users)) > 1)
        if len(several):  # people with several alerts: every distinct reason, in alert order
            each = numbers[of_code].tolist()
            ends = np.append(starts[1:], len(users)).tolist()
            begins = starts.tolist()
            for k in several.tolist():
                text = reasons[each[begins[k]]]
                for n in each[begins[k] + 1 : ends[k]]:
                    if reasons[n] not in text:
                        text = f"{text}; {reasons[n]}"
                row_reasons[k] = reason_no(text)
        columns[0].append(users[starts])
        columns[1].append(np.full(len(starts), index, dtype=np.int64))
        columns[2].append(alert_ids[starts])
        columns[3].append(row_reasons)
        columns[4].append(routes.target_of[at[starts]])
    built = [np.concatenate(c) if c else np.zeros(0, np.int64) for c in columns]
    targets = list(routes.targets)
    if follows:
        _add_follows(built, paper_ids, follows, have, reason_no, reasons, targets, joined)
    # Papers in id order, so that rows sort as the outbox's key does.
    rank = np.empty(len(paper_ids), dtype=np.int64)
    rank[sorted(range(len(paper_ids)), key=paper_ids.__getitem__)] = np.arange(len(paper_ids))
    order = np.lexsort((rank[built[1]] if len(built[1]) else built[1], built[0]))
    users, papers_of, alerts, row_reasons, row_targets = (c[order] for c in built)
    return OutboxRows(
        (users, papers_of, alerts, row_reasons, row_targets), paper_ids, reasons, targets
    )


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
