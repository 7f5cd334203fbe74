"""Giving memory freed by big transient work back to the operating system."""

from __future__ import annotations

import ctypes


def release_freed_memory() -> None:
    """Hand memory freed by a big transient job (a build, a bulk load) back to the OS: glibc
    keeps the freed pages of its heaps mapped until asked. Not glibc: nothing to do."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
