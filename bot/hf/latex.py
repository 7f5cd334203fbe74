"""LaTeX residue in arXiv text (`\\textbf{...}`, `50\\%`, `\\ours`, `$\\times$`) made plain text.

Hugging Face passes titles and abstracts on as authors wrote them for arXiv. People read them in
Discord, so the markup is turned into the text it stands for at parse time (stored, searched
and shown plain). Only what is clearly LaTeX is touched: braces of set notation, a lone `$5`
or a `~50%` stay as they are.
"""

from __future__ import annotations

import re

# Symbols worth keeping as a character; any other control word loses only its backslash.
_SYMBOLS = {
    "times": "×",
    "approx": "≈",
    "sim": "~",
    "simeq": "≃",
    "pm": "±",
    "mp": "∓",
    "cdot": "·",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "neq": "≠",
    "ne": "≠",
    "ll": "≪",
    "gg": "≫",
    "infty": "∞",
    "to": "→",
    "rightarrow": "→",
    "leftarrow": "←",
    "Rightarrow": "⇒",
    "uparrow": "↑",
    "downarrow": "↓",
    "in": "∈",
    "sum": "∑",
    "prod": "∏",
    "sqrt": "√",
    "partial": "∂",
    "nabla": "∇",
    "circ": "°",
    "degree": "°",
    "ldots": "…",
    "dots": "…",
    "cdots": "⋯",
    "textasciitilde": "~",
    "textbackslash": "\\",
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "Delta": "Δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "eta": "η",
    "theta": "θ",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "Sigma": "Σ",
    "tau": "τ",
    "phi": "φ",
    "psi": "ψ",
    "omega": "ω",
    "Omega": "Ω",
}
# Commands whose one braced argument is the text to show (`\textbf{Gap}` -> `Gap`).
_WRAPPERS = (
    "textbf|textit|textsc|texttt|textrm|textsf|textup|textmd|textnormal|text|emph|underline"
    "|mathrm|mathbf|mathit|mathsf|mathtt|mathcal|mathbb|mathfrak|boldsymbol|bm|operatorname"
    "|url|mbox|hbox|footnote"
)
_WRAPPED = re.compile(r"\\(?:" + _WRAPPERS + r")\s*\{([^{}]*)\}")
_HREF = re.compile(r"\\href\s*\{[^{}]*\}\s*\{([^{}]*)\}")
_ESCAPED = re.compile(r"\\([%&_#$])")
_ESCAPED_BRACE = re.compile(r"\\([{}])")
_BREAK = re.compile(r"\\\\|\\[,;:! ]")  # a forced line break or a thin/medium space
_COMMAND = re.compile(r"\\([A-Za-z]+)\*?(?:\{\})?")
# HF sometimes serves `$\approx$` as `{approx}`: a known symbol name alone in braces.
_BRACED_SYMBOL = re.compile(r"\{(" + "|".join(sorted(_SYMBOLS, key=len, reverse=True)) + r")\}")
# Inline math as pandoc reads it: `$` then no space, ..., no space then `$` not before a digit.
# Each pattern starts with its mark and looks behind it only then (`\$(?<!\\\$)` for
# `(?<!\\)\$`): a pattern that starts with a look-behind is tried at every character of
# the text (86 us an abstract for the dashes), one that starts with a literal jumps to it.
_MATH = re.compile(r"\$(?<!\\\$)(?=\S)([^$\n]{1,200}?)(?<=\S)\$(?!\d)")
_MATH_COMMAND = re.compile(r"\$(?<!\\\$)(\\[A-Za-z][^$\n]{0,200}?)\$")  # `$\times$3` too
_TIE = re.compile(r"~(?<=[\w).,;:]~)(?=[\w(])")  # `Audio~3`, `(i)~the`; not `(~47k`
_EN_DASH = re.compile(r"--(?<=\w--)(?=\w)")
_EM_DASH = re.compile(r"(?<=\w)---(?=\w)|\s---\s")


def delatex(text: str) -> str:
    """`text` with LaTeX markup replaced by the plain text it stands for."""
    # Each pattern needs its mark in the text: checking first skips most of the work.
    if "$" in text:
        text = _MATH.sub(lambda m: _markup(m.group(1)), text)
        text = _MATH_COMMAND.sub(lambda m: _markup(m.group(1)), text)
    if "\\" in text or "{" in text:
        text = _markup(text)
    if "---" in text:
        text = _EM_DASH.sub(lambda m: " — " if m.group(0).startswith(" ") else "—", text)
    if "--" in text:
        text = _EN_DASH.sub("–", text)
    if "~" in text:
        text = _TIE.sub(" ", text)
    return text


def _markup(text: str) -> str:
    if "\\" not in text:  # every pattern but the braced symbol starts with a backslash
        return _BRACED_SYMBOL.sub(lambda m: _SYMBOLS[m.group(1)], text)
    for _ in range(4):  # nested wrappers (`\textbf{\emph{x}}`) unwrap from the inside out
        unwrapped = _HREF.sub(r"\1", _WRAPPED.sub(r"\1", text))
        if unwrapped == text:
            break
        text = unwrapped
    text = _ESCAPED.sub(r"\1", text)
    text = _BREAK.sub(" ", text)
    text = _COMMAND.sub(lambda m: _SYMBOLS.get(m.group(1), m.group(1)), text)
    text = _ESCAPED_BRACE.sub(r"\1", text)
    return _BRACED_SYMBOL.sub(lambda m: _SYMBOLS[m.group(1)], text)
