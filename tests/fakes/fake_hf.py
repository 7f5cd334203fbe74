"""A fake Hugging Face Daily Papers server (API and HTML) on 127.0.0.1, for offline tests.

Usage::

    async with FakeHF() as fake:  # serves tests/data/seed_days.json
        url = f"{fake.base_url}/api/daily_papers?date=2025-01-07&limit=100"
        fake.inject("/api/daily_papers", 429, headers={"Retry-After": "1"})

Routes mirror the real site (see shared/docs/hf-source.md): ``/api/daily_papers``,
``/api/papers/{id}``, ``/papers/date/{date}`` and the older ``/papers?date=``.
"""

from __future__ import annotations

import asyncio
import copy
import html
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

from aiohttp import web
from multidict import CIMultiDict

SEED_PATH = Path(__file__).resolve().parent.parent / "data" / "seed_days.json"
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
RATE_LIMIT_BODY = (
    "We had to rate limit your IP (127.0.0.1). To continue using our service, create a HF "
    "account or login to your existing account, and make sure you pass a HF_TOKEN if you're "
    "using the API."
)
LINKED_FIELDS: dict[str, Any] = {
    "linkedModels": [],
    "numTotalModels": 0,
    "linkedDatasets": [],
    "numTotalDatasets": 0,
    "linkedSpaces": [],
    "numTotalSpaces": 0,
}

Item = dict[str, Any]
Days = dict[str, list[Item]]
HtmlVariant = Literal["normal", "cards_only", "changed"]
ApiVariant = Literal["normal", "wrong_shape", "missing_keys"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@cache
def _seed_text() -> str:
    """Read the seed JSON once per process; callers always get freshly parsed copies."""
    return SEED_PATH.read_text("utf-8")


def load_seed_days() -> Days:
    """Return a fresh copy of the seed lists: {"YYYY-MM-DD": [daily_papers item, ...]}."""
    days: Days = json.loads(_seed_text())
    return days


def parse_day(value: str) -> date | None:
    """Parse a strict YYYY-MM-DD date, or return None if it is not one."""
    if not DATE_RE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, for assertions on what the client sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]


@dataclass
class _Fault:
    """A canned error response for requests whose path starts with a prefix."""

    path_prefix: str
    status: int
    headers: dict[str, str]
    body: str | bytes | list[Any] | dict[str, Any] | None
    remaining: int


@dataclass
class _Delay:
    """A pause before answering requests whose path starts with a prefix."""

    path_prefix: str
    seconds: float
    remaining: int


@dataclass
class _Stream:
    """A large 200 body, streamed in chunks, for requests whose path starts with a prefix."""

    path_prefix: str
    size: int
    content_length: bool  # announce the size, or send it chunked without a Content-Length
    remaining: int


