"""The Bot API client's HTTP requests, with parameters sent as one JSON body rather than a form."""

from __future__ import annotations

import json

import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# PTB's own pool size for the bot's requests (ApplicationBuilder's default).
CONNECTION_POOL_SIZE = 256
# How long an upload may take to go out (HTTPXRequest's media_write_timeout); the bot uploads nothing today.
MEDIA_WRITE_TIMEOUT = 20.0
JSON_HEADERS = {"User-Agent": BaseRequest.USER_AGENT, "Content-Type": "application/json"}
FORM_HEADERS = {"User-Agent": BaseRequest.USER_AGENT}


class JsonRequest(BaseRequest):
    """PTB's HTTPXRequest, except that a call without files sends its parameters as JSON.

    HTTPXRequest form-encodes them, and urllib percent-escapes a digest part's ~5 KB of HTML one
    byte at a time in Python (about 0.13 ms a message); json.dumps writes it in C. The Bot API
    takes application/json for every method that uploads nothing. Everything else is as
    HTTPXRequest does it: one httpx client, its timeouts and pool, httpx's failures raised as
    TimedOut or NetworkError with the httpx exception as their cause (errors.py reads it).
    """

    __slots__ = ("_client", "_timeout")

    def __init__(self, *, connect_timeout: float, read_timeout: float, write_timeout: float,
                 pool_timeout: float) -> None:
        self._timeout = httpx.Timeout(connect=connect_timeout, read=read_timeout, write=write_timeout,
                                      pool=pool_timeout)
        self._client = self._build_client()

    def _build_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._timeout, limits=httpx.Limits(max_connections=CONNECTION_POOL_SIZE),
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
        try:
            if request_data is None:      # a file download (retrieve): nothing to send
                response = await self._client.request(method, url, headers=FORM_HEADERS, timeout=timeout)
            elif uploads:
                response = await self._client.request(method, url, headers=FORM_HEADERS, timeout=timeout,
                                                      files=request_data.multipart_data,
                                                      data=request_data.json_parameters)
            else:
                # ensure_ascii off: the text as UTF-8, and a lone surrogate fails here as it did in a form.
                body = json.dumps(request_data.parameters, ensure_ascii=False).encode()
                response = await self._client.request(method, url, headers=JSON_HEADERS, timeout=timeout,
                                                      content=body)
        except httpx.TimeoutException as error:
            if isinstance(error, httpx.PoolTimeout):
                raise TimedOut(
                    "Pool timeout: All connections in the connection pool are occupied. Request was *not* sent "
                    "to Telegram. Consider adjusting the connection pool size or the pool timeout."
                ) from error
            raise TimedOut from error
        except httpx.HTTPError as error:
            raise NetworkError(f"httpx.{error.__class__.__name__}: {error}") from error
        return response.status_code, response.content


def _chosen(value: object, default: float | None) -> float | None:
    """The timeout a call asked for, or the client's when it left it unset (BaseRequest.DEFAULT_NONE)."""
    if value is None or isinstance(value, int | float):
        return value
    return default
