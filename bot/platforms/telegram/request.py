"""The Bot API client's HTTP requests, with parameters sent as one JSON body rather than a form."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar

import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.platforms.json_body import json_bytes

# Requests to the Bot API under way at once; the rest wait their turn here. httpcore's pool goes over
# every open connection and every waiting request each time one starts or ends, so its CPU per
# request grows with both: at a paid broadcast's rate, 200 deliveries in flight on PTB's pool of 256
# cost 531 messages per CPU-second against 834 with 64 in flight. 32 connections carry ~300 messages
# a second even at a 100 ms round trip.
CONCURRENT_REQUESTS = 32
# How long an upload may take to go out (HTTPXRequest's media_write_timeout); the bot uploads nothing today.
MEDIA_WRITE_TIMEOUT = 20.0
# PTB's words for a request that never left: callers tell it apart from a timeout on the way.
POOL_TIMEOUT = ("Pool timeout: All connections in the connection pool are occupied. Request was *not* sent to "
                "Telegram. Consider adjusting the connection pool size or the pool timeout.")
# The request whose turn the running task holds (JsonRequest.slot), so its call does not wait again.
_HELD: ContextVar[JsonRequest | None] = ContextVar("telegram_request_turn", default=None)
JSON_HEADERS = {"User-Agent": BaseRequest.USER_AGENT, "Content-Type": "application/json"}
FORM_HEADERS = {"User-Agent": BaseRequest.USER_AGENT}


class JsonRequest(BaseRequest):
    """PTB's HTTPXRequest, except that a call without files sends its parameters as JSON.

    HTTPXRequest form-encodes them, and urllib percent-escapes a digest part's ~5 KB of HTML one
    byte at a time in Python (about 0.13 ms a message); orjson writes it in C. The Bot API
    takes application/json for every method that uploads nothing. Everything else is as
    HTTPXRequest does it: one httpx client, its timeouts and pool, httpx's failures raised as
    TimedOut or NetworkError with the httpx exception as their cause (errors.py reads it).
    """

    __slots__ = ("_client", "_concurrent", "_slots", "_timeout")

    def __init__(self, *, connect_timeout: float, read_timeout: float, write_timeout: float,
                 pool_timeout: float, concurrent: int = CONCURRENT_REQUESTS) -> None:
        self._timeout = httpx.Timeout(connect=connect_timeout, read=read_timeout, write=write_timeout,
                                      pool=pool_timeout)
        self._concurrent = concurrent
        self._slots = asyncio.Semaphore(concurrent)
        self._client = self._build_client()

    def _build_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._timeout, limits=httpx.Limits(max_connections=self._concurrent),
                                 http1=True, http2=False)

    @property
    def read_timeout(self) -> float | None:
        return self._timeout.read

    async def initialize(self) -> None:
        if self._client.is_closed:
            self._client = self._build_client()

    async def shutdown(self) -> None:
        if not self._client.is_closed:
            await self._client.aclose()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._client.is_closed:
            raise RuntimeError("This JsonRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        timeout = httpx.Timeout(
            connect=_chosen(connect_timeout, self._timeout.connect),
            read=_chosen(read_timeout, self._timeout.read),
            write=_chosen(write_timeout, MEDIA_WRITE_TIMEOUT if uploads else self._timeout.write),
            pool=_chosen(pool_timeout, self._timeout.pool),
        )
        if _HELD.get() is self:       # the caller took its turn already (slot())
            response = await self._send(method, url, request_data, uploads, timeout)
        else:
            async with self._turn(timeout.pool):
                response = await self._send(method, url, request_data, uploads, timeout)
        return response.status_code, response.content

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Take this request's turn among the CONCURRENT_REQUESTS before the last checks of a send
        (its gate): a turn waited for after them would let the send go out later than they hold."""
        if _HELD.get() is self:
            yield
            return
        async with self._turn(self._timeout.pool):
            token = _HELD.set(self)
            try:
                yield
            finally:
                _HELD.reset(token)

    @contextlib.asynccontextmanager
    async def _turn(self, pool_timeout: float | None) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            # As httpx's own pool says it: the request never left (errors.py reads the cause).
            raise TimedOut(POOL_TIMEOUT) from httpx.PoolTimeout("no free request slot")
        try:
            yield
        finally:
            self._slots.release()

    async def _send(self, method: str, url: str, request_data: RequestData | None, uploads: bool,
                    timeouts: httpx.Timeout) -> httpx.Response:
        try:
            if request_data is None:      # a file download (retrieve): nothing to send
                response = await self._client.request(method, url, headers=FORM_HEADERS, timeout=timeouts)
            elif uploads:
                response = await self._client.request(method, url, headers=FORM_HEADERS, timeout=timeouts,
                                                      files=request_data.multipart_data,
                                                      data=request_data.json_parameters)
            else:
                # The text as UTF-8; a lone surrogate fails here as it did in a form.
                body = json_bytes(request_data.parameters)
                response = await self._client.request(method, url, headers=JSON_HEADERS, timeout=timeouts,
                                                      content=body)
        except httpx.TimeoutException as error:
            if isinstance(error, httpx.PoolTimeout):
                raise TimedOut(POOL_TIMEOUT) from error
            raise TimedOut from error
        except httpx.HTTPError as error:
            raise NetworkError(f"httpx.{error.__class__.__name__}: {error}") from error
        return response


def _chosen(value: object, default: float | None) -> float | None:
    """The timeout a call asked for, or the client's when it left it unset (BaseRequest.DEFAULT_NONE)."""
    if value is None or isinstance(value, int | float):
        return value
    return default
