"""The one aiohttp server: platform webhooks, Slack endpoints, /healthz, /readyz and /metrics, and the
limits that keep it standing (request head and body deadlines, a connection cap, quiet client errors)."""

from __future__ import annotations

import asyncio
import logging
import resource
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware

from bot.httpguard import BODY_TIMEOUT, SERVER_BODY_LIMITS, BodyLimits, Refused, refuse_declared_size
from bot.logs import Throttled
from bot.metrics import render_metrics

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Webhooks and probes need a handful of connections; the cap only has to stay well below the
# open-file limit so that accept() itself never runs out of descriptors.
DEFAULT_MAX_CONNECTIONS = 256
# Connections waiting to be accepted. asyncio accepts up to this many at once, each taking a
# descriptor before the cap can refuse it, so the backlog never exceeds the cap either.
BACKLOG = 128
# A request line and its headers are a few hundred bytes, sent at once by any real client.
DEFAULT_HEADER_TIMEOUT = 10.0
# Longer than the 60 s a reverse proxy (nginx) keeps an idle upstream connection, so the proxy
# never sends a request on a connection this side has just closed.
DEFAULT_KEEPALIVE_TIMEOUT = 75.0
# After an answer that did not read the whole body (413, 408, 404), the rest is drained this long.
LINGERING_TIME = 2.0
# Requests still running at shutdown get this long before they are cancelled.
SHUTDOWN_TIMEOUT = 3.0
# What aiohttp's own parser accepts; stated here because these bound every request head.
MAX_LINE_SIZE = 8190
MAX_FIELD_SIZE = 8190
MAX_HEADERS = 100

# Errors that mean the client sent something broken or went away: never the bot's fault.
CLIENT_FAULTS = (HttpProcessingError, ConnectionError, web.RequestPayloadError)
ACCEPT_EXHAUSTED = "socket.accept() out of system resource"
_REFUSED = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
            b"Retry-After: 1\r\nConnection: close\r\n\r\ntoo many connections\n")
_HEAD_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n"
                 b"Connection: close\r\n\r\nrequest head took too long")


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Bounds on what one client can hold of the server."""

    max_body_bytes: int = 1024 * 1024
    header_timeout: float = DEFAULT_HEADER_TIMEOUT     # from a connection's first byte to a complete head
    body_timeout: float = BODY_TIMEOUT                 # for a route to receive the whole body
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    max_connections: int | None = None                 # None: DEFAULT_MAX_CONNECTIONS within the open-file limit

    def connection_cap(self) -> int:
        return self.max_connections if self.max_connections is not None else default_max_connections()


def default_max_connections() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_MAX_CONNECTIONS
    # A quarter of the descriptors for clients leaves the rest to the store, the platform clients and logs.
    return max(4, min(DEFAULT_MAX_CONNECTIONS, soft // 4))


class _ServerLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server logger: a client's broken request becomes one throttled line, no traceback."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger, {})
        self._broken = Throttled(logger)

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        error = exc_info if isinstance(exc_info, BaseException) else (sys.exc_info()[1] if exc_info else None)
        if isinstance(error, CLIENT_FAULTS):
            # The class name only: the message may quote the request's bytes, headers and secrets included.
            quiet = min(level, logging.INFO)
            if self.isEnabledFor(quiet):
                self._broken(quiet, "http: dropped a broken request (%s)", type(error).__name__)
            return
        super().log(level, msg, *args, **kwargs)


def build_web_app(
    routes: Iterable[web.RouteDef],
    readiness: Mapping[str, ReadinessCheck],
    max_body_bytes: int,
    body_timeout: float = BODY_TIMEOUT,
) -> web.Application:
    """`routes` come from the platform adapters; `readiness` names each thing /readyz checks."""
    # client_max_size bounds what request.read() takes; routes that stream the body read it through
    # bot.httpguard, which holds them to SERVER_BODY_LIMITS.
    app = web.Application(client_max_size=max_body_bytes, middlewares=[_declared_size_limit(max_body_bytes)])
    app[SERVER_BODY_LIMITS] = BodyLimits(max_body_bytes, body_timeout)

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


def _declared_size_limit(max_body_bytes: int) -> Middleware:
    @web.middleware
    async def declared_size_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Every route, whether or not it reads a body: a declared size over the limit is answered at once.
        try:
            refuse_declared_size(request, max_body_bytes)
        except Refused as refused:
            return refused.response()
        return await handler(request)

    return declared_size_limit


class _Connection(asyncio.Protocol):
    """One client connection: aiohttp's protocol behind a deadline for each request head."""

    def __init__(self, guard: _ConnectionGuard, inner: web.RequestHandler) -> None:
        self.guard = guard
        self.inner = inner
        self.admitted = False
        self.busy = False          # a request head arrived and its handler has not returned yet
        self.served = 0
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None

    @property
    def idle(self) -> bool:
        """Kept alive after an answer, with nothing of a next request yet: safe to close."""
        return self.served > 0 and not self.busy and self._deadline is None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if not self.guard.admit(self):
            transport.write(_REFUSED)
            transport.close()
            return
        self.admitted = True
        self.inner.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if not self.admitted:
            return
        if not self.busy and self._deadline is None:
            self._arm()        # the first bytes of a next request: its head is now on the clock
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self.admitted:
            self.inner.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.admitted:
            self.guard.release(self)
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.admitted:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.admitted:
            self.inner.resume_writing()

    def head_complete(self) -> None:
        self.busy = True
        self._disarm()

    def request_done(self) -> None:
        self.busy = False
        self.served += 1

    def close(self) -> None:
        self._disarm()
        self.inner.force_close()

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self.guard.header_timeout, self._head_overdue)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_overdue(self) -> None:
        self._deadline = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_HEAD_TIMEOUT)
        log.debug("http: closed a connection whose request head did not arrive in %.1f s", self.guard.header_timeout)
        self.inner.force_close()


