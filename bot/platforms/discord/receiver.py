"""Taking interactions from Discord at POST /discord/interactions: signatures first, then PING or a command."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from bot import httpguard
from bot.logs import Throttled
from bot.platforms.discord import interactions
from bot.platforms.discord.answers import Responder
from bot.platforms.discord.limits import INLINE_ANSWER_WAIT, MAX_INTERACTION_BYTES
from bot.platforms.discord.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, InteractionVerifier
from bot.render import Payload

log = logging.getLogger(__name__)

ROUTE = "/discord/interactions"


class DiscordReceiver:
    """Checks that an interaction is Discord's and answers it within Discord's 3 seconds."""

    def __init__(self, responder: Responder, public_key: str, *, inline_wait: float = INLINE_ANSWER_WAIT,
                 max_request_bytes: int = MAX_INTERACTION_BYTES) -> None:
        self.responder = responder
        self._verifier = InteractionVerifier(public_key) if public_key else None
        self._inline_wait = inline_wait
        self._max_request_bytes = max_request_bytes
        # Discord sends bad signatures on purpose, and attackers repeat theirs: one line a minute, counted.
        self._refusals = Throttled(log)

    @property
    def signed(self) -> bool:
        return self._verifier is not None

    def routes(self) -> list[web.RouteDef]:
        return [web.post(ROUTE, self._http_interaction)]

    async def _verified_body(self, request: web.Request) -> bytes | web.Response:
        """The raw body when Discord signed it, else the 401 (or 413, 408) refusing the request.

        Everything the headers alone can tell is checked before the body is read, and the signature
        before the body is parsed.
        """
        if self._verifier is None:
            self._refusals(logging.WARNING, "discord: an interaction was refused: no discord.public_key is configured")
            return web.Response(status=401, text="interactions are not configured")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        if not self._verifier.headers_plausible(signature, timestamp):
            self._refusals(logging.WARNING, "discord: refused an unsigned or stale interaction")
            return web.Response(status=401, text="invalid request signature")
        try:
            body = await httpguard.read_body(request, self._max_request_bytes)
        except httpguard.Refused as refused:
            return refused.response()
        if not self._verifier.valid(signature, timestamp, body):
            self._refusals(logging.WARNING, "discord: refused an interaction with a wrong signature")
            return web.Response(status=401, text="invalid request signature")
        return body

    async def _http_interaction(self, request: web.Request) -> web.StreamResponse:
        verified = await self._verified_body(request)
        if isinstance(verified, web.Response):
            return verified
        try:
            body = httpguard.loads_object(verified, "an interaction")
        except httpguard.Refused as refused:
            return refused.response()
        if body.get("type") == interactions.PING:
            return web.json_response(interactions.pong())
        if body.get("type") != interactions.APPLICATION_COMMAND:
            return web.Response(status=400, text="unsupported interaction type")
        invocation = interactions.invocation(body)
        if invocation is None:
            return web.Response(status=400, text="not a slash command")
        return await self._command(request, invocation, str(body.get("id") or ""))

    async def _command(self, request: web.Request, invocation: interactions.Invocation,
                       interaction_id: str) -> web.StreamResponse:
        """Answer in place when the answer is ready in time, else defer; the rest follows up."""
        responder = self.responder
        task = responder.spawn(responder.answer(invocation))
        done, _ = await asyncio.wait({task}, timeout=self._inline_wait)
        ephemeral = not invocation.public
        if not done:
            response = await _answer_now(request, interactions.deferred(ephemeral=ephemeral))
            responder.spawn(responder.answer_later(invocation, interaction_id, task))
            return response
        payloads: list[Payload] = task.result()
        response = await _answer_now(request, interactions.answer(payloads[0], ephemeral=ephemeral))
        # Follow-ups are only accepted once Discord has the answer: it is written out before they start.
        responder.spawn(responder.follow_up(invocation, interaction_id, payloads[1:]))
        return response


async def _answer_now(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    response = web.json_response(body)
    await response.prepare(request)
    await response.write_eof()
    return response
