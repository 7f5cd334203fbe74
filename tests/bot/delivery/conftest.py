"""Delivery unit tests: the services with an in-memory courier and a real temporary store."""

from __future__ import annotations

import pytest

from tests.bot.delivery.support import Clock, HealthLog


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def health() -> HealthLog:
    return HealthLog()
