"""Logging set-up: one line per event, plain or JSON, and never the Discord token."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class RedactFilter(logging.Filter):
    """Replaces the token wherever it appears in a record's final message."""

    def __init__(self, secret: str | None) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secret:
            message = record.getMessage()
            if self.secret in message:
                record.msg = message.replace(self.secret, "[token]")
                record.args = None
            if record.exc_info and not record.exc_text:
                text = logging.Formatter().formatException(record.exc_info)
                record.exc_text = text.replace(self.secret, "[token]")
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", *, as_json: bool = False, secret: str | None = None) -> None:
    """Configure the root logger for the process (called once, by the entry point)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactFilter(secret))
    handler.setFormatter(
        JsonFormatter()
        if as_json
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
