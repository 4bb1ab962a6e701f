"""Numbers and states in words, as every page writes them, and text from outside shown as plain text."""

from __future__ import annotations

import math
import re

DIVERGED_TEXT = (
    "Training diverged: the loss became NaN or exploded. These are **exploding gradients**: "
    "each update was so large that the weights overshot and grew without bound. "
    "Lower the learning rate (try 10x smaller), or add batch normalization."
)
MISSING = "—"  # a number that is not there (not trained, or NaN)


def fmt_seconds(seconds: float) -> str:
    """``42 s`` or ``3 min 05 s``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def fmt_percent(value: float | None) -> str:
    """``93.12%``, or a dash for a missing or non-finite value (a diverged run)."""
    return f"{value:.2%}" if value is not None and math.isfinite(value) else MISSING


def fmt_loss(value: float) -> str:
    """``0.2345``, or ``NaN`` for a diverged run."""
    return f"{value:.4f}" if math.isfinite(value) else "NaN"


# Markdown (and Streamlit's extensions: $ for LaTeX, :color[...] directives) that text from a link, a
# file name or an error message must not use: links and images need [ ], HTML needs < >, a code span a
# backtick; & would spell any of them as an entity. Escaped with a backslash, each shows as itself.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*\[\]<>$&|~])")
# What GitHub-flavoured Markdown turns into a link with no brackets at all: http(s)://, www. and e-mail
# addresses. Matched after escapes are read, so escaping cannot stop it: a word joiner (U+2060, invisible)
# after "http"/"https"/"www"/"@" breaks the pattern, and the address cannot be clicked.
_AUTOLINKS = re.compile(r"(?i)(https?|www|ftp|mailto|xmpp)(?=:|\.)|(@)")
_WORD_JOINER = "\u2060"
# What starts a block (heading, quote, list, rule) at the text's start: its punctuation is escaped.
_BLOCK_START = re.compile(r"^([#>+=_-]|\d{1,9}(?=[.)]))")


def plain(text: object) -> str:
    """``text`` as Streamlit's Markdown shows it literally: never a link, an image, HTML, LaTeX or a heading.

    For every value from outside the app that reaches ``st.markdown``, ``st.info``,
    ``st.warning``, ``st.error``, ``st.caption`` or an image caption: a link's
    ``preset``, ``lesson`` or ``data`` value, a file's name, an error message that
    quotes one. ``?preset=[x](https://evil.example)`` then reads
    ``Unknown preset '[x](https://evil.example)'`` on the page and cannot be clicked.
    Newlines become spaces (no block can start inside the text).
    """
    flat = " ".join(str(text).split("\n")).replace("\r", " ").strip()  # leading spaces: an indented code block
    escaped = _MARKDOWN_SPECIALS.sub(r"\\\1", flat)
    escaped = _AUTOLINKS.sub(lambda m: m.group(0) + _WORD_JOINER, escaped)
    match = _BLOCK_START.match(escaped)
    if match:  # "# x" -> "\# x"; "1. x" -> "1\. x" (a digit cannot be escaped, the dot after it can)
        at = match.end() if match.group(0)[0].isdigit() else 0
        escaped = escaped[:at] + "\\" + escaped[at:]
    return escaped
