"""Text from outside (a link's values, a file's name, messages quoting them) is shown as plain text:
Markdown in it never renders as a link, an image, HTML or a heading."""

from __future__ import annotations

import re

import pytest

from tests import apptest_support
from ui.app.text import plain

EVIL_LINK = "[x](https://evil.example)"
EVIL_IMAGE = "![i](https://evil.example/a.png)"
# What a Markdown renderer would turn into a link or an image: an unescaped "](" or "<", or a bare
# address (GitHub-flavoured Markdown links http://, https://, www. and e-mail addresses by themselves).
LIVE_MARKDOWN = re.compile(r"(?<!\\)\]\(|(?<!\\)<|https?://|www\.|(?<!\\)!\[")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (EVIL_LINK, "\\[x\\](https\u2060://evil.example)"),
        (EVIL_IMAGE, "!\\[i\\](https\u2060://evil.example/a.png)"),
        ("<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert(1)\\>"),
        ("see www.evil.example or me@evil.example", "see www\u2060.evil.example or me@\u2060evil.example"),
        ("# Big\n\n> quote", "\\# Big  \\> quote"),
        ("1. first", "1\\. first"),
        ("$\\href{https://evil.example}{x}$", "\\$\\\\href{https\u2060://evil.example}{x}\\$"),
        ("`code` and **bold** and :red[red]", "\\`code\\` and \\*\\*bold\\*\\* and :red\\[red\\]"),
        ("&#91;x&#93;(https&#58;//evil.example)", "\\&#91;x\\&#93;(https\\&#58;//evil.example)"),
    ],
)
def test_plain_escapes_what_would_render(text, shown):
    assert plain(text) == shown
    assert not LIVE_MARKDOWN.search(plain(text))


def test_plain_leaves_the_lab_s_own_messages_readable():
    message = "6 epochs is more than this server allows (5, the limit MLP_LAB_MAX_EPOCHS): choose 5 epochs or fewer."
    assert plain(message) == message
    assert plain(ValueError("Unknown preset 'Q9'.")) == "Unknown preset 'Q9'."


def _shown(at) -> list[str]:
    kinds = ("markdown", "warning", "error", "info", "caption", "success", "subheader", "title")
    return [str(e.value) for kind in kinds for e in getattr(at, kind)]


@pytest.mark.parametrize(
    ("query", "escaped"),
    [
        ({"preset": EVIL_LINK}, "Unknown preset '\\[x\\](https\u2060://evil.example)'"),
        ({"lesson": EVIL_IMAGE}, "!\\[i\\](https\u2060://evil.example/a.png)"),
        ({"data": "idx:" + EVIL_LINK}, "'\\[x\\](https\u2060://evil.example)' is not allowed on this server"),
    ],
)
def test_a_link_s_markdown_reaches_the_train_page_as_plain_text(store_home, monkeypatch, query, escaped):
    at = apptest_support.open_page("train", store_home, monkeypatch, **query)
    shown = _shown(at)
    assert any(escaped in text for text in shown), shown  # the student reads what the link said
    live = [text for text in shown if "evil" in text and LIVE_MARKDOWN.search(text)]
    assert not live, live
