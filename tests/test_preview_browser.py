"""The preview page in chromium, every network request blocked: what a reader sees in each view."""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from bot.digest.parse import parse_digest, parse_file
from bot.platforms import registry
from bot.preview.document import Options, preview_html
from tests.conftest import EXAMPLES
from tests.fakes import tdparse
from tests.preview_support import HOSTILE_DIGEST, chromium

pytestmark = pytest.mark.browser

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.md"))
GOLDEN = Path(__file__).resolve().parent / "golden"


class Reader:
    """One page opened from disk, with every request that is not the file itself blocked and kept."""

    def __init__(self, browser: Any, html_file: Path) -> None:
        self.outside: list[str] = []
        self.dialogs: list[str] = []
        self.context = browser.new_context(viewport={"width": 1400, "height": 900}, java_script_enabled=True)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", lambda request: None if request.url.startswith("file:") else
                     self.outside.append(request.url))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.goto(html_file.resolve().as_uri())

    def _route(self, route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def view(self, platform: str) -> Any:
        return self.page.locator(f'section.view[data-platform="{platform}"]')

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def open_page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    readers: list[Reader] = []

    def opened(html: str) -> Reader:
        path = tmp_path / f"page{len(readers)}.html"
        path.write_text(html, encoding="utf-8")
        readers.append(Reader(browser, path))
        return readers[-1]

    yield opened
    for reader in readers:
        assert reader.outside == [], f"the page tried to reach {reader.outside}"
        assert reader.dialogs == []
        reader.close()


def seen(text: str) -> str:
    """Text as compared: NFC, zero-width spaces (which renderers add to keep delimiters apart) gone."""
    return unicodedata.normalize("NFC", text).replace("\u200b", "")


def assert_in_order(text: str, titles: list[str]) -> None:
    position = 0
    for title in titles:
        found = seen(text).find(seen(title), position)
        assert found >= 0, f"{title!r} not shown (after position {position})"
        position = found + len(seen(title))


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: path.stem)
def test_every_title_shows_in_every_view_in_order_and_links_to_its_item(example: Path, open_page: Any) -> None:
    digest = parse_file(example)
    reader = open_page(preview_html(example, Options()))
    for platform in registry.NAMES:
        view = reader.view(platform)
        assert view.is_visible()
        assert_in_order("\n".join(view.locator(".message").all_inner_texts()), [item.title for item in digest.items])
        if platform == "console":
            continue
        for item in digest.items:
            anchors = view.locator("a.link").all()
            # A Discord embed's title is the link, its item number included ("1. Title").
            targets = {re.sub(r"^\d+\. ", "", seen(anchor.inner_text())): unquote(anchor.get_attribute("href") or "")
                       for anchor in anchors}
            assert any(unquote(item.url) == target for target in targets.values()), (platform, item.url)
            assert targets.get(seen(item.title)) == unquote(item.url), (platform, item.title)


def test_bold_is_bold_and_code_is_monospace(open_page: Any) -> None:
    reader = open_page(preview_html(EXAMPLES / "2025-10-03.md", Options()))
    for platform in ("telegram", "slack"):
        bold = reader.view(platform).locator(".m-bold", has_text="handset platform").first
        assert int(bold.evaluate("element => getComputedStyle(element).fontWeight")) >= 700
        code = reader.view(platform).locator(".m-code", has_text="retry_backoff()").first
        assert "mono" in code.evaluate("element => getComputedStyle(element).fontFamily")
        plain = reader.view(platform).locator(".message").first
        assert int(plain.evaluate("element => getComputedStyle(element).fontWeight")) < 700


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: path.stem)
def test_meters_show_each_parts_numbers(example: Path, open_page: Any) -> None:
    reader = open_page(preview_html(example, Options()))
    telegram = json.loads((GOLDEN / f"{example.stem}.telegram.json").read_text(encoding="utf-8"))
    for number, payload in enumerate(telegram, start=1):
        parsed = tdparse.parse_html(payload["text"])
        meters = reader.view("telegram").locator(f'[data-part="{number}"] .meters').inner_text()
        assert f"{len(parsed.text):,} / 4,096 characters" in meters
        assert f"{len(parsed.entities)} / 100 entities" in meters
    slack = json.loads((GOLDEN / f"{example.stem}.slack.json").read_text(encoding="utf-8"))
    for number, payload in enumerate(slack, start=1):
        meters = reader.view("slack").locator(f'[data-part="{number}"] .meters').inner_text()
        assert f"{len(payload['blocks'])} / 50 blocks" in meters
    assert reader.view("telegram").locator(".part").count() == len(telegram)


def test_a_hostile_digest_shows_its_markup_as_text_and_runs_nothing(open_page: Any) -> None:
    digest = parse_digest(HOSTILE_DIGEST, "hostile.md")
    reader = open_page(preview_html_of(HOSTILE_DIGEST))
    page = reader.page
    assert page.evaluate("() => document.querySelectorAll('script, img, iframe, textarea').length") == 0
    assert page.evaluate("() => window.__pwned === undefined")
    assert "<script>window.__pwned = 1</script> Hostile </a> digest" in page.locator("h1").inner_text()
    for platform in registry.NAMES:
        text = seen("\n".join(reader.view(platform).locator(".message").all_inner_texts()))
        assert_in_order(text, [item.title for item in digest.items])
        assert "<script>window.__pwned = 5</script>" in text and "</textarea></style><script>" in text
    hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a'), anchor => anchor.href)")
    assert hrefs and not [href for href in hrefs if not href.startswith(("https:", "ftp:"))]


def preview_html_of(text: str) -> str:
    from bot.preview.build import build_page
    from bot.preview.page import render_page

    return render_page(build_page(parse_digest(text, "hostile.md")))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """`preview --serve`'s loop on a free port of 127.0.0.1, in a thread of its own."""
    import asyncio
    import contextlib
    import threading

    from bot.preview.serve import LivePage, serve

    digest = tmp_path / "today.md"
    digest.write_text(HOSTILE_DIGEST, encoding="utf-8")
    live = LivePage(digest, lambda version: preview_html(digest, Options(), live=True, version=version))
    loop = asyncio.new_event_loop()
    urls: list[str] = []
    ready = threading.Event()
    task = loop.create_task(serve(live, 0, lambda url: (urls.append(url), ready.set())))

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30), "the preview server did not start"
    try:
        yield digest, urls[0]
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(30)
        loop.close()


def test_the_served_page_reloads_itself_when_the_digest_is_saved(browser: Any, served: tuple[Path, str]) -> None:
    digest, url = served
    context = browser.new_context()
    outside: list[str] = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url) else
                  (outside.append(route.request.url), route.abort()))
    try:
        page = context.new_page()
        page.goto(url)
        assert "first title" in page.locator('[data-platform="telegram"] .message').inner_text()
        assert page.evaluate("() => window.__pwned === undefined")
        digest.write_text(HOSTILE_DIGEST.replace("first title", "edited title"), encoding="utf-8")
        stat = digest.stat()
        os.utime(digest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        page.wait_for_function("() => document.body.innerText.includes('edited title')", timeout=60_000)
        assert outside == []
    finally:
        context.close()
