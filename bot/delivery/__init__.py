"""Delivery: the core services that post digests and alerts exactly once, through a courier.

They take every dependency as a constructor argument (store, courier, clock, settings, a health
report callable) and never see the bot or Discord; `courier.py` is the port they send through.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

Clock = Callable[[], datetime]
# Whether this process posts for a server: the one holding its shard does (bot/shards.py).
Owns = Callable[[int | None], bool]


def owns_every_server(_guild_id: int | None) -> bool:
    """One unsharded process posts for every server."""
    return True
