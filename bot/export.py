"""Libraries and reading lists as files people take elsewhere: BibTeX, Markdown and CSV.

The BibTeX is what arXiv gives for an e-print (`@misc` with `eprint` and `archivePrefix`),
with one key per entry, unique in the file, and every character LaTeX or BibTeX would read
as markup escaped, so that any title or name from Hugging Face parses and typesets as text.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.models import Paper

ExportFormat = Literal["bibtex", "markdown", "csv"]
FORMATS: tuple[ExportFormat, ...] = ("bibtex", "markdown", "csv")
EXTENSIONS: dict[ExportFormat, str] = {"bibtex": "bib", "markdown": "md", "csv": "csv"}


@dataclass(frozen=True, slots=True)
class ExportItem:
    """One paper of a list being exported, when it was added, and its note (if any)."""

    paper: Paper
    added_at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A file to send: its name and its bytes (UTF-8)."""

    filename: str
    data: bytes


def export(fmt: ExportFormat, items: Sequence[ExportItem], *, name: str, title: str) -> ExportFile:
    """The items as one file named `name`.<extension>; `title` heads the Markdown."""
    if fmt == "bibtex":
        text = bibtex(items)
    elif fmt == "markdown":
        text = markdown(items, title)
    else:
        text = csv_text(items)
    return ExportFile(f"{name}.{EXTENSIONS[fmt]}", text.encode("utf-8"))


# -- BibTeX -----------------------------------------------------------------------------------

# Characters LaTeX reads as markup, as text commands.
_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "&": r"\&",
    "_": r"\_",
    "#": r"\#",
    "$": r"\$",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "\u2013": "--",
    "\u2014": "---",
    "\u2018": "`",
    "\u2019": "'",
    "\u201c": "``",
    "\u201d": "''",
    "\u2026": r"\ldots{}",
    "\u00a0": "~",
}
# Letters with no accent to take off, as LaTeX's own commands.
_LATEX_LETTERS = {
    "ß": r"{\ss}",
    "æ": r"{\ae}",
    "Æ": r"{\AE}",
    "œ": r"{\oe}",
    "Œ": r"{\OE}",
    "ø": r"{\o}",
    "Ø": r"{\O}",
    "ł": r"{\l}",
    "Ł": r"{\L}",
    "ı": r"{\i}",
    "đ": r"{\dj}",
    "Đ": r"{\DJ}",
}
# Combining accents (what NFD splits off a letter), as LaTeX accent commands.
_LATEX_ACCENTS = {
    "\u0300": "`",
    "\u0301": "'",
    "\u0302": "^",
    "\u0303": "~",
    "\u0304": "=",
    "\u0306": "u",
    "\u0307": ".",
    "\u0308": '"',
    "\u030a": "r",
    "\u030b": "H",
    "\u030c": "v",
    "\u0327": "c",
    "\u0328": "k",
    "\u0323": "d",
}
_STOP_WORDS = frozenset(
    "a an the on of for in to and with via from towards toward is are".split()  # noqa: SIM905
)


def latex_escape(text: str) -> str:
    """Text on one line with every LaTeX special, brace and accent written as a command."""
    out = []
    for char in unicodedata.normalize("NFC", " ".join(text.split())):
        if char in _LATEX_SPECIALS:
            out.append(_LATEX_SPECIALS[char])
        elif char.isascii():
            out.append(char if char.isprintable() else " ")
        elif char in _LATEX_LETTERS:
            out.append(_LATEX_LETTERS[char])
        else:
            out.append(_accented(char))
    return "".join(out)


def _accented(char: str) -> str:
    """A letter with accents as `{\\'{e}}`; a character LaTeX has no command for, as it is
    (UTF-8: biber and LaTeX read it) unless it cannot be shown at all."""
    decomposed = unicodedata.normalize("NFD", char)
    base, marks = decomposed[0], decomposed[1:]
    if marks and all(m in _LATEX_ACCENTS for m in marks) and (base.isascii() and base.isalpha()):
        letter = r"\i" if base == "i" else r"\j" if base == "j" else base
        for mark in marks:
            letter = f"\\{_LATEX_ACCENTS[mark]}{{{letter}}}"
        return f"{{{letter}}}"
    if unicodedata.category(char)[0] == "C":  # control, format, unassigned, private use
        return ""
    return char


def _author(name: str) -> str:
    """One author for `author = {A and B}`: a name with a comma or the word "and" in it is
    braced, so BibTeX reads it whole instead of as "Last, First" or as two people."""
    escaped = latex_escape(name)
    if "," in name or re.search(r"\band\b", name, re.IGNORECASE):
        return f"{{{escaped}}}"
    return escaped


