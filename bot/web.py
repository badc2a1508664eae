"""The one aiohttp server: platform webhooks, Slack endpoints, /healthz, /readyz and /metrics."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

from aiohttp import web

from bot.metrics import render_metrics

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]


def build_web_app(
    routes: Iterable[web.RouteDef],
    readiness: Mapping[str, ReadinessCheck],
    max_body_bytes: int,
) -> web.Application:
    """`routes` come from the platform adapters; `readiness` names each thing /readyz checks."""
    # client_max_size bounds every body aiohttp reads, so a huge POST to a webhook costs nothing.
    app = web.Application(client_max_size=max_body_bytes)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        results: dict[str, bool] = {}
        for name, check in readiness.items():
            try:
                results[name] = await check()
            except Exception as error:
                log.warning("readiness check %s failed: %s", name, type(error).__name__)
                results[name] = False
        ready = all(results.values())
        return web.json_response({"ready": ready, "checks": results}, status=200 if ready else 503)

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = render_metrics()
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    app.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics)])
    app.add_routes(list(routes))
    return app

