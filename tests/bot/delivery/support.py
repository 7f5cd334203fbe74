"""What the delivery unit tests share: a clock moved by hand and a record of health reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass
class Clock:
    """An injected clock the test moves by hand."""

    now: datetime = datetime(2025, 1, 8, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class HealthLog:
    """The health reports a service made: (key, message or None, guild id)."""

    reports: list[tuple[str, str | None, int | None]] = field(default_factory=list)

    def __call__(self, key: str, problem: str | None, guild_id: int | None) -> None:
        self.reports.append((key, problem, guild_id))

    def problems(self) -> list[str]:
        return [problem for _, problem, _ in self.reports if problem]
