"""Digests are parsed off the event loop: while a multi-megabyte document is read, commands and /healthz are served."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.digest.categories import Categorizer
from bot.digest.model import Digest
from bot.digest.parse import parse_digest
from bot.digest.sources import FolderSource, UrlSource
from tests.digests import digest_text

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2025, 10, 7)
# About 3 MB: a second or so of parsing, within the URL source's 4 MB limit.
BIG_DIGEST = digest_text(DAY, items=3000, summary_sentences=12)
# Enough loop iterations that nothing but a free loop could have made them while the worker is held.
TICKS = 200
# Only a guard against hanging the suite; no assertion depends on how long anything takes.
HANG_GUARD_SECONDS = 60


class HeldCategorizer:
    """A categorizer (what a source is handed) that holds the worker inside the document work until
    the event loop has proven it is still running; a loop blocked by that work never could."""

    def __init__(self) -> None:
        self.inner = Categorizer(())
        self.entered = threading.Event()
        self.release = threading.Event()
        self.threads: list[int] = []
        self.released: list[bool] = []

    def categorize(self, digest: Digest) -> Digest:
        self.threads.append(threading.get_ident())
        self.entered.set()
        self.released.append(self.release.wait(timeout=HANG_GUARD_SECONDS))
        return self.inner.categorize(digest)


@dataclass
class Ticker:
    """A coroutine that counts its own turns on the event loop."""

    ticks: int = 0
    task: asyncio.Task[None] | None = None
    target: int | None = None
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    async def _run(self) -> None:
        while True:
            self.ticks += 1
            if self.target is not None and self.ticks >= self.target:
                self.reached.set()
            await asyncio.sleep(0)

    async def turns(self, count: int) -> None:
        """Returns once the ticker has turned `count` more times."""
        self.reached.clear()
        self.target = self.ticks + count
        await self.reached.wait()

    def __enter__(self) -> Ticker:
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        assert self.task is not None
        self.task.cancel()


@dataclass
class Site:
    """A local web server: the digest under /digests/DAY.md and a health route beside it."""

    server: TestServer
    bodies: dict[str, bytes] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    bodies: dict[str, bytes] = {}

    async def digest(request: web.Request) -> web.Response:
        body = bodies.get(request.match_info["day"])
        return web.Response(status=404) if body is None else web.Response(body=body, content_type="text/markdown")

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/digests/{day}.md", digest)
    app.router.add_get("/healthz", healthz)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Site(server, bodies)
    finally:
        await server.close()


async def prove_the_loop_serves(held: HeldCategorizer, site: Site, ticker: Ticker) -> str:
    """While the worker is held inside the document work: count TICKS more loop turns and get an
    answer from another route of a real HTTP server, then let the worker go."""
    assert await asyncio.to_thread(held.entered.wait, HANG_GUARD_SECONDS)
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        async with aiohttp.ClientSession() as session, session.get(site.url("/healthz")) as response:
            answer = await response.text()
        await ticker.turns(TICKS)
    held.release.set()
    return answer


async def test_a_fetched_multi_megabyte_digest_is_parsed_while_the_loop_serves(site: Site) -> None:
    site.bodies[DAY.isoformat()] = BIG_DIGEST.encode()
    held = HeldCategorizer()
    source = UrlSource(site.url("/digests/") + "{date:%Y-%m-%d}.md", held, SHANGHAI, fresh_for=0)
    try:
        with Ticker() as ticker:
            fetch = asyncio.create_task(source.for_date(DAY))
            answer = await prove_the_loop_serves(held, site, ticker)
            digest = await fetch
    finally:
        await source.close()
    assert held.released == [True], "the loop stayed blocked while the document was processed"
    assert answer == "ok"
    assert threading.get_ident() not in held.threads
    assert digest is not None and len(digest.items) == 3000


async def test_the_parse_itself_runs_in_a_worker_thread(site: Site) -> None:
    """Which thread calls the parser, seen by a profile hook (observing, not replacing, anything)."""
    site.bodies[DAY.isoformat()] = digest_text(DAY, items=5).encode()
    parser_code = parse_digest.__code__
    callers: list[int] = []

    def watch(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code is parser_code:
            callers.append(threading.get_ident())

    source = UrlSource(site.url("/digests/") + "{date:%Y-%m-%d}.md", Categorizer(()), SHANGHAI, fresh_for=0)
    threading.setprofile(watch)            # worker threads started from now on
    sys.setprofile(watch)                  # and the event loop's own thread
    try:
        digest = await source.for_date(DAY)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)         # type: ignore[arg-type]
        await source.close()
    assert digest is not None and len(digest.items) == 5
    assert callers, "the parser was not seen at all"
    assert threading.get_ident() not in callers


async def test_the_folder_source_reads_and_rereads_while_the_loop_serves(tmp_path: Path, site: Site) -> None:
    path = tmp_path / "digests" / "today.md"
    path.parent.mkdir()
    path.write_text(digest_text(DAY, items=3), encoding="utf-8")
    held = HeldCategorizer()
    source = FolderSource(path.parent, held, SHANGHAI, refresh_interval=0)
    with Ticker() as ticker:
        first = asyncio.create_task(source.for_date(DAY))
        await prove_the_loop_serves(held, site, ticker)
        assert (await first) is not None
        # The file changes; the re-read is held the same way.
        held.entered.clear()
        held.release.clear()
        path.write_text(BIG_DIGEST, encoding="utf-8")
        second = asyncio.create_task(source.for_date(DAY))
        answer = await prove_the_loop_serves(held, site, ticker)
        reread = await second
    assert held.released == [True, True]
    assert answer == "ok"
    assert threading.get_ident() not in held.threads
    assert reread is not None and len(reread.items) == 3000
