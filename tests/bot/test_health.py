from datetime import UTC, datetime

from bot.health import Health

NOW = datetime(2025, 1, 8, tzinfo=UTC)


def test_only_transitions_are_news() -> None:
    health = Health()
    started = health.report("scraper", "HF is down", now=NOW)
    assert started is not None and started.started
    assert health.report("scraper", "HF is still down", now=NOW) is None
    assert health.report("other", None, now=NOW) is None
    cleared = health.report("scraper", None, now=NOW)
    assert cleared is not None and not cleared.started and cleared.problem.message == "HF is down"
    assert health.active() == []


def test_problems_per_server_and_global() -> None:
    health = Health()
    health.report("scraper", "down", now=NOW)
    health.report("digest:1", "gone", now=NOW, guild_id=10)
    health.report("digest:2", "gone", now=NOW, guild_id=20)
    assert [p.key for p in health.active(10)] == ["scraper", "digest:1"]
    assert [p.key for p in health.active(None)] == ["scraper"]