class _ConnectionGuard:
    """Counts open connections against the cap and tells each one when its request head is complete."""

    def __init__(self, limits: ServerLimits) -> None:
        self.cap = limits.connection_cap()
        self.header_timeout = limits.header_timeout
        self._open: dict[web.RequestHandler, _Connection] = {}
        self._refusals = Throttled(log)

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def admit(self, connection: _Connection) -> bool:
        if len(self._open) >= self.cap and not self._close_an_idle_one():
            self._refusals(logging.WARNING, "http: refused a connection: %d are open (the cap, server.max_connections)",
                           len(self._open))
            return False
        self._open[connection.inner] = connection
        return True

    def release(self, connection: _Connection) -> None:
        self._open.pop(connection.inner, None)

    def _close_an_idle_one(self) -> bool:
        # A kept-alive connection waiting for nobody gives way before a new client is refused.
        idle = next((connection for connection in self._open.values() if connection.idle), None)
        if idle is None:
            return False
        self.release(idle)
        idle.close()
        return True

    @web.middleware
    async def track(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        connection = self._open.get(request.protocol)
        if connection is not None:
            connection.head_complete()
        try:
            return await handler(request)
        finally:
            if connection is not None:
                connection.request_done()


class WebServer:
    """Serves one aiohttp application on host:port within ServerLimits."""

    def __init__(self, app: web.Application, limits: ServerLimits, host: str, port: int) -> None:
        self.app = app
        self.limits = limits
        self.host = host
        self.requested_port = port
        self._guard = _ConnectionGuard(limits)
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._accept_failures = Throttled(log)
        self._previous_handler: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one the OS picked when 0 was asked for)."""
        if self._listener is None or not self._listener.sockets:
            return self.requested_port
        return int(self._listener.sockets[0].getsockname()[1])

    @property
    def open_connections(self) -> int:
        return self._guard.open_connections

    async def start(self) -> None:
        """Listen; raises OSError when the address cannot be bound."""
        self.app.middlewares.insert(0, self._guard.track)
        # handler_cancellation stays off: a webhook whose sender hung up still finishes taking its update.
        runner = web.AppRunner(
            self.app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT,
            keepalive_timeout=self.limits.keepalive_timeout, lingering_time=LINGERING_TIME,
            max_line_size=MAX_LINE_SIZE, max_field_size=MAX_FIELD_SIZE, max_headers=MAX_HEADERS,
            logger=_ServerLog(logging.getLogger("aiohttp.server")),
        )
        await runner.setup()
        self._runner = runner
        server = runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        try:
            self._listener = await loop.create_server(lambda: _Connection(self._guard, server()),
                                                      self.host, self.requested_port,
                                                      backlog=min(BACKLOG, self._guard.cap))
        except OSError:
            await runner.cleanup()
            self._runner = None
            raise
        self._loop = loop
        self._previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(self._on_loop_exception)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._loop is not None:
            if self._loop.get_exception_handler() == self._on_loop_exception:
                self._loop.set_exception_handler(self._previous_handler)
            self._loop = None

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == ACCEPT_EXHAUSTED:
            # asyncio retries accept() every second and would report every retry with a traceback.
            error = context.get("exception")
            reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
            self._accept_failures(logging.WARNING, "http: cannot accept connections (%s); %d are open",
                                  reason, self._guard.open_connections)
            return
        if self._previous_handler is not None:
            self._previous_handler(loop, context)
        else:
            loop.default_exception_handler(context)
