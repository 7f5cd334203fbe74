"""The process's memory: giving back what big transient work freed, and fewer malloc arenas."""

from __future__ import annotations

import ctypes
import os

# glibc gives each thread that allocates its own malloc arena (up to 8 per core), and memory
# freed in one arena serves only the threads that use it. The bot's threads (one per SQLite
# connection, the worker threads that build the alert and similarity indexes and match
# papers) each kept tens of MB of freed memory of their own: 82 MB of thread arenas in the
# soak's bot at 1,000 guilds and 100,000 alerts. One arena (the main one, glibc's own
# MALLOC_ARENA_MAX=1) lets every thread reuse what any other freed: the soak's peak RSS
# 153-155 -> 147 MB against two arenas (bench/README.md, issue 16 item 5, eighth pass), with
# the same loop lag and /search times (the threads mostly hold the GIL while they allocate).
MALLOC_ARENAS = 1
_M_ARENA_MAX = -8  # mallopt's parameter number (glibc malloc.h)


def release_freed_memory() -> None:
    """Hand memory freed by a big transient job (a build, a bulk load) back to the OS: glibc
    keeps the freed pages of its heaps mapped until asked. Not glibc: nothing to do."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas (call before the process starts threads); whether it was
    set. An operator's MALLOC_ARENA_MAX in the environment wins; not glibc: nothing to do."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False
