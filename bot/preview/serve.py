"""`preview --serve`: the page on 127.0.0.1, rendered again whenever the digest file changes.

The served page polls ``/version`` (the file's modification time and size) once a second and
reloads itself when it changes, so a publisher can keep it open while writing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

HOST = "127.0.0.1"


class LivePage:
    """The page for one file, rendered again only when the file's version changes."""

    def __init__(self, path: Path, render: Callable[[str], str]) -> None:
        self.path = path
        self._render = render
        self._version: str | None = None
        self._html = ""

    def version(self) -> str:
        try:
            stat = self.path.stat()
        except OSError:
            return "missing"
        return f"{stat.st_mtime_ns}-{stat.st_size}"

    def html(self) -> str:
        version = self.version()
        if version != self._version:
            self._html = self._render(version)
            self._version = version
        return self._html


def make_app(live: LivePage) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        html = await asyncio.to_thread(live.html)
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def version(request: web.Request) -> web.Response:
        return web.Response(text=live.version(), headers={"Cache-Control": "no-store"})

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/version", version)
    return app


async def serve(live: LivePage, port: int, announce: Callable[[str], None]) -> None:
    """Serves the page on 127.0.0.1:``port`` (0: any free port) until cancelled."""
    runner = web.AppRunner(make_app(live), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, HOST, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        announce(f"http://{HOST}:{bound}/")
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
