"""Shared fixtures: seed papers from the user's real Daily Papers pages, and temporary stores."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from bot.hf.parse import parse_items
from bot.models import Paper
from bot.store import SQLiteStore
from tests.support.postgres import pg_server  # noqa: F401 (a fixture for every test)

DATA = Path(__file__).parent / "data"


PROCESS_GROUP = "processes"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With pytest-xdist (CI: `-n 2 --dist loadgroup`), the `slow` tests, which start real
    bot processes and kill, pause or time them, run one after another on one worker, beside
    the other worker's in-process tests: never two of them at once on a 2-core machine."""
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.xdist_group(PROCESS_GROUP))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Under --dist loadgroup, refuse to run if pytest-xdist could not mark the groups (it
    renames grouped tests `...@group`; a pytest that ignores that would spread the process
    tests over both workers, silently)."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    ungrouped = [
        item.nodeid
        for item in session.items
        if item.get_closest_marker("slow") and not item.nodeid.endswith(f"@{PROCESS_GROUP}")
    ]
    if ungrouped:
        raise pytest.UsageError(
            f"--dist loadgroup: {len(ungrouped)} slow tests are not in the {PROCESS_GROUP!r}"
            f" group (e.g. {ungrouped[0]}); this pytest breaks pytest-xdist's groups"
        )


@cache
def seed_items() -> dict[str, list[dict]]:
    """The seed lists as Hugging Face API items, by list date."""
    return json.loads((DATA / "seed_days.json").read_text(encoding="utf-8"))


def seed_papers() -> dict[date, list[Paper]]:
    """The seed lists parsed into Papers, by list date."""
    return {date.fromisoformat(d): parse_items(items, d) for d, items in seed_items().items()}


def data_text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """An empty store in a temporary file, always closed."""
    async with SQLiteStore(tmp_path / "paperboy.db") as s:
        yield s


@pytest.fixture
async def seeded_store(store: SQLiteStore) -> SQLiteStore:
    """A store holding every seed paper."""
    for day, papers in seed_papers().items():
        await store.ingest_day(day, papers)
    return store


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run an end-to-end test once per store backend: running_bot opens this one.

    A module opts in with `pytestmark = pytest.mark.usefixtures("store_backend")`.
    """
    from tests.support import harness

    if request.param == "postgresql":
        request.getfixturevalue("pg_server")
    harness.default_backend = request.param
    try:
        yield request.param
    finally:
        harness.default_backend = "sqlite"
