"""Write the synthetic fixtures of this folder: Hugging Face's real response shapes (as in
../shared/fixtures/hf/realdata, see its README) with made-up ids, names and text.

Run `python tests/data/hf_shapes/make_shapes.py` to regenerate; the output is committed.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

HERE = Path(__file__).parent
THUMB = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{}.png"


def user(n: int, *, top: bool) -> dict:
    """A submitter: the item's `submittedBy` has `name` only, the paper's has `user` too."""
    who = {
        "_id": f"66{n:022x}",
        "avatarUrl": f"/avatars/{n:032x}.svg",
        "fullname": f"Person {n}",
        "name": f"person{n}",
        "type": "user",
        "isPro": n % 2 == 0,
    }
    if top:
        who |= {"isHf": False, "isHfAdmin": False, "isMod": False, "isUserFollowing": False}
    else:
        who["user"] = f"person{n}"
    return who


def org(n: int) -> dict:
    return {
        "_id": f"67{n:022x}",
        "name": f"lab-{n}",
        "fullname": f"Example Lab {n}",
        "avatar": f"https://cdn-avatars.huggingface.co/v1/production/uploads/{n}/logo.png",
    }


def item_2026(n: int, day: str, *, latex: bool = False, media: bool = False) -> dict:
    """Today's list item: submittedOnDailyAt is midnight of the list day, the item's own
    publishedAt is the arXiv time (not the list day)."""
    pid = f"2607.{10000 + n:05d}"
    title = f"Synthetic Paper {n}: Looms\n  and Engines"
    summary = f"We study looms {n}.\nThey weave."
    if latex:
        summary = (
            "The resulting pipeline, \\ours, beats the \\textbf{frame-wise 2-step setting} and"
            " recovers 58--75\\% of the gap, cutting latency by 50\\% at $\\times$3 speed."
        )
    paper: dict = {
        "id": pid,
        "authors": [
            {"_id": f"68{n:022x}", "name": f"Author {n}", "hidden": False},
            {"_id": f"69{n:022x}", "name": "Hidden Author", "hidden": True},
        ],
    }
    if media:
        paper["mediaUrls"] = [f"https://cdn-uploads.huggingface.co/production/uploads/{n}/a.jpeg"]
    paper |= {
        "publishedAt": "2026-07-08T20:00:00.000Z",
        "submittedOnDailyAt": f"{day}T00:00:00.000Z",
        "title": title,
        "submittedOnDailyBy": user(n, top=False),
        "summary": summary,
        "upvotes": n,
        "discussionId": f"6a{n:022x}",
        "githubRepo": f"https://github.com/example/looms-{n}",
        "githubRepoAddedBy": "user",
        "githubStars": n * 3,
    }
    top: dict = {
        "paper": paper,
        "publishedAt": "2026-07-08T20:00:00.000Z",
        "title": title,
        "summary": summary,
    }
    if media:
        top["mediaUrls"] = paper["mediaUrls"]
    top |= {"thumbnail": THUMB.format(pid), "numComments": n % 3, "submittedBy": user(n, top=True)}
    if n % 2:
        paper["organization"] = top["organization"] = org(n)
    top["isAuthorParticipating"] = False
    return top


def api_list_two_days() -> list[dict]:
    """The "latest" list as recorded without `date=`: 14 of one day, then 11 of the last."""
    first = [item_2026(n, "2026-07-13", latex=n == 3, media=n == 5) for n in range(14)]
    return first + [item_2026(n, "2026-07-10") for n in range(14, 25)]


def api_paper() -> dict:
    """GET /api/papers/{id}: the paper object alone (no thumbnail, no numComments)."""
    paper = item_2026(40, "2026-07-13", latex=True, media=True)["paper"]
    paper["projectPage"] = "https://github.com/example/looms-40"
    del paper["githubRepo"], paper["githubStars"], paper["githubRepoAddedBy"]
    paper["organization"] = org(40)
    paper["ai_summary"] = "Looms \\textbf{weave} 50\\% faster."
    paper["ai_keywords"] = ["looms", "weaving"]
    return paper


def item_2024(n: int) -> dict:
    """The 2024 shape: no submittedOnDailyAt; the item's publishedAt is the listing time."""
    pid = f"2407.{20000 + n:05d}"
    return {
        "paper": {
            "id": pid,
            "authors": [{"_id": f"68{n:022x}", "name": f"Author {n}", "hidden": False}],
            "publishedAt": "2024-07-31T17:59:00.000Z",
            "title": f"Old Paper {n}",
            "summary": f"An old abstract {n}.",
            "upvotes": n + 1,
            "discussionId": f"6a{n:022x}",
        },
        "publishedAt": f"2024-08-01T0{n}:21:47.935Z",
        "title": f"Old Paper {n}",
        "thumbnail": THUMB.format(pid),
        "numComments": n,
        "upvoted": False,
        "submittedBy": {k: v for k, v in user(n, top=False).items() if k != "name"},
    }