def _ascii_word(text: str) -> str:
    """Lower-case ASCII letters and digits of a word (accents taken off, the rest dropped)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def paper_year(paper: Paper) -> int | None:
    """The year of the e-print: its arXiv publication time, else the year in its id."""
    if paper.published_at is not None:
        return paper.published_at.year
    m = re.search(r"(?:^|/)([0-9]{2})[0-9]{2}(?:\.|[0-9]{3}$)", paper.id)
    if m is None:
        return None
    yy = int(m.group(1))
    return (1900 if yy >= 91 else 2000) + yy


def _base_key(paper: Paper) -> str:
    """arXiv's style: first author's last name, year, first word of the title that counts."""
    last = _ascii_word(paper.authors[0].split()[-1]) if paper.authors and paper.authors[0] else ""
    words = [_ascii_word(w) for w in paper.title.split()]
    first = next((w for w in words if w and w not in _STOP_WORDS), "")
    year = paper_year(paper)
    key = f"{last or 'anon'}{year or ''}{first or 'paper'}"
    return key[:60]


def bibtex_keys(papers: Sequence[Paper]) -> list[str]:
    """One key per paper, unique in the file: `smith2025grokking`, then `...a`, `...b`."""
    used: set[str] = set()
    keys = []
    for paper in papers:
        base = key = _base_key(paper)
        n = 0
        while key in used:
            n += 1
            key = base + _suffix(n)
        used.add(key)
        keys.append(key)
    return keys


def _suffix(n: int) -> str:
    """a, b, ..., z, aa, ab, ...: the n-th suffix (n >= 1)."""
    letters = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        letters = chr(ord("a") + r) + letters
    return letters


def bibtex(items: Sequence[ExportItem]) -> str:
    """Every paper as arXiv's own `@misc` e-print entry."""
    papers = [item.paper for item in items]
    entries = []
    for key, paper in zip(bibtex_keys(papers), papers, strict=True):
        fields = [("title", latex_escape(paper.title))]
        if paper.authors:
            fields.append(("author", " and ".join(_author(a) for a in paper.authors if a)))
        year = paper_year(paper)
        if year is not None:
            fields.append(("year", str(year)))
        fields += [
            ("eprint", paper.id),
            ("archivePrefix", "arXiv"),
            ("url", paper.arxiv_url),
        ]
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        entries.append(f"@misc{{{key},\n{body}\n}}\n")
    return "\n".join(entries)


# -- Markdown ---------------------------------------------------------------------------------

_MD_SPECIALS = re.compile(r"([\\`*_{}\[\]<>#|~])")


def md_escape(text: str) -> str:
    """Text on one line in which no character is read as Markdown."""
    return _MD_SPECIALS.sub(r"\\\1", " ".join(text.split()))


def markdown(items: Sequence[ExportItem], title: str) -> str:
    """A numbered list: linked title, authors, year, arXiv id, and the note as a quote."""
    count = f"{len(items)} paper" + ("" if len(items) == 1 else "s")
    lines = [f"# {md_escape(title)} ({count})", ""]
    for n, item in enumerate(items, start=1):
        paper = item.paper
        year = paper_year(paper)
        facts = [", ".join(md_escape(a) for a in paper.authors)] if paper.authors else []
        if year is not None:
            facts.append(str(year))
        facts.append(f"arXiv:{paper.id}")
        facts.append(f"[Hugging Face]({paper.hf_url})")
        lines.append(f"{n}. [{md_escape(paper.title)}]({paper.arxiv_url}) — {' · '.join(facts)}")
        if item.note:
            lines.append(f"   > {md_escape(item.note)}")
    return "\n".join(lines) + "\n"


# -- CSV --------------------------------------------------------------------------------------

CSV_COLUMNS = ("arxiv_id", "title", "authors", "year", "url", "hf_url", "added_at", "note")


def _cell(value: str) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading `'`."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_text(items: Sequence[ExportItem]) -> str:
    """One row per paper (authors joined with "; "), with a header row."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        paper = item.paper
        year = paper_year(paper)
        row = [
            paper.id,
            " ".join(paper.title.split()),
            "; ".join(paper.authors),
            str(year) if year else "",
            paper.arxiv_url,
            paper.hf_url,
            item.added_at.isoformat(timespec="seconds"),
            " ".join(item.note.split()),
        ]
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
