"""Helpers for the preview tests: the page's HTML as a tree and its outline, a hostile digest, and
chromium through Playwright (skipped when missing, a failure when DIGESTBOT_REQUIRE_BROWSER is set).

Run as a script, it takes the README's screenshot: python -m tests.preview_support docs/preview.png
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("DIGESTBOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

HOSTILE_DIGEST = """---
title: "<script>window.__pwned = 1</script> Hostile </a> digest"
date: 2025-10-04
categories: [Security]
---

Intro with <script>window.__pwned = 2</script> and </a></div><b>not bold</b> and <img src=x onerror="window.__pwned=3">.

---

1.  [</a><script>window.__pwned = 4</script> first title](https://news.example.com/hostile/1?a=1&b="2")

    <!-- categories: Security -->

    Summary **<script>window.__pwned = 5</script>** with `</a><script>` code,
    a [bad link](javascript:window.__pwned=6) and an [ftp link](ftp://files.example.com/x).

2.  [Second </a> title with <b>tags</b>](https://news.example.com/hostile/2)

    Plain summary </textarea></style><script>window.__pwned = 7</script> end.

---

### Commentary

Done </html>.
"""


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    @property
    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text for child in self.children)

    def elements(self) -> list[Node]:
        return [child for child in self.children if isinstance(child, Node)]

    def find_all(self, predicate: Any) -> list[Node]:
        found: list[Node] = []
        for child in self.elements():
            if predicate(child):
                found.append(child)
            found += child.find_all(predicate)
        return found

    def by_class(self, name: str) -> list[Node]:
        return self.find_all(lambda node: name in node.classes)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>: the page is not well nested"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def html_tree(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def outline(html: str) -> dict[str, Any]:
    """What the page shows, normalized: items with categories, views, parts with meters, flags and blocks."""
    tree = html_tree(html)
    items = [{"number": int(node.attrs["data-item"]), "title": node.by_class("item-title")[0].text,
              "categories": [chip.text for chip in node.by_class("chip") if "none" not in chip.classes]}
             for node in tree.find_all(lambda node: "data-item" in node.attrs)]
    views = []
    for view in tree.find_all(lambda node: "data-platform" in node.attrs):
        parts = [{"meters": [meter.text for meter in part.by_class("meter")],
                  "flags": [flag.text for flag in part.by_class("flag")],
                  "blocks": [" ".join(child.classes) for child in part.by_class("message")[0].elements()]}
                 for part in view.find_all(lambda node: "data-part" in node.attrs)]
        view_flags = [flag.text for flag in view.elements() if "flag" in flag.classes]
        views.append({"platform": view.attrs["data-platform"], "flags": view_flags, "parts": parts})
    return {"items": items, "views": views}


def _launch_problem() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    if shutil.which(CHROMIUM) is None:
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium browser; skips the test when there is none, unless CI requires one."""
    problem = _launch_problem()
    if problem is not None:
        if os.environ.get("DIGESTBOT_REQUIRE_BROWSER"):
            pytest.fail(f"a browser is required: {problem}")
        pytest.skip(f"browser tests skipped: {problem}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def take_screenshot(digest: Path, png: Path) -> None:
    """The page of ``digest`` as a PNG, the size the README shows."""
    from bot.preview.document import Options, preview_html

    page_file = png.with_suffix(".html")
    shown = Path(os.path.relpath(digest))         # the page names the digest as the command line did
    page_file.write_text(preview_html(shown, Options()), encoding="utf-8")
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(page_file.resolve().as_uri())
            page.screenshot(path=str(png), type="png")
    finally:
        page_file.unlink()


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    take_screenshot(root / "examples" / "2025-10-03.md", Path(sys.argv[1]))
