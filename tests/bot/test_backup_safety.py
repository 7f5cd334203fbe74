"""`paperboy backup` as a real process: never onto the live store, never half a backup, 0600."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.store import SQLiteStore
from tests.conftest import seed_papers
from tests.support.process import Result, paperboy

SEED = seed_papers()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "p.db"}"\n')
    return path


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """The store as the running bot holds it: open, seeded, with its -wal and -shm."""
    async with SQLiteStore(tmp_path / "p.db") as store:
        for day, papers in SEED.items():
            await store.ingest_day(day, papers)
        yield store


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which files are created world-readable unless made private."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def fingerprint(folder: Path) -> dict[str, str]:
    """Every entry of a folder: a file's content hash, or where a symlink points."""
    found = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            found[entry.name] = "-> " + os.readlink(entry)
        elif entry.is_file():
            found[entry.name] = hashlib.sha256(entry.read_bytes()).hexdigest()
        else:
            found[entry.name] = "dir"
    return found


def papers_in(path: Path) -> int:
    copy = sqlite3.connect(path)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (count,) = copy.execute("SELECT count(*) FROM papers").fetchone()
        return int(count)
    finally:
        copy.close()


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    "destination",
    [
        "p.db",  # relative
        "{tmp}/p.db",  # absolute
        "sub/../p.db",
        "link.db",  # a symlink to the store
        "linked-dir/p.db",  # through a symlinked folder
        "hard.db",  # a hard link to the store
        "p.db-wal",
        "{tmp}/sub/../p.db-shm",
    ],
)
async def test_a_backup_onto_the_live_store_is_refused_and_touches_nothing(
    tmp_path: Path, config: Path, live: SQLiteStore, destination: str
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.db").symlink_to(tmp_path / "p.db")
    (tmp_path / "linked-dir").symlink_to(tmp_path, target_is_directory=True)
    os.link(tmp_path / "p.db", tmp_path / "hard.db")
    before = fingerprint(tmp_path)

    result = await paperboy(
        "--config", str(config), "backup", destination.format(tmp=tmp_path), cwd=tmp_path
    )

    assert result.code == 1, result.out + result.err
    assert one_line(result.err).startswith("paperboy: refusing to back up the store onto itself")
    assert "backed up" not in result.out
    assert fingerprint(tmp_path) == before
    assert papers_in(tmp_path / "p.db") == 147


async def test_a_refused_backup_to_self_keeps_every_row_a_concurrent_writer_committed(
    tmp_path: Path, config: Path, live: SQLiteStore
) -> None:
    committed: list[str] = []
    stop = asyncio.Event()
    after_backup = asyncio.Event()
    wanted = [float("inf")]  # rows to commit before the writer reports back

    async def writer() -> None:
        while not stop.is_set():
            key = f"row-{len(committed)}"
            await live.set_meta(key, "x" * 200)
            committed.append(key)
            if len(committed) >= wanted[0]:
                after_backup.set()

    task = asyncio.create_task(writer())
    try:
        result = await paperboy("--config", str(config), "backup", str(tmp_path / "p.db"))
        wanted[0] = len(committed) + 50  # and it keeps committing after the backup attempt
        await asyncio.wait_for(after_backup.wait(), 30)
    finally:
        stop.set()
        await task
    assert result.code == 1 and "refusing" in one_line(result.err)
    assert len(committed) > 50
    await live.close()
    db = sqlite3.connect(tmp_path / "p.db")
    try:
        stored = {k for (k,) in db.execute("SELECT key FROM meta WHERE key LIKE 'row-%'")}
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
    assert stored == set(committed)


async def limited(config: Path, file_size: int, *args: str) -> Result:
    """`paperboy ARGS` that cannot write past `file_size` bytes in any file (a full disk)."""
    code = (
        "import resource, runpy; "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({file_size}, {file_size})); "
        "runpy.run_module('bot', run_name='__main__', alter_sys=True)"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        "--config",
        str(config),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DISCORD_TOKEN": ""},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def test_a_failed_backup_leaves_nothing_where_it_was_going(
    tmp_path: Path, config: Path, live: SQLiteStore
) -> None:
    (tmp_path / "backups").mkdir()
    result = await limited(config, 64 * 1024, "backup", str(tmp_path / "backups" / "new.db"))
    assert result.code == 1, result.out + result.err
    assert one_line(result.err).startswith(
        f"paperboy: backup to {tmp_path / 'backups' / 'new.db'} failed: "
    )
    assert list((tmp_path / "backups").iterdir()) == []  # no empty file, no temporary file


async def test_a_failed_backup_keeps_the_last_good_one(
    tmp_path: Path, config: Path, live: SQLiteStore
) -> None:
    good = tmp_path / "backups" / "paperboy.db"
    good.parent.mkdir()
    first = await paperboy("--config", str(config), "backup", str(good))
    assert first.code == 0, first.err
    await live.set_meta("grown", "x" * 2_000_000)  # the next copy needs more room
    before = fingerprint(good.parent)

    result = await limited(config, good.stat().st_size + 64 * 1024, "backup", str(good))

    assert result.code == 1, result.out + result.err
    assert "failed" in one_line(result.err)
    assert fingerprint(good.parent) == before
    assert papers_in(good) == 147


async def test_a_backup_replaces_the_last_one_and_is_private(
    tmp_path: Path, config: Path, live: SQLiteStore, umask_022: None
) -> None:
    copy = tmp_path / "copy.db"
    copy.write_text("the last backup")
    copy.chmod(0o644)
    result = await paperboy("--config", str(config), "backup", str(copy))
    assert result.code == 0, result.err
    assert f"backed up {tmp_path / 'p.db'} to {copy} (" in result.out
    assert papers_in(copy) == 147
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".copy", "copy"))) == [
        "copy.db"
    ]


async def test_a_backup_of_a_store_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    config = tmp_path / "missing.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "nowhere.db"}"\n')

    result = await paperboy("--config", str(config), "backup", "copy.db", cwd=tmp_path)

    assert result.code == 1, result.out + result.err
    assert "there is no store at" in one_line(result.err)
    assert not (tmp_path / "nowhere.db").exists()
    assert not (tmp_path / "copy.db").exists()
