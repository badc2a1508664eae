"""Local stand-ins for the platforms' HTTP APIs, spoken to over real HTTP by the real clients."""

from __future__ import annotations

from typing import Any

from aiohttp import web


async def serve_local(app: web.Application, **runner_options: Any) -> tuple[web.AppRunner, int]:
    """`app` served on 127.0.0.1 at a free port: its runner (to clean up) and the port."""
    runner = web.AppRunner(app, **runner_options)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, int(runner.addresses[0][1])


async def raw_post_status(host: str, port: int, path: str, header_lines: list[bytes], body: bytes) -> int:
    """POST with header bytes exactly as given (even not UTF-8), as a hostile client may; the status."""
    import asyncio

    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = [f"POST {path} HTTP/1.1".encode(), f"Host: {host}:{port}".encode(),
                f"Content-Length: {len(body)}".encode(), b"Connection: close", *header_lines]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        status_line = await reader.readline()
        return int(status_line.split()[1])
    finally:
        writer.close()