def card_2024(item: dict, *, video: bool) -> str:
    """An <article> card as the 2024 page draws it; a teaser video leaves the submitter's
    avatar as the card's only <img>."""
    pid = item["paper"]["id"]
    who = item["submittedBy"]
    teaser = (
        f'<video src="https://cdn-uploads.huggingface.co/production/uploads/{pid}/t.webm"'
        ' loop="" muted="" playsinline="" class="h-full w-full object-cover"></video>'
        if video
        else f'<img src="{THUMB.format(pid)}" alt="" class="h-full w-full object-cover">'
    )
    return f"""<article class="relative flex flex-col overflow-hidden rounded-xl border"><a href="/papers/{pid}" class="shadow-alternate-sm peer relative block h-56">{teaser} </a> <div class="pointer-events-none absolute right-2 top-56 flex h-6 items-center gap-1">Submitted by <img alt="" class="w-2.5 h-2.5 rounded-full flex-none" src="https://cdn-avatars.huggingface.co/v1/production/uploads/{who["_id"]}/face.png" crossorigin="anonymous"> {who["user"]}</div> <div class="flex px-6 pb-6 pt-8"><div class="flex w-full gap-6"><div class="flex flex-wrap items-center gap-2.5 pt-1 "><a href="/login?next=%2Fpapers%2F{pid}" class="self-start"> <div class="shadow-alternate flex h-14 w-12"><input disabled="" type="checkbox" class="peer hidden"> <div class="leading-none">{item["paper"]["upvotes"]}</div></div></a> </div> <div class="w-full"><h3 class="mb-1 text-lg/6 font-semibold"><a href="/papers/{pid}" class="line-clamp-3 cursor-pointer text-balance">{html.escape(item["title"])}</a></h3> <div class="flex items-center justify-between"><a href="/papers/{pid}" class="flex"><ul class="flex items-center"><li title="Author"><img class="overflow-hidden rounded-full" alt="" src="/avatars/x.svg"> </li> <li class="order-first ml-3"><div class="flex truncate text-base text-gray-350"><div class="ml-1 mr-2.5">·</div> 1 authors </div> </li></ul></a> <a href="/papers/{pid}#community" class="text-md flex items-center gap-2 text-gray-400"> {item["numComments"]} </a></div> </div></div> </div></article>"""  # noqa: E501


def page_2024() -> str:
    """The 2024 list page: date only as props["date"] and <time datetime>, og:url /papers,
    no canonical link, entity-encoded data-props."""
    items = [item_2024(n) for n in range(4)]
    props = {
        "canSubmit": False,
        "date": "2024-08-01T00:00:00.000Z",
        "dailyPapers": items,
        "nextDate": "2024-08-02",
        "prevDate": "2024-07-31",
        "publisher": {"_id": "60" + "0" * 22, "fullname": "Publisher", "user": "publisher"},
    }
    data = html.escape(json.dumps(props, separators=(",", ":")), quote=True)
    cards = "".join(card_2024(it, video=n == 2) for n, it in enumerate(items))
    return f"""<!doctype html>
<html class=""><head><meta charset="utf-8"><title>Daily Papers - Hugging Face</title>
<meta property="og:url" content="https://huggingface.co/papers"></head>
<body><div class="flex min-h-screen flex-col"><main class="flex flex-1 flex-col">
<div class="SVELTE_HYDRATER contents" data-props="{data}" data-target="DailyPapers"><section class="container"><div class="mb-12 flex"><h1>Daily Papers</h1><time class="relative flex flex-col items-stretch" datetime="2024-08-01T00:00:00.000Z"><span>Aug</span><span>1</span></time></div><div class="relative grid grid-cols-1 gap-14 lg:grid-cols-2">{cards}</div></section></div>
</main></div></body></html>
"""  # noqa: E501


def main() -> None:
    dump = {"ensure_ascii": False, "indent": 2}
    (HERE / "api_list_two_days.synthetic.json").write_text(
        json.dumps(api_list_two_days(), **dump) + "\n"
    )
    (HERE / "api_paper_detail.synthetic.json").write_text(json.dumps(api_paper(), **dump) + "\n")
    (HERE / "daily_page_2024.synthetic.html").write_text(page_2024())


if __name__ == "__main__":
    main()
