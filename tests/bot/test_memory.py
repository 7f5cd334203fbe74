"""The process's malloc settings (glibc only)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="mallopt's arena cap is glibc's"
)
PROBE = "from bot.memory import limit_malloc_arenas; print(limit_malloc_arenas())"


def probe(**env: str) -> str:
    """limit_malloc_arenas() in a fresh process (it changes the process it runs in)."""
    clean = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=clean | env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@glibc
def test_the_arena_cap_is_set_before_the_bot_starts_threads() -> None:
    assert probe() == "True"


@glibc
def test_an_operators_malloc_arena_max_wins() -> None:
    assert probe(MALLOC_ARENA_MAX="4") == "False"
