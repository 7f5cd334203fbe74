import json
import logging

import pytest

from bot.logs import setup_logging


@pytest.fixture(autouse=True)
def restore_root() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_and_the_token_never_appears(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", as_json=True, secret="s3cret-token")
    log = logging.getLogger("bot.test")
    log.info("connecting with %s", "s3cret-token")
    log.debug("hidden at INFO")
    try:
        raise RuntimeError("boom s3cret-token")
    except RuntimeError:
        log.exception("failed")
    lines = capsys.readouterr().err.strip().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["level"] for e in entries] == ["INFO", "ERROR"]
    assert entries[0]["message"] == "connecting with [token]"
    assert entries[0]["logger"] == "bot.test"
    assert "s3cret-token" not in "\n".join(lines)


def test_plain_lines_one_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("DEBUG", secret=None)
    logging.getLogger("bot.test").debug("one\nevent")
    err = capsys.readouterr().err
    assert "DEBUG" in err and "bot.test: one" in err
