"""What a `content` check costs: a page of ~100 KB (and one of ~2 MB) on loopback, fetched,
parsed and judged; beside it, a plain `http` check of the same 100 KB page, so that the
parse's share is the difference.

    python -m bench.kinds --only page

The page is served from a thread (tests.support.pages): bench.kinds counts the CPU of the thread
that runs the checks only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from bench.kinds import Case
from monitor.config import parse_config
from monitor.core.model import Monitor
from tests.support.pages import PageServer


def page(kb: int) -> bytes:
    """A page shaped like a news site's front page: a head of styles and scripts, a
    navigation list, then cards of a headline, a picture, a paragraph and some metadata
    until it is `kb` KB."""
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>News</title>"]
    parts += [f'<link rel="stylesheet" href="/css/s{i}.css">' for i in range(5)]
    parts += [f'<script src="/js/a{i}.js" defer></script>' for i in range(4)]
    parts.append("</head><body><header><nav><ul>")
    parts += [f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(12)]
    parts.append("</ul></nav></header><main>")
    size, index = sum(map(len, parts)), 0
    while size < kb * 1024:
        card = (f'<article class="card"><div class="inner"><h2><a href="/story/{index}">'
                f"Headline number {index} about things that happened</a></h2>"
                f'<img src="/img/{index}.jpg" alt="" width="320" height="180">'
                "<p>Lorem ipsum dolor sit amet, <em>consectetur</em> adipiscing elit, sed do"
                ' eiusmod tempor <span class="tag">incididunt</span> ut labore et dolore magna'
                ' aliqua.</p><ul class="meta"><li><time>2026-11-30</time></li><li>'
                "<span>by a reporter</span></li></ul></div></article>")
        parts.append(card)
        size += len(card)
        index += 1
    parts.append("</main><footer><p>&copy; News</p></footer></body></html>")
    return "".join(parts).encode()


def _monitor(kind: str, url: str) -> Monitor:
    entry = {"type": kind, "URL": url, "timeout": 5, "maxBodyBytes": 8 * 1024 * 1024}
    return parse_config(json.dumps({"websites": [entry]})).monitors[0]


def _case(kind: str, kb: int):
    @contextmanager
    def setup() -> Iterator[tuple[Monitor, str]]:
        with PageServer() as server:
            yield _monitor(kind, server.set("/", page(kb))), "up"
    return setup


CASES = [
    Case("content page 100 KB", _case("content", 100)),
    Case("http page 100 KB (same page)", _case("http", 100)),
    Case("content page 2 MB", _case("content", 2048)),
]
