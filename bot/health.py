"""What is wrong right now, reported only when a problem starts or clears."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Problem:
    """One ongoing problem; `guild_id` None means it affects every server."""

    key: str
    message: str
    since: datetime
    guild_id: int | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A problem that just started (`started`) or just cleared."""

    problem: Problem
    started: bool


class Health:
    """The set of ongoing problems; `report` returns a Change only on a transition."""

    def __init__(self) -> None:
        self._problems: dict[str, Problem] = {}

    def report(
        self,
        key: str,
        message: str | None,
        *,
        now: datetime,
        guild_id: int | None = None,
    ) -> Change | None:
        """Set (`message`) or clear (None) a problem; a Change when that is news."""
        current = self._problems.get(key)
        if message is None:
            if current is None:
                return None
            del self._problems[key]
            return Change(current, started=False)
        if current is not None:
            return None  # still the same problem: no new message
        problem = Problem(key, message, now, guild_id)
        self._problems[key] = problem
        return Change(problem, started=True)

    def active(self, guild_id: int | None = None) -> list[Problem]:
        """Ongoing problems that concern a server (global ones included), oldest first."""
        found = [p for p in self._problems.values() if p.guild_id in (None, guild_id)]
        return sorted(found, key=lambda p: p.since)


# Set (a message) or clear (None) a problem by key, for one server (its id) or all (None).
ReportHealth = Callable[[str, str | None, int | None], None]
