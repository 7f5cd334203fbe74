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


ARENAS_PROBE = """
import ctypes, os, tempfile, threading
from bot.memory import limit_malloc_arenas
limit_malloc_arenas()
kept = []
def allocate():
    kept.extend(bytearray(4000) for _ in range(50))  # malloc's, from this thread
thread = threading.Thread(target=allocate)
thread.start()
thread.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
fd, path = tempfile.mkstemp()
os.close(fd)
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
print(open(path).read().count("<heap nr="))
os.unlink(path)
"""


@glibc
def test_a_thread_allocates_from_the_one_main_arena() -> None:
    # Without the cap glibc gives the thread an arena of its own (two heaps); with a cap of
    # 2 as well. One arena: the soak's peak RSS 153-155 -> 147 MB (bench/README.md).
    clean = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", ARENAS_PROBE], env=clean, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "1"
