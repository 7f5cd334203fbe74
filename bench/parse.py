"""Benchmark: parsing a ~1 MB daily-list page, ours (selectolax lexbor) vs. BeautifulSoup.

The page is the synthetic fixture tests/data/daily_list_2025-10-01.synthetic.html with its
DailyPapers `data-props` (JSON, `&quot;`-escaped as on the live site) and its `<article>`
cards refilled with seed items under fresh ids until the page reaches the wanted size.

The BeautifulSoup parse does what typical existing Hugging Face scrapers do: build the whole
soup with "html.parser", find the div with data-target=DailyPapers, json.loads its
data-props, then (to compare like with like) build Papers with bot.hf.parse.parse_items.
Both parsers must produce identical Papers. bs4 with "lxml" is timed too if lxml happens to
be installed.

    .venv/bin/python -m bench.parse [--size-mb 1.0] [--rounds 21]
"""

from __future__ import annotations

import argparse
import gc
import html
import json
import re
import statistics
import time
from collections.abc import Callable
from datetime import date
from importlib.util import find_spec
from typing import Any

from bs4 import BeautifulSoup
from selectolax.lexbor import LexborHTMLParser

from bench.corpus import LIST_PAGE_TEMPLATE, unique_items
from bot.hf.parse import parse_items, parse_list_html
from bot.models import Paper

LIST_DATE = date(2025, 10, 1)
OURS = "ours: parse_list_html (lexbor)"
BS4 = 'bs4 "html.parser"'
HTML_OURS = "lexbor parse + select + attribute"
HTML_BS4 = "bs4 parse + find + attribute"
MB = 1_000_000  # bytes

# One card, as in the fixture (the public scrapers' class names).
CARD = """      <article class="relative flex flex-col overflow-hidden rounded-xl border">
       <a href="/papers/{id}" class="shadow-alternate-sm peer relative block h-56 w-full cursor-pointer overflow-hidden rounded-xl bg-white md:h-64">
        <img src="{thumbnail}" alt="" class="h-full w-full object-cover object-top opacity-80"/>
       </a>
       <div class="shadow-xs pointer-events-none absolute right-2 top-56 -mt-8 flex h-6 items-center gap-1 self-end whitespace-nowrap rounded-md border bg-white px-2 text-xs leading-none text-gray-700">
        Submitted by<img alt="" class="size-2.5 rounded-full" src="{avatar}"/> {submitter}
       </div>
       <div class="from-gray-50-to-white bg-linear-to-b -mt-2 flex px-6 pb-6 pt-8">
        <div class="flex flex-col items-center gap-1 pr-3">
         <div class="shadow-alternate flex h-14 w-12 flex-col items-center justify-center rounded-lg border bg-white">
          <div class="leading-none">{upvotes}</div>
         </div>
        </div>
        <div class="w-full">
         <h3 class="mb-1 text-lg font-semibold leading-[1.2] hover:underline peer-hover:underline md:text-2xl">
          <a href="/papers/{id}" class="line-clamp-3 cursor-pointer text-balance">{title}</a>
         </h3>
         <div class="flex items-center justify-between">
          <div class="flex truncate text-sm text-gray-500">· {n_authors} authors</div>
          <a href="/papers/{id}#community" class="flex items-center rounded-md px-2 py-1 hover:bg-gray-50">{comments}</a>
         </div>
        </div>
       </div>
      </article>
"""  # noqa: E501
_PROPS = re.compile(r'(data-target="DailyPapers" data-props=")([^"]*)(")')
_CARDS = re.compile(r"(<div class=\"relative grid[^>]*>\n)(.*</article>\n)", re.DOTALL)


