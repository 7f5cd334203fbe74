"""arXiv identifiers: recognise them in what people paste, and normalise them."""

from __future__ import annotations

import re

# New style since 2007: YYMM.NNNN (to 1412) or YYMM.NNNNN (from 1501), optional version.
# Digits are ASCII only: `\d` would also accept Arabic-Indic (٠١) or full-width (０１) digits,
# which no arXiv id contains and which must never reach Hugging Face.
_NEW = r"[0-9]{2}(?:0[1-9]|1[0-2])\.[0-9]{4,5}"
# Old style: archive(.SUBJ)/YYMMNNN, e.g. hep-th/9901001 or math.GT/0309136.
_OLD = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/[0-9]{7}"
_ID = re.compile(rf"^(?P<id>{_NEW}|{_OLD})(?:v[0-9]+)?$", re.ASCII)
_URL = re.compile(
    r"^(?:https?://)?(?:www\.)?(?:huggingface\.co/papers|hf\.co/papers|arxiv\.org/(?:abs|pdf|html))/"
    r"(?P<rest>[^?#\s]+?)(?:\.pdf)?/?(?:[?#].*)?$",
    re.IGNORECASE,
)


def normalise_id(text: str) -> str | None:
    """Return the versionless arXiv id in an id or HF/arXiv URL, or None if there is none."""
    text = text.strip()
    url = _URL.match(text)
    if url:
        text = url.group("rest")
    m = _ID.match(text)
    return m.group("id") if m else None


def is_valid_id(text: str) -> bool:
    """True for a bare, syntactically valid arXiv id (with or without version)."""
    return _ID.match(text) is not None
