"""The store contract: every test here runs once per backend, through the `Store` protocol only.

A backend joins by adding one entry to BACKENDS: a factory that yields an opened, empty store
and closes it afterwards. Its only option is `search_budget` (seconds a search may run before
it counts as too broad); a backend maps it to its own statement timeout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from bot.store import SQLiteStore, Store
from bot.store.postgres import PostgresStore
from tests.bot.store.support import OpenStore, seed
from tests.support import postgres

StoreFactory = Callable[..., AbstractAsyncContextManager[Store]]


@asynccontextmanager
async def sqlite_store(
    tmp_path: Path, *, search_budget: float | None = None
) -> AsyncIterator[Store]:
    """An empty SQLite store in a temporary file."""
    path = tmp_path / "contract.db"
    opened = (
        SQLiteStore(path)
        if search_budget is None
        else SQLiteStore(path, search_budget=search_budget)
    )
    async with opened as store:
        yield store


@asynccontextmanager
async def postgres_store(
    tmp_path: Path, *, search_budget: float | None = None
) -> AsyncIterator[Store]:
    """An empty PostgreSQL store: a fresh database on the session's server."""
    async with postgres.server().database() as url:
        opened = (
            PostgresStore(url)
            if search_budget is None
            else PostgresStore(url, search_budget=search_budget)
        )
        async with opened as store:
            yield store


BACKENDS: dict[str, StoreFactory] = {
    "sqlite": sqlite_store,
    "postgresql": postgres_store,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The contract files (test_contract_*.py) run on every backend; the backend-specific
    files here (test_sqlite*.py, ...) use the `store` fixture on SQLite only."""
    if "backend" in metafunc.fixturenames:
        module = metafunc.module.__name__.rsplit(".", 1)[-1]
        names = sorted(BACKENDS) if module.startswith("test_contract_") else ["sqlite"]
        metafunc.parametrize("backend", names, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend under test (PostgreSQL starts its server on first use)."""
    if request.param == "postgresql":
        request.getfixturevalue("pg_server")
    return str(request.param)


@pytest.fixture
def open_store(backend: str, tmp_path: Path) -> OpenStore:
    """Open another empty store of this backend, with options (e.g. search_budget=0)."""

    def opener(**options: float) -> AbstractAsyncContextManager[Store]:
        return BACKENDS[backend](tmp_path / "other", **options)

    return opener


@pytest.fixture
async def store(backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    """An opened, empty store of the backend under test, always closed."""
    async with BACKENDS[backend](tmp_path) as opened:
        yield opened


@pytest.fixture
async def seeded(store: Store) -> Store:
    """The store holding the seed corpus: four real Daily Papers lists, 147 papers."""
    await seed(store)
    return store