def escape_attribute(text: str) -> str:
    """Escape a double-quoted attribute value the way the live page does (&quot; etc.)."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def card(item: dict[str, Any]) -> str:
    paper = item["paper"]
    submitter = paper.get("submittedOnDailyBy") or {}
    return CARD.format(
        id=paper["id"],
        thumbnail=html.escape(item.get("thumbnail") or ""),
        avatar=html.escape(submitter.get("avatarUrl") or ""),
        submitter=html.escape(submitter.get("user") or ""),
        upvotes=paper.get("upvotes", 0),
        title=html.escape(" ".join(paper["title"].split())),
        n_authors=len(paper.get("authors") or ()),
        comments=item.get("numComments", 0),
    )


def build_page(target_bytes: int) -> tuple[str, int]:
    """The fixture refilled with enough items to reach `target_bytes`; (page, item count)."""
    template = LIST_PAGE_TEMPLATE.read_text(encoding="utf-8")
    props_match = _PROPS.search(template)
    if props_match is None or not _CARDS.search(template):
        raise SystemExit(f"no DailyPapers data-props or <article> cards in {LIST_PAGE_TEMPLATE}")
    props = json.loads(html.unescape(props_match.group(2)))

    def render(items: list[dict[str, Any]]) -> str:
        props["dailyPapers"] = items
        data_props = escape_attribute(json.dumps(props, ensure_ascii=False, separators=(",", ":")))
        page = _PROPS.sub(lambda m: m.group(1) + data_props + m.group(3), template, count=1)
        cards = "".join(card(i) for i in items)
        return _CARDS.sub(lambda m: m.group(1) + cards, page, count=1)

    # Add items (JSON plus card) until the page reaches the target.
    items: list[dict[str, Any]] = []
    size = len(render([]).encode())
    while size < target_bytes:
        (item,) = unique_items(1, first_index=len(items))
        items.append(item)
        encoded = escape_attribute(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
        size += len(encoded.encode()) + len(card(item).encode()) + (len(items) > 1)
    page = render(items)
    assert len(page.encode()) == size, "size bookkeeping is off"
    return page, len(items)


def parse_ours(page: str) -> list[Paper]:
    return list(parse_list_html(page, LIST_DATE).papers)


def parse_bs4(page: str, features: str) -> list[Paper]:
    """What typical HF scrapers do: the whole soup, then the DailyPapers JSON."""
    soup = BeautifulSoup(page, features)
    hydrater = soup.find("div", attrs={"data-target": "DailyPapers"})
    if hydrater is None:
        raise AssertionError("bs4 found no DailyPapers div")
    props = json.loads(str(hydrater["data-props"]))
    return parse_items(props["dailyPapers"], "DailyPapers")


def bs4_props(page: str) -> str:
    """Just the HTML part of the bs4 parse."""
    hydrater = BeautifulSoup(page, "html.parser").find("div", attrs={"data-target": "DailyPapers"})
    assert hydrater is not None
    return str(hydrater["data-props"])


def lexbor_props(page: str) -> str:
    """Just the HTML part of ours: parse, select the div, read (unescape) the attribute."""
    tree = LexborHTMLParser(page)
    node = tree.css_first('div.SVELTE_HYDRATER[data-target="DailyPapers"]')
    assert node is not None
    return node.attributes["data-props"] or ""


def timed(fn: Callable[[], object]) -> float:
    """Milliseconds for one call, after a collection so garbage from before is not billed."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=1.0, help="page size in MB (10^6 B)")
    parser.add_argument("--rounds", type=int, default=21, help="timed rounds (median reported)")
    args = parser.parse_args()

    page, n_items = build_page(int(args.size_mb * MB))
    page_mb = len(page.encode()) / MB
    print(f"page: {len(page.encode()):,} bytes ({page_mb:.2f} MB), {n_items} papers")

    # Same results first (this also warms up both parsers).
    ours = parse_ours(page)
    contenders: dict[str, Callable[[], object]] = {
        OURS: lambda: parse_ours(page),
        BS4: lambda: parse_bs4(page, "html.parser"),
    }
    if find_spec("lxml") is not None:
        contenders['bs4 "lxml"'] = lambda: parse_bs4(page, "lxml")
    else:
        print('bs4 "lxml": skipped (lxml is not installed)')
    for name, fn in contenders.items():
        result = fn()
        assert result == ours, f"{name} disagrees with ours"
    assert len(ours) == n_items
    print(f"all parsers return the same {len(ours)} Papers")

    # Where the time goes: each stage alone (the last two are shared by both parsers).
    props_text = lexbor_props(page)
    assert bs4_props(page) == props_text
    props_json = json.loads(props_text)
    stages: dict[str, Callable[[], object]] = {
        HTML_OURS: lambda: lexbor_props(page),
        HTML_BS4: lambda: bs4_props(page),
        "json.loads(data-props)": lambda: json.loads(props_text),
        "parse_items (-> Papers)": lambda: parse_items(props_json["dailyPapers"], "x"),
    }

    # Rounds: every contender once per round, the order rotating, so drift hits all alike.
    everything = {**contenders, **stages}
    names = list(everything)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(timed(everything[name]))
    median = {name: statistics.median(s) for name, s in samples.items()}

    def show(name: str, baseline: str | None = None) -> None:
        ratio = f"  ({median[name] / median[baseline]:.1f}x ours)" if baseline else ""
        print(f"  {name:<36} {median[name]:8.2f} ms  [min {min(samples[name]):7.2f}]{ratio}")

    print(f"\nms per parse, median of {args.rounds} rounds:")
    for name in contenders:
        show(name, None if name == OURS else OURS)
    print("stages, each timed alone:")
    show(HTML_OURS)
    show(HTML_BS4, HTML_OURS)
    show("json.loads(data-props)")
    show("parse_items (-> Papers)")

    per_mb = median[OURS] / page_mb
    ratio = median[BS4] / median[OURS]
    shared = median["json.loads(data-props)"] + median["parse_items (-> Papers)"]
    print(f"\nours: {per_mb:.2f} ms per MB (target <= 10 ms/MB): {_verdict(per_mb <= 10)}")
    print(f"ours vs {BS4}: {ratio:.1f}x faster (target >= 10x): {_verdict(ratio >= 10)}")
    print(
        f"  HTML stage alone: {median[HTML_BS4] / median[HTML_OURS]:.1f}x faster; "
        f"json.loads + parse_items ({shared:.1f} ms) are the same code in both, "
        f"so the end-to-end ratio cannot exceed {median[BS4] / shared:.1f}x"
    )


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


if __name__ == "__main__":
    main()
