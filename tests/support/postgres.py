"""A real PostgreSQL server for the tests: a throwaway cluster, or $PAPERBOY_TEST_PG_URL.

Started once per test session, the first time a test asks for PostgreSQL: `initdb` into a
temporary directory, `pg_ctl start` listening only on a Unix socket there (no port to clash,
no network), fsync off. PostgreSQL refuses to run as root, so as root both run as the
`postgres` OS user the Debian package creates. One template database gets the migrations;
each test gets `CREATE DATABASE ... TEMPLATE` of it (tens of milliseconds) and drops it after.

Where there is neither a server nor the binaries, PostgreSQL tests are skipped saying why;
with $CI set they fail instead: CI must never skip them.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

ENV_URL = "PAPERBOY_TEST_PG_URL"
OS_USER = "postgres"
DB_USER = "paperboy"
START_TIMEOUT_SECONDS = 60


def _bindir() -> Path | None:
    """Where initdb and pg_ctl are: the PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version, reverse=True)
    return Path(versions[0]).parent if versions else None


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def unavailable(reason: str) -> NoReturn:
    """Skip (or, in CI, fail) a PostgreSQL test, saying why."""
    message = f"PostgreSQL tests need a server: {reason}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must not skip them)", pytrace=False)
    pytest.skip(f"{message}; install the postgresql package or set ${ENV_URL}")


def with_database(url: str, name: str) -> str:
    """The same server, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class PgServer:
    """A server the tests may create databases on; `url` reaches its maintenance database."""

    url: str
    template: str = ""
    _cluster: Path | None = None
    _bindir: Path | None = None
    _names: Iterator[int] = field(default_factory=itertools.count)

    @classmethod
    def start(cls) -> PgServer:
        """The server named by $PAPERBOY_TEST_PG_URL, or a throwaway cluster of our own."""
        url = os.environ.get(ENV_URL)
        server = cls(url) if url else cls._start_cluster()
        try:
            asyncio.run(server._make_template())
        except BaseException:
            server.stop()
            raise
        return server

    @classmethod
    def _start_cluster(cls) -> PgServer:
        bindir = _bindir()
        if bindir is None:
            unavailable("no initdb on the PATH or in /usr/lib/postgresql")
        as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(OS_USER)
            except KeyError:
                unavailable(f"running as root and there is no {OS_USER!r} OS user to run it as")
            as_user = ["runuser", "-u", OS_USER, "--"]
        # Short: a Unix socket path must fit in 107 bytes.
        root = Path(tempfile.mkdtemp(prefix="paperboy-pg-"))
        if as_user:
            shutil.chown(root, OS_USER)
        data = root / "data"
        run = [*as_user]

        def call(*args: str) -> None:
            result = subprocess.run(
                [*run, *args], capture_output=True, text=True, timeout=START_TIMEOUT_SECONDS
            )
            if result.returncode != 0:
                shutil.rmtree(root, ignore_errors=True)
                raise RuntimeError(f"{args[0]} failed: {result.stderr.strip() or result.stdout}")

        call(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            DB_USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        options = (
            f"-k {root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c max_connections=200"
        )
        call(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            str(START_TIMEOUT_SECONDS),
            "-o",
            options,
            "start",
        )
        server = cls(f"postgresql://{DB_USER}@/postgres?host={root}", _cluster=root)
        server._bindir = bindir
        server._run = run
        return server

    _run: list[str] = field(default_factory=list)

    async def _make_template(self) -> None:
        from bot.store.postgres import PostgresStore

        self.template = f"paperboy_tpl_{os.getpid()}"
        admin = await asyncpg.connect(self.url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.template}"')
            await admin.execute(f'CREATE DATABASE "{self.template}"')
        finally:
            await admin.close()
        async with PostgresStore(with_database(self.url, self.template)):
            pass  # migrated

    @contextlib.asynccontextmanager
    async def database(self, *, migrated: bool = True) -> AsyncIterator[str]:
        """A fresh database for one test (dropped afterwards), migrated and empty unless
        `migrated` is False (then without even the schema): its URL."""
        name = f"paperboy_t{os.getpid()}_{next(self._names)}"
        template = self.template if migrated else "template0"
        admin = await asyncpg.connect(self.url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            await admin.close()
        try:
            yield with_database(self.url, name)
        finally:
            admin = await asyncpg.connect(self.url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

    def stop(self) -> None:
        """Stop our own cluster (at once: nothing in it is worth keeping) and delete it."""
        if self._cluster is None:
            if self.template:
                asyncio.run(self._drop_template())
            return
        assert self._bindir is not None
        subprocess.run(
            [
                *self._run,
                str(self._bindir / "pg_ctl"),
                "-D",
                str(self._cluster / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            timeout=START_TIMEOUT_SECONDS,
        )
        shutil.rmtree(self._cluster, ignore_errors=True)

    async def _drop_template(self) -> None:
        admin = await asyncpg.connect(self.url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        finally:
            await admin.close()


_server: PgServer | None = None


def server() -> PgServer:
    """The session's server (started on first use by the `pg_server` fixture)."""
    if _server is None:
        raise RuntimeError("ask for the pg_server fixture first")
    return _server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server: started on first use, stopped at the end."""
    global _server
    started = PgServer.start()
    _server = started
    try:
        yield started
    finally:
        _server = None
        started.stop()


class CuttableProxy:
    """A TCP proxy in front of the server whose connections a test can cut (as a server
    restart or a network failure would) and restore."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.up = True
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._trap_commit: float | None = None  # cut_after_commit's delay, while armed
        self._swallowing = False  # the server's answers are dropped

    async def __aenter__(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def proxied_url(self) -> str:
        """The same database, reached through the proxy."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        parts = urlsplit(self.url)
        user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}", query=""))

    def cut(self) -> None:
        """Drop every connection now, and every new one until restore()."""
        self.up = False
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    def restore(self) -> None:
        self.up = True

    def cut_after_commit(self, down: float = 0.3) -> None:
        """The next COMMIT reaches the server, but its answer never comes back: the
        connections are cut once the server has had time to commit, and come back `down`
        seconds later (did the transaction happen? the client cannot know)."""
        self._trap_commit = down

    async def _sprung(self) -> None:
        await asyncio.sleep(0.2)  # the server commits meanwhile; its answer is swallowed
        self.cut()
        asyncio.get_running_loop().call_later(self._trap_commit or 0.3, self.restore)
        self._trap_commit = None
        self._swallowing = False

    async def _open_server(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        parts = urlsplit(self.url)
        query = dict(q.split("=", 1) for q in parts.query.split("&") if "=" in q)
        port = int(query.get("port") or parts.port or 5432)
        host = query.get("host") or parts.hostname or "localhost"
        if host.startswith("/"):
            return await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
        return await asyncio.open_connection(host, port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        server_reader, server_writer = await self._open_server()
        self._pipes.update((writer, server_writer))
        await asyncio.gather(
            self._pump(reader, server_writer, to_server=True), self._pump(server_reader, writer)
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, to_server: bool = False
    ) -> None:
        try:
            while data := await reader.read(65536):
                if not to_server and self._swallowing:
                    continue
                if to_server and self._trap_commit is not None and b"COMMIT" in data:
                    self._swallowing = True
                    asyncio.get_running_loop().create_task(self._sprung())
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._pipes.discard(writer)
            writer.transport.abort()
