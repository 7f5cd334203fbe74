"""Running `python -m bot` as a real process, the way a user runs `paperboy`."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


async def spawn(*args: str, token: str = "", cwd: Path | None = None) -> asyncio.subprocess.Process:
    """Start `paperboy ARGS` with DISCORD_TOKEN set to `token` (empty: unset)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env={**os.environ, "DISCORD_TOKEN": token},
    )


async def paperboy(
    *args: str, token: str = "", cwd: Path | None = None, timeout: float = 60
) -> Result:
    """Run `paperboy ARGS` to completion and collect its exit status and output."""
    proc = await spawn(*args, token=token, cwd=cwd)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()  # never leave a hung child behind a failed test
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())
