"""Logging set-up: one line per event, plain or JSON, and never a Discord token."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

# Interaction tokens let whoever holds them answer as the bot for 15 minutes. discord.py
# logs them at DEBUG in request URLs and in gateway payloads (JSON, or a dict's repr).
_INTERACTION_SECRETS = (
    re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/?#\s'\"]+"),
    re.compile(r"(\"token\"\s*:\s*\")(?:[^\"\\]|\\.)*(?=\")"),
    re.compile(r"('token'\s*:\s*')(?:[^'\\]|\\.)*(?=')"),
)


def redact(text: str, secret: str | None = None) -> str:
    """`text` without the bot token and without interaction and webhook tokens."""
    if secret:
        text = text.replace(secret, "[token]")
    for pattern in _INTERACTION_SECRETS:
        text = pattern.sub(r"\1[token]", text)
    return text


class RedactFilter(logging.Filter):
    """Replaces the bot token and interaction tokens in a record's message and traceback."""

    def __init__(self, secret: str | None) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message, self.secret)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text, self.secret)
        return True


class NoVoiceFilter(logging.Filter):
    """Drops discord.py's start-up warnings that voice support is missing (PyNaCl, davey):
    paperboy never joins a voice channel, so they only alarm whoever reads the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno == logging.WARNING
            and isinstance(record.msg, str)
            and record.msg.endswith("voice will NOT be supported")
        )


VOICE_WARNING_LOGGER = "discord.client"  # where discord.Client.__init__ logs them


def silence_voice_warnings() -> None:
    """Install NoVoiceFilter on the one logger that warns about voice (once)."""
    logger = logging.getLogger(VOICE_WARNING_LOGGER)
    if not any(isinstance(f, NoVoiceFilter) for f in logger.filters):
        logger.addFilter(NoVoiceFilter())


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
    silence_voice_warnings()
    root.setLevel(level.upper())
