"""Untrusted HTTP request bodies read within a size limit and a deadline, and JSON within a nesting bound."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

# Deeper than any Telegram update or Slack event nests (a rich-text block inside an event is about
# a dozen levels), shallow enough that decoding and every later walk over the value stay far from
# Python's recursion limit.
MAX_JSON_DEPTH = 64
# A platform posts its few kilobytes at once; a body still arriving after this is a client holding
# a connection open, not a slow network.
BODY_TIMEOUT = 15.0
READ_CHUNK = 64 * 1024

# A JSON string, or an unterminated one running to the end: matching from any quote always consumes
# up to its closing quote or the end of input, so stripping strings is linear in the body's length.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\[\s\S][^"\\]*)*(?:"|\\?\Z)')
_BRACKETS_ONLY = bytes(byte for byte in range(256) if byte not in b"[]{}")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")
_OPEN = ord("[")


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """How much of a request body the server reads, and for how long."""

    max_bytes: int
    timeout: float = BODY_TIMEOUT


# build_web_app stores the server's own limits here, so every route it serves is held to them even
# when the adapter behind the route would allow more.
SERVER_BODY_LIMITS = web.AppKey("server_body_limits", BodyLimits)


class Refused(Exception):
    """The request is answered with `status` and a short text; nothing behind the route runs."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text

    def response(self) -> web.Response:
        response = web.Response(status=self.status, text=self.text)
        if self.status in (408, 413):
            # Whatever else the client is still sending is not worth reading on this connection.
            response.force_close()
        return response


def limits_for(request: web.Request, max_bytes: int, timeout: float = BODY_TIMEOUT) -> BodyLimits:
    """The route's own limits, tightened to the server's where the route is served by build_web_app."""
    server = request.config_dict.get(SERVER_BODY_LIMITS)
    if server is None:
        return BodyLimits(max_bytes, timeout)
    return BodyLimits(min(max_bytes, server.max_bytes), min(timeout, server.timeout))


def refuse_declared_size(request: web.Request, max_bytes: int) -> None:
    """Raises Refused(413) when the Content-Length alone is over the limit; reads nothing."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise Refused(413, f"request body too large (at most {max_bytes} bytes)")


async def read_body(request: web.Request, max_bytes: int, within: float = BODY_TIMEOUT) -> bytes:
    """The whole body, or Refused: 413 beyond the limit, 408 past the deadline, 400 when cut off.

    The Content-Length is checked before anything is read, and a chunked body is counted while it
    arrives, so no more than one chunk past the limit is ever held.
    """
    limits = limits_for(request, max_bytes, within)
    refuse_declared_size(request, limits.max_bytes)
    body = bytearray()
    try:
        async with asyncio.timeout(limits.timeout):
            while chunk := await request.content.read(READ_CHUNK):
                body += chunk
                if len(body) > limits.max_bytes:
                    raise Refused(413, f"request body too large (at most {limits.max_bytes} bytes)")
    except TimeoutError:
        raise Refused(408, "request body not received in time") from None
    except (OSError, HttpProcessingError, web.RequestPayloadError):
        # The client hung up or broke the framing: nobody may be left to read the answer.
        raise Refused(400, "request body incomplete") from None
    return bytes(body)


def json_too_deep(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool | None:
    """True when the JSON text nests deeper than `max_depth`, None when its brackets do not pair up.

    Works on the bytes without decoding them: strings are cut out and only the brackets that remain
    are walked, so a real update or event (a few dozen brackets) costs next to nothing and a
    megabyte of brackets is one linear pass.
    """
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False        # even counting the brackets inside strings it cannot be deeper
    brackets = _JSON_STRING.sub(b"", body).translate(_ONE_KIND, _BRACKETS_ONLY)
    if b"[" * (max_depth + 1) in brackets:
        return True
    depth = 0
    for byte in brackets:
        if byte == _OPEN:
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
            if depth < 0:
                return None
    return False if depth == 0 else None


def loads_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The decoded body, or Refused(400) for text that is not JSON or nests deeper than `max_depth`."""
    depth = json_too_deep(body, max_depth)
    if depth:
        raise Refused(400, f"JSON nested more than {max_depth} levels deep")
    if depth is None:
        raise Refused(400, "invalid JSON")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise Refused(400, "invalid JSON") from None


def loads_object(body: bytes, what: str, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """The decoded body when it is a JSON object, else Refused(400) saying it is not `what`."""
    value = loads_json(body, max_depth)
    if not isinstance(value, dict):
        raise Refused(400, f"not {what}")
    return value
