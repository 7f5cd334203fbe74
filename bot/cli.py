"""The `paperboy` command line: run the bot, or work with the store directly."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

import aiohttp

from bot import __version__
from bot.config import Config, load_config
from bot.digest import newest_complete, render_text, select
from bot.errors import BackupError, ConfigError, QueryError, StoreError, without_userinfo
from bot.hf.source import HFSource
from bot.logs import setup_logging
from bot.models import ScrapeRun
from bot.query import author_query, combine, parse_query
from bot.scraper import DateOutcome, Scraper
from bot.store import SORTS, SQLiteStore, Store, make_store

EXIT_FAILURE, EXIT_USAGE = 1, 2
# A range of at least this many dates is scraped with its search rows analysed ahead, in a
# second process (bot.store.sqlite.ahead): worth its start from about a week of lists.
AHEAD_MIN_DATES = 7
MAX_LIMIT = 1000


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT} (got {value})")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; --config and --log-level work before or after the subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="TOML file")
    common.add_argument(
        "--log-level",
        default=argparse.SUPPRESS,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
    )
    parser = argparse.ArgumentParser(
        prog="paperboy",
        description="Hugging Face Daily Papers, delivered to Discord.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"paperboy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="run the Discord bot")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="check config, store and token, print what would be scheduled, and exit",
    )
    sub.add_parser("sync", parents=[common], help="sync slash commands with Discord and exit")

    scrape = sub.add_parser("scrape", parents=[common], help="fetch daily lists into the store")
    when = scrape.add_mutually_exclusive_group()
    when.add_argument("--date", type=_date, help="one list date (default: yesterday and today)")
    when.add_argument("--since", type=_date, help="first date of a range")
    scrape.add_argument("--until", type=_date, help="last date of the range (default: today)")

    search = sub.add_parser("search", parents=[common], help="search the stored papers")
    search.add_argument("query", help='words, "phrases", OR, -exclude, author:Name')
    search.add_argument("--limit", type=_limit, default=10, help=f"1 to {MAX_LIMIT} (default 10)")
    search.add_argument("--author")
    search.add_argument("--since", type=_date)
    search.add_argument("--until", type=_date)
    search.add_argument("--sort", choices=SORTS, default="relevance")
    search.add_argument("--json", action="store_true", help="one JSON object per line")

    digest = sub.add_parser("digest", parents=[common], help="print the digest for a list date")
    digest.add_argument("--date", type=_date, help="list date (default: newest complete list)")
    digest.add_argument("--top", type=int)

    sub.add_parser("status", parents=[common], help="what the store holds")
    sub.add_parser("doctor", parents=[common], help="check config, token, store and both services")
    sub.add_parser("invite-url", parents=[common], help="print the link that adds the bot")
    health = sub.add_parser("healthcheck", parents=[common], help="exit 0 if the bot is alive")
    health.add_argument("--max-age", type=int, default=180, help="seconds (default 180)")
    backup = sub.add_parser("backup", parents=[common], help="copy the store, even while running")
    backup.add_argument("path", help="where to write the copy")
    store = sub.add_parser("store", parents=[common], help="move the store to another backend")
    store_sub = store.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    copy = store_sub.add_parser(
        "copy", parents=[common], help="copy everything into another store, counts verified"
    )
    copy.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="postgresql://... or sqlite:///path (a path alone means SQLite)",
    )
    copy.add_argument("--force", action="store_true", help="replace a target that holds data")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `paperboy` console script."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as e:
        print(f"paperboy: config error: {e}", file=sys.stderr)
        return EXIT_USAGE
    level = getattr(args, "log_level", None) or config.logging.level
    quiet = args.command not in ("run", "sync") or getattr(args, "dry_run", False)
    setup_logging(
        "WARNING" if quiet and not getattr(args, "log_level", None) else level,
        as_json=config.logging.json,
        secret=config.discord.token,
    )
    if args.command == "run" and args.dry_run:
        return _dry_run(config)
    if args.command in ("run", "sync"):
        from bot.app import run_bot

        return run_bot(config, sync_only=args.command == "sync")
    handler = {
        "scrape": cmd_scrape,
        "search": cmd_search,
        "digest": cmd_digest,
        "doctor": cmd_doctor,
        "invite-url": cmd_invite_url,
        "backup": cmd_backup,
        "healthcheck": cmd_healthcheck,
        "store": cmd_store_copy,
    }.get(args.command, cmd_status)
    try:
        return asyncio.run(handler(config, args))
    except (StoreError, BackupError) as e:
        print(f"paperboy: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def _dry_run(config: Config) -> int:
    """`paperboy run --dry-run`: one line per thing a start would do; exit 1 on a problem."""
    import discord

    from bot import ops
    from bot.app import DiscordUnreachable

    if not config.discord.token:
        print(
            "paperboy: DISCORD_TOKEN is not set; export your bot token and try again",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        lines = asyncio.run(ops.dry_run(config))
    except (StoreError, DiscordUnreachable) as e:
        print(f"paperboy: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except discord.LoginFailure:
        print("paperboy: Discord rejected the token (401 Unauthorized)", file=sys.stderr)
        return EXIT_FAILURE
    print("\n".join(lines))
    return 0


async def _open_store(config: Config) -> Store:
    store = make_store(config.store.location)
    await store.open()
    return store


async def cmd_scrape(config: Config, args: argparse.Namespace) -> int:
    """Fetch one date, a range, or yesterday and today; exit 1 if any date failed."""
    today = datetime.now(UTC).date()
    if args.date:
        dates = [args.date]
    elif args.since:
        until = args.until or today
        if until < args.since:
            print("paperboy: --until is before --since", file=sys.stderr)
            return EXIT_USAGE
        dates = [args.since + timedelta(days=n) for n in range((until - args.since).days + 1)]
    else:
        dates = [today - timedelta(days=1), today]
    store = make_store(config.store.location)
    ahead = None
    if len(dates) >= AHEAD_MIN_DATES and isinstance(store, SQLiteStore):
        from bot.store.sqlite.ahead import IndexAhead

        try:
            ahead = IndexAhead()  # (before the store's threads start: it forks)
        except (OSError, ValueError) as e:  # no fork here, or no process to spare
            print(f"paperboy: analysing in one process ({e})", file=sys.stderr)
    try:
        await store.open()
    except BaseException:
        if ahead is not None:
            ahead.close()
        raise
    try:
        async with aiohttp.ClientSession() as session:
            prepare = ahead.prepare if ahead is not None else None
            scraper = Scraper(HFSource(session, config.huggingface), store, prepare=prepare)
            total = len(dates)
            counter = iter(range(1, total + 1))

            def report(outcome: DateOutcome) -> None:
                print(f"[{next(counter)}/{total}] {_outcome_line(outcome)}", flush=True)

            outcomes = await scraper.scrape_dates(dates, on_outcome=report)
    finally:
        await store.close()
        if ahead is not None:
            ahead.close()
    failed = [o for o in outcomes if not o.ok]
    found = sum(o.result.found for o in outcomes if o.result)
    new = sum(len(o.result.new) for o in outcomes if o.result)
    print(f"done: {len(dates)} dates, {found} papers found, {new} new, {len(failed)} failed")
    return 1 if failed else 0


def _outcome_line(outcome: DateOutcome) -> str:
    day = outcome.list_date.isoformat()
    if outcome.error:
        return f"{day}: ERROR {outcome.error}"
    assert outcome.result is not None
    r = outcome.result
    note = ""
    if outcome.served and outcome.served != outcome.list_date:
        note = f" (HF served {outcome.served.isoformat()} instead: no list that day)"
    return f"{day}: {r.found} found, {len(r.new)} new, {r.updated} updated{note}"


async def cmd_search(config: Config, args: argparse.Namespace) -> int:
    """Search the store and print a table, or JSON lines."""
    try:
        query = parse_query(args.query)
        if args.author:
            query = combine(query, author_query(args.author))
        store = await _open_store(config)
        try:
            page = await store.search(
                query, since=args.since, until=args.until, sort=args.sort, limit=args.limit
            )
        finally:
            await store.close()
    except QueryError as e:
        print(f"paperboy: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        for hit in page.hits:
            p = hit.listing.paper
            record = {
                "id": p.id,
                "title": p.title,
                "upvotes": p.upvotes,
                "list_date": hit.listing.list_date.isoformat() if hit.listing.list_date else None,
                "url": p.hf_url,
                "authors": list(p.authors),
                "snippet": hit.snippet.text,
                "highlights": [list(span) for span in hit.snippet.spans],
            }
            print(json.dumps(record, ensure_ascii=False))
        return 0
    if not page.hits:
        print(f"No papers match {str(query)!r}. Try fewer words or drop a filter.")
        return 0
    count = f"{page.total:,}+" if page.capped else f"{page.total:,}"
    print(f"{count} papers match; showing {len(page.hits)}")
    print(f"{'date':10}  {'votes':>5}  {'id':<10}  title")
    for hit in page.hits:
        p = hit.listing.paper
        day = hit.listing.list_date.isoformat() if hit.listing.list_date else "-"
        title = p.title if len(p.title) <= 80 else p.title[:79] + "…"
        print(f"{day:10}  {p.upvotes:>5}  {p.id:<10}  {title}")
    return 0


async def cmd_digest(config: Config, args: argparse.Namespace) -> int:
    """Print what a channel would get for a list date."""
    top = args.top or config.digest.top
    store = await _open_store(config)
    try:
        day = args.date
        if day is None:
            dates = await store.list_dates()
            day = newest_complete(dates, datetime.now(UTC), config.digest.complete_after_hours)
            if day is None:
                print("paperboy: no complete daily list stored yet; run `paperboy scrape`")
                return 1
        selection = select(await store.day_listing(day), top=top)
    finally:
        await store.close()
    if selection is None:
        print(f"paperboy: no papers stored for {day.isoformat()}", file=sys.stderr)
        return 1
    print(render_text(selection), end="")
    return 0


async def cmd_status(config: Config, args: argparse.Namespace) -> int:
    """Papers stored, dates covered, last scrape, store path and size; the bot processes."""
    from bot.cluster import process_lines

    store = await _open_store(config)
    try:
        stats = await store.stats()
        processes = await store.cluster_processes()
    finally:
        await store.close()
    covered = (
        f"{stats.first_date} .. {stats.newest_date} ({stats.list_dates} lists)"
        if stats.first_date
        else "none"
    )
    print(f"store:           {stats.location} ({stats.size_bytes / 1024:,.0f} KiB)")
    print(f"papers:          {stats.papers:,}")
    print(f"dates covered:   {covered}")
    print(f"last scrape:     {_run_line(stats.last_scrape)}")
    print(f"last success:    {_run_line(stats.last_success)}")
    lines = process_lines(processes)
    print(f"processes:       {lines[0] if lines else 'none running'}")
    for line in lines[1:]:
        print(f"                 {line}")
    return 0


def _run_line(run: ScrapeRun | None) -> str:
    if run is None:
        return "never"
    when = run.finished_at.isoformat(timespec="seconds")
    if run.ok:
        return f"{when} ({run.list_date}: {run.found} found, {run.new} new)"
    return f"{when} ({run.list_date}: failed: {run.error})"


async def cmd_doctor(config: Config, args: argparse.Namespace) -> int:
    """A pass/fail line per check; exit 1 if any failed."""
    from bot import ops

    checks = await ops.doctor(config)
    for check in checks:
        print(check.line())
    return 0 if all(c.ok for c in checks) else 1


async def cmd_invite_url(config: Config, args: argparse.Namespace) -> int:
    """The OAuth2 invite link (asks Discord for the application id with the token)."""
    import discord

    from bot import ops

    if not config.discord.token:
        print("paperboy: DISCORD_TOKEN is not set", file=sys.stderr)
        return EXIT_USAGE
    try:
        print(await ops.invite_url(config))
    except discord.LoginFailure:
        print("paperboy: Discord rejected the token (401 Unauthorized)", file=sys.stderr)
        return 1
    return 0


async def cmd_backup(config: Config, args: argparse.Namespace) -> int:
    """An online, consistent copy of the store."""
    from bot import ops

    target, size = await ops.backup(config, args.path)
    print(f"backed up {config.store.shown} to {target} ({size / 1024:,.0f} KiB)")
    return 0


async def cmd_store_copy(config: Config, args: argparse.Namespace) -> int:
    """Copy the configured store into another (SQLite <-> PostgreSQL) with a progress bar."""
    from bot.store.copy import copy_store

    if args.to == config.store.location:
        print("paperboy: --to is the configured store itself", file=sys.stderr)
        return EXIT_USAGE
    source = await _open_store(config)
    try:
        target = make_store(args.to)
        await target.open()
        try:
            copied = await copy_store(source, target, force=args.force, progress=_progress())
        finally:
            await target.close()
    finally:
        await source.close()
    rows = sum(copied.values())
    shown = without_userinfo(args.to)
    print(f"copied {rows:,} rows in {len(copied)} tables to {shown}; counts verified")
    return 0


def _progress() -> Callable[[str, int, int], None]:
    """A progress bar on stderr: redrawn in place on a terminal, a line per table elsewhere."""
    tty = sys.stderr.isatty()

    def show(table: str, done: int, total: int) -> None:
        width = 30
        filled = width * done // total if total else width
        bar = f"{table:<22} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}"
        if tty:
            print(f"\r{bar}", end="\n" if done >= total else "", file=sys.stderr, flush=True)
        elif done >= total:
            print(bar, file=sys.stderr)

    return show


async def cmd_healthcheck(config: Config, args: argparse.Namespace) -> int:
    """For container health checks: is the heartbeat of the bot on this host recent?"""
    from bot.client import heartbeat_key

    store = await _open_store(config)
    try:
        beat = await store.get_meta(heartbeat_key())
    finally:
        await store.close()
    if beat is None:
        print("unhealthy: no heartbeat yet")
        return 1
    age = (datetime.now(UTC) - datetime.fromisoformat(beat)).total_seconds()
    if age > args.max_age:
        print(f"unhealthy: last heartbeat {age:.0f} s ago")
        return 1
    print(f"healthy: last heartbeat {age:.0f} s ago")
    return 0
