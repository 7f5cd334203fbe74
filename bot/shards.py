"""Which shard a server is on, and which servers this process owns.

Discord routes a server's events and interactions to the session holding shard
`(guild_id >> 22) % shard_count`, and everything without a server (DMs) to shard 0. A
process answers the servers on its shards, so it is also the one that posts their digests
and rising papers; the others leave them alone.
"""

from __future__ import annotations

from dataclasses import dataclass

# Discord's identify rule: each bucket (shard_id % max_concurrency) may IDENTIFY once per
# this many seconds, across every process of the bot.
IDENTIFY_SECONDS = 5.0


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard Discord sends this server's events to (no server: shard 0)."""
    if guild_id is None:
        return 0
    return (guild_id >> 22) % shard_count


def identify_bucket(shard_id: int | None, max_concurrency: int) -> int:
    """The identify rate-limit bucket of a shard (Discord's `shard_id % max_concurrency`)."""
    return (shard_id or 0) % max(1, max_concurrency)


@dataclass(frozen=True)
class Shards:
    """The shards this process holds: `count` None means unsharded (one process, all)."""

    count: int | None = None
    ids: tuple[int, ...] | None = None  # None with a count: every shard of it

    @property
    def sharded(self) -> bool:
        return self.count is not None

    @property
    def held(self) -> tuple[int, ...]:
        """The shard ids this process runs (unsharded: just 0)."""
        if self.count is None:
            return (0,)
        return self.ids if self.ids is not None else tuple(range(self.count))

    def owns(self, guild_id: int | None) -> bool:
        """Whether this process answers (and posts for) this server."""
        if self.count is None:
            return True
        return self.ids is None or shard_of(guild_id, self.count) in self.ids

    def describe(self) -> str:
        """For logs and /status: 'unsharded', 'shards 0-1 of 4', 'shards 0, 2 of 4'."""
        if self.count is None:
            return "unsharded"
        held = self.held
        if held == tuple(range(held[0], held[-1] + 1)) and len(held) > 1:
            shown = f"{held[0]}-{held[-1]}"
        else:
            shown = ", ".join(map(str, held))
        return f"shard{'s' if len(held) > 1 else ''} {shown} of {self.count}"


def parse_shard_ids(text: str) -> tuple[int, ...]:
    """Shard ids written as "0,1", "0-3" or "0-1,4"; ValueError on anything else."""
    ids: list[int] = []
    for part in text.replace(" ", "").split(","):
        first, sep, last = part.partition("-")
        if not first.isdigit() or (sep and not last.isdigit()):
            raise ValueError(text)
        low, high = int(first), int(last) if sep else int(first)
        if high < low:
            raise ValueError(text)
        ids += range(low, high + 1)
    return tuple(ids)