class FakeHF:
    """Fake huggingface.co serving Daily Papers lists from ``days``, with fault injection."""

    def __init__(self, days: Days | None = None) -> None:
        self.days: Days = load_seed_days() if days is None else days
        self.requests: list[RecordedRequest] = []
        self.html_variant: HtmlVariant = "normal"
        self.api_variant: ApiVariant = "normal"
        self.served_date_override: dict[str, str] = {}
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._streams: list[_Stream] = []
        self.streamed: list[int] = []  # bytes each large body got out before it ended
        self._stream_ended = asyncio.Condition()
        self._html_redirects: dict[str, str] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = asyncio.Event()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving on 127.0.0.1 at a free port."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/daily_papers", self._api_daily_papers)
        app.router.add_get("/api/papers/{paper_id}", self._api_paper)
        app.router.add_get("/papers/date/{day}", self._html_day)
        app.router.add_get("/papers", self._html_papers)
        self._closing.clear()
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop the server, cutting short any injected delays."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._port = None

    async def __aenter__(self) -> FakeHF:
        """Start the server for an ``async with`` block."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server at the end of an ``async with`` block."""
        await self.close()

    @property
    def base_url(self) -> str:
        """Return the server's root URL, e.g. ``http://127.0.0.1:54321``."""
        if self._port is None:
            raise RuntimeError("FakeHF is not started")
        return f"http://127.0.0.1:{self._port}"

    # ------------------------------------------------------------ test controls

    @classmethod
    def serving(cls, day: str, items: list[Item]) -> FakeHF:
        """A fake whose only list is `items`, submitted on `day` (as `set_day` dates them)."""
        fake = cls({})
        fake.set_day(day, items)
        return fake

    def set_day(self, day: str, items: list[Item], *, keep_dates: bool = False) -> None:
        """Set (or replace) the list for one date; an empty list means "no papers".

        As on HF, a day's items are submitted that day: each item's ``submittedOnDailyAt``
        is moved to ``day`` (in a copy of the item), unless ``keep_dates`` (a list that
        spans two days, as HF's "latest" list can)."""
        if parse_day(day) is None:
            raise ValueError(f"not a YYYY-MM-DD date: {day!r}")
        self.days[day] = items if keep_dates else [_dated(item, day) for item in items]

    def latest_day(self) -> str | None:
        """Return the newest date that has papers, where HF redirects empty dates."""
        return max((d for d, items in self.days.items() if items), default=None)

    def find_paper(self, paper_id: str) -> Item | None:
        """Return the list item of a paper on its newest list date, if any."""
        for day in sorted(self.days, reverse=True):
            for item in self.days[day]:
                if item.get("paper", {}).get("id") == paper_id:
                    return item
        return None

    def update_paper(self, paper_id: str, **fields: Any) -> int:
        """Change a paper on every list that has it, as HF does between polls (upvotes grow,
        AI keywords and a GitHub repository arrive). Keys are the API's (``upvotes``,
        ``ai_keywords``, ``githubRepo``, ``numComments``...); None removes the key, as HF
        drops a field. Returns how many list items changed."""
        changed = 0
        for items in self.days.values():
            for item in items:
                paper = item.get("paper", {})
                if paper.get("id") != paper_id:
                    continue
                for key, value in fields.items():
                    where = item if key == "numComments" else paper
                    if value is None:
                        where.pop(key, None)
                    else:
                        where[key] = value
                changed += 1
        return changed

    def inject(
        self,
        path_prefix: str,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: str | bytes | list[Any] | dict[str, Any] | None = None,
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` requests under ``path_prefix`` with an error status."""
        self._faults.append(_Fault(path_prefix, status, dict(headers or {}), body, count))

    def inject_rate_limit(
        self, path_prefix: str, *, reset: int = 1, retry_after: bool = True, count: int = 1
    ) -> None:
        """Answer with HF-style 429s: ``RateLimit`` headers and optionally ``Retry-After``."""
        bucket = "api" if path_prefix.startswith("/api") else "pages"
        headers = {
            "RateLimit": f'"{bucket}";r=0;t={reset}',
            "RateLimit-Policy": f'"fixed window";"{bucket}";q=500;w=300',
        }
        if retry_after:
            headers["Retry-After"] = str(reset)
        self.inject(path_prefix, 429, headers=headers, body=RATE_LIMIT_BODY, count=count)

    def inject_large_body(
        self, path_prefix: str, size: int, *, content_length: bool = False, count: int = 1
    ) -> None:
        """Answer the next ``count`` requests under ``path_prefix`` with a 200 of ``size``
        bytes (chunked unless ``content_length``); ``streamed`` records how much got out."""
        self._streams.append(_Stream(path_prefix, size, content_length, count))

    async def wait_for_streams(self, count: int, timeout: float = 10) -> list[int]:
        """Wait until ``count`` large bodies have ended; return ``streamed``."""
        async with asyncio.timeout(timeout), self._stream_ended:
            await self._stream_ended.wait_for(lambda: len(self.streamed) >= count)
        return self.streamed

    def inject_delay(self, path_prefix: str, seconds: float, count: int = 1) -> None:
        """Make the next ``count`` requests under ``path_prefix`` wait before answering."""
        self._delays.append(_Delay(path_prefix, seconds, count))

    def redirect_html(self, day: str, to_day: str) -> None:
        """Make the HTML page of ``day`` redirect to ``to_day`` (a wrong-date redirect)."""
        self._html_redirects[day] = to_day

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        """Return the recorded requests whose path starts with ``path_prefix``."""
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    # ------------------------------------------------------------ plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record the request, then apply any injected delay or fault before the handler."""
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=CIMultiDict(request.headers),
            )
        )
        delay = _take(self._delays, request.path)
        if delay is not None:
            try:
                await asyncio.wait_for(self._closing.wait(), timeout=delay.seconds)
            except TimeoutError:
                pass
        fault = _take(self._faults, request.path)
        if fault is not None:
            return _fault_response(fault)
        stream = _take(self._streams, request.path)
        if stream is not None:
            return await self._stream_body(request, stream)
        return await handler(request)

    async def _stream_body(self, request: web.Request, stream: _Stream) -> web.StreamResponse:
        """Send ``stream.size`` bytes of JSON-ish filler until done or the client hangs up."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if stream.content_length:
            response.content_length = stream.size
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"[" + b" " * (256 * 1024 - 1)
        sent = 0
        try:
            while sent < stream.size:
                piece = chunk[: stream.size - sent]
                await response.write(piece)
                sent += len(piece)
            await response.write_eof()
        except ConnectionError:
            pass  # the client stopped reading: what it refused is the point of the test
        finally:
            async with self._stream_ended:
                self.streamed.append(sent)
                self._stream_ended.notify_all()
        return response

    # ------------------------------------------------------------ API routes

    async def _api_daily_papers(self, request: web.Request) -> web.Response:
        """Serve ``GET /api/daily_papers?date=&limit=&p=`` as a JSON array page."""
        day = request.query.get("date") or self.latest_day() or ""
        if parse_day(day) is None:
            return _json_error(400, f"Invalid date: {day!r} (expected YYYY-MM-DD)")
        limit = _int_param(request, "limit", DEFAULT_LIMIT)
        page = _int_param(request, "p", 0)
        if limit is None or limit < 1 or page is None or page < 0:
            return _json_error(400, "limit must be 1..100 and p a non-negative integer")
        limit = min(limit, MAX_LIMIT)
        items = self.days.get(day, [])[page * limit : (page + 1) * limit]
        return web.json_response(self._api_shape(items))

    def _api_shape(self, items: list[Item]) -> Any:
        """Apply ``api_variant`` to a page of items."""
        if self.api_variant == "wrong_shape":
            return {"papers": items}
        if self.api_variant == "missing_keys":
            return [_strip_keys(item, index) for index, item in enumerate(items)]
        return items

    async def _api_paper(self, request: web.Request) -> web.Response:
        """Serve ``GET /api/papers/{id}``: the paper object plus the linked-repo fields."""
        item = self.find_paper(request.match_info["paper_id"])
        if item is None:
            return _json_error(404, "Paper not found")
        return web.json_response({**copy.deepcopy(item["paper"]), **copy.deepcopy(LINKED_FIELDS)})

    # ------------------------------------------------------------ HTML routes

    async def _html_day(self, request: web.Request) -> web.Response:
        """Serve ``/papers/date/{day}``; dates without papers redirect to the latest list."""
        day = request.match_info["day"]
        if parse_day(day) is None:
            return _html_not_found()
        if day in self._html_redirects:
            raise web.HTTPFound(f"/papers/date/{self._html_redirects[day]}")
        if not self.days.get(day):
            latest = self.latest_day()
            if latest is None:
                return _html_not_found()
            raise web.HTTPFound(f"/papers/date/{latest}")
        return self._html_page(day)

    async def _html_papers(self, request: web.Request) -> web.Response:
        """Serve the older ``/papers?date=``: an empty date shows the latest list instead."""
        requested = request.query.get("date", "")
        day = requested if self.days.get(requested) else self.latest_day()
        if day is None:
            return _html_not_found()
        return self._html_page(day)

    def _html_page(self, day: str) -> web.Response:
        """Render one day's list page in the current ``html_variant``."""
        served = self.served_date_override.get(day, day)
        items = self.days[day]
        if self.html_variant == "changed":
            body = render_changed_page(served, items)
        else:
            body = render_list_page(served, items, hydrater=self.html_variant == "normal")
        return web.Response(text=body, content_type="text/html", charset="utf-8")


# ---------------------------------------------------------------- helpers

_Pending = TypeVar("_Pending", _Fault, _Delay, _Stream)
_KNOWN_STATUSES = {status.value for status in HTTPStatus}


def _take(entries: list[_Pending], path: str) -> _Pending | None:
    """Use up one count of the first entry whose prefix matches ``path``, if any."""
    for entry in entries:
        if entry.remaining > 0 and path.startswith(entry.path_prefix):
            entry.remaining -= 1
            if entry.remaining == 0:
                entries.remove(entry)
            return entry
    return None


def _fault_response(fault: _Fault) -> web.Response:
    """Build the response for an injected fault (JSON error body by default)."""
    headers = CIMultiDict(fault.headers)
    if isinstance(fault.body, list | dict):
        return web.json_response(fault.body, status=fault.status, headers=headers)
    if fault.body is None:
        reason = HTTPStatus(fault.status).phrase if fault.status in _KNOWN_STATUSES else "Error"
        return web.json_response({"error": reason}, status=fault.status, headers=headers)
    if isinstance(fault.body, bytes):
        return web.Response(body=fault.body, status=fault.status, headers=headers)
    return web.Response(text=fault.body, status=fault.status, headers=headers)


def _json_error(status: int, message: str) -> web.Response:
    """Build an HF-style JSON error."""
    return web.json_response({"error": message}, status=status)


def _html_not_found() -> web.Response:
    """Build a plain HTML 404 page."""
    return web.Response(text="<h1>404</h1>", status=404, content_type="text/html")


def _int_param(request: web.Request, name: str, default: int) -> int | None:
    """Read an integer query parameter; None if present but not an integer."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def _dated(item: Item, day: str) -> Item:
    """A copy of a list item submitted on ``day`` (its time of day kept); others as given."""
    paper = item.get("paper") if isinstance(item, dict) else None
    if not isinstance(paper, dict) or not isinstance(paper.get("submittedOnDailyAt"), str):
        return item
    when = paper["submittedOnDailyAt"]
    return {**item, "paper": {**paper, "submittedOnDailyAt": day + when[10:]}}


def _strip_keys(item: Item, index: int) -> Item:
    """Damage an item for ``missing_keys``: even ones lose "paper", odd ones lose "paper.id"."""
    damaged = copy.deepcopy(item)
    if index % 2 == 0:
        damaged.pop("paper", None)
    else:
        damaged.get("paper", {}).pop("id", None)
    return damaged


# ---------------------------------------------------------------- HTML rendering


def _esc(text: object) -> str:
    """Escape text or an attribute value for HTML."""
    return html.escape(str(text), quote=True)


def _flat(text: str) -> str:
    """Collapse arXiv hard wraps as the rendered card does."""
    return " ".join(text.split())


def _submitter(item: Item) -> tuple[str, str]:
    """Return the submitter's username and avatar URL."""
    who = item.get("submittedBy") or item.get("paper", {}).get("submittedOnDailyBy") or {}
    return str(who.get("user") or who.get("name") or ""), str(who.get("avatarUrl") or "")


def render_card(item: Item) -> str:
    """Render one ``<article>`` card in the 2025 list-page markup."""
    paper = item["paper"]
    paper_id = _esc(paper["id"])
    user, avatar = _submitter(item)
    return f"""      <article class="relative flex flex-col overflow-hidden rounded-xl border">
       <a href="/papers/{paper_id}" class="shadow-alternate-sm peer relative block h-56 w-full cursor-pointer overflow-hidden rounded-xl bg-white md:h-64">
        <img src="{_esc(item.get("thumbnail", ""))}" alt="" class="h-full w-full object-cover object-top opacity-80"/>
       </a>
       <div class="shadow-xs pointer-events-none absolute right-2 top-56 -mt-8 flex h-6 items-center gap-1 self-end whitespace-nowrap rounded-md border bg-white px-2 text-xs leading-none text-gray-700">
        Submitted by<img alt="" class="size-2.5 rounded-full" src="{_esc(avatar)}"/> {_esc(user)}
       </div>
       <div class="from-gray-50-to-white bg-linear-to-b -mt-2 flex px-6 pb-6 pt-8">
        <div class="flex flex-col items-center gap-1 pr-3">
         <div class="shadow-alternate flex h-14 w-12 flex-col items-center justify-center rounded-lg border bg-white">
          <div class="leading-none">{int(paper.get("upvotes") or 0)}</div>
         </div>
        </div>
        <div class="w-full">
         <h3 class="mb-1 text-lg font-semibold leading-[1.2] hover:underline peer-hover:underline md:text-2xl">
          <a href="/papers/{paper_id}" class="line-clamp-3 cursor-pointer text-balance">{_esc(_flat(paper["title"]))}</a>
         </h3>
         <div class="flex items-center justify-between">
          <div class="flex truncate text-sm text-gray-500">· {len(paper.get("authors", []))} authors</div>
          <a href="/papers/{paper_id}#community" class="flex items-center rounded-md px-2 py-1 hover:bg-gray-50">{int(item.get("numComments") or 0)}</a>
         </div>
        </div>
       </div>
      </article>
"""  # noqa: E501


def _neighbour_weekdays(day: str) -> tuple[str, str]:
    """Return the previous and next weekdays, for the page's Previous/Next links."""
    current = date.fromisoformat(day)
    before, after = current - timedelta(days=1), current + timedelta(days=1)
    while before.weekday() >= 5:
        before -= timedelta(days=1)
    while after.weekday() >= 5:
        after += timedelta(days=1)
    return before.isoformat(), after.isoformat()


def _head(day: str) -> str:
    """Render the document head with the canonical URL of the served date."""
    url = f"https://huggingface.co/papers/date/{day}"
    return f"""<!DOCTYPE html>
<html class="">
 <head>
  <meta charset="utf-8"/>
  <title>Daily Papers - Hugging Face</title>
  <meta property="og:url" content="{url}"/>
  <link rel="canonical" href="{url}"/>
 </head>
 <body class="flex flex-col min-h-dvh bg-white dark:bg-gray-950 text-black DailyPapersPage">
  <div class="flex min-h-dvh flex-col">
   <div class="SVELTE_HYDRATER contents" data-target="MainHeader" data-props="{{&quot;isPro&quot;:false}}"><header class="border-b"><nav><a href="/papers">Papers</a></nav></header></div>
   <main class="flex flex-1 flex-col">
"""  # noqa: E501


_TAIL = """   </main>
  </div>
 </body>
</html>
"""


def _section(day: str, items: list[Item]) -> str:
    """Render the visible list: header with date navigation, then the cards."""
    current = date.fromisoformat(day)
    previous, following = _neighbour_weekdays(day)
    week = current.isocalendar()
    cards = "".join(render_card(item) for item in items)
    return f"""     <section class="container relative mb-20 mt-8 md:mt-14">
      <div class="mb-12 flex flex-wrap items-center gap-4">
       <h1 class="text-2xl font-bold md:text-3xl">Daily Papers</h1>
       <div class="flex items-center gap-2">
        <a href="/papers/date/{previous}" class="btn">Previous</a>
        <time datetime="{day}"><span>{current.strftime("%b")}</span> <span>{current.day}</span></time>
        <a href="/papers/date/{following}" class="btn">Next</a>
       </div>
       <a href="/papers/week/{week.year}-W{week.week:02d}">Weekly</a> <a href="/papers/month/{day[:7]}">Monthly</a> <a href="/papers/trending">Trending</a>
      </div>
      <div class="relative grid grid-cols-1 gap-14 lg:grid-cols-2">
{cards}      </div>
     </section>
"""  # noqa: E501


def render_list_page(day: str, items: list[Item], *, hydrater: bool = True) -> str:
    """Render a Daily Papers list page; ``hydrater=False`` leaves only the cards."""
    section = _section(day, items)
    if not hydrater:
        return _head(day) + section + _TAIL
    props = {"dailyPapers": items, "dateString": day, "periodType": "day"}
    data = html.escape(json.dumps(props, ensure_ascii=False, separators=(",", ":")), quote=True)
    attrs = f'class="SVELTE_HYDRATER contents" data-target="DailyPapers" data-props="{data}"'
    hydrater_div = f"    <div {attrs}>\n{section}    </div>\n"
    return _head(day) + hydrater_div + _TAIL


def render_changed_page(day: str, items: list[Item]) -> str:
    """Render a redesigned page: titles still visible, but no hydrater and no article cards."""
    rows = "".join(
        f'      <li class="paper-row"><a href="/papers/{_esc(item["paper"]["id"])}">'
        f"{_esc(_flat(item['paper']['title']))}</a></li>\n"
        for item in items
    )
    return (
        _head(day)
        + '    <div class="papers-feed" data-view="list">\n     <h1>Daily Papers</h1>\n'
        + f'     <p class="feed-date">{_esc(day)}</p>\n     <ul>\n{rows}     </ul>\n    </div>\n'
        + _TAIL
    )
