"""The webhook platforms' HTTP client side: one aiohttp session per sender, its timeouts, answers read as
JSON, and what aiohttp raises as the bot's SendError (a timeout after the request went out: MaybeSent)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from bot.platforms.base import MaybeSent, SendError, TransientError

# How long a post may take to answer: a slow success must not become a message that may or may not be there.
REQUEST_TIMEOUT = 30.0
# Reaching the platform at all: past this nothing was sent, so a retry cannot duplicate anything.
CONNECT_TIMEOUT = 5.0
# What a request may raise; transport_error turns each into the bot's SendError.
REQUEST_FAILURES = (aiohttp.ClientError, TimeoutError)


def transport_error(error: Exception, platform: str) -> SendError:
    """The bot's SendError for what aiohttp raised; the reason names only the exception's type, never a URL."""
    if isinstance(error, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError):
        return TransientError(f"not sent: {type(error).__name__}")
    if isinstance(error, TimeoutError | aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        # The request went out and the answer did not come back: the platform may have posted it.
        what = "timed out" if isinstance(error, TimeoutError) else type(error).__name__
        return MaybeSent(f"no answer from {platform} ({what}) after the request went out")
    if isinstance(error, aiohttp.ClientError):
        return TransientError(type(error).__name__)
    raise TypeError(f"not a send error: {type(error).__name__}") from error


class HttpSession:
    """A sender's aiohttp session: the one it was handed, or its own, opened on first use (`digestbot send`
    posts without start()) and closed at stop."""

    def __init__(self, session: aiohttp.ClientSession | None = None, *, request_timeout: float = REQUEST_TIMEOUT,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self._session = session
        self._own = session is None
        # A connect timeout of its own tells "never sent" (retry freely) from "no answer" (MaybeSent).
        self.timeout = aiohttp.ClientTimeout(total=request_timeout, connect=min(connect_timeout, request_timeout))

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._own = True
        return self._session

    @property
    def is_open(self) -> bool:
        return self._session is not None and not self._session.closed

    async def close(self) -> None:
        if self._session is not None and self._own:
            await self._session.close()
        self._session = None


async def json_answer(response: aiohttp.ClientResponse) -> Any:
    """The answer's JSON, or None for an empty or non-JSON body (a proxy's HTML error page)."""
    text = await response.text(errors="replace")
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
