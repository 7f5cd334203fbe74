"""Without a PostgreSQL server the PostgreSQL tests skip saying why; in CI they fail."""

from __future__ import annotations

import pytest

from tests.support import postgres


def test_without_a_server_the_tests_skip_saying_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"no initdb.*PAPERBOY_TEST_PG_URL"):
        postgres.unavailable("no initdb on the PATH")


def test_in_ci_they_fail_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI must not skip them"):
        postgres.unavailable("no initdb on the PATH")


def test_no_binaries_and_no_url_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv(postgres.ENV_URL, raising=False)
    monkeypatch.setattr(postgres, "_bindir", lambda: None)
    with pytest.raises(pytest.skip.Exception, match="no initdb"):
        postgres.PgServer.start()
