"""Taking commands from Feishu: POST /feishu/events, its url_verification, token, decryption and repeats."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiohttp import web

from bot import httpguard
from bot.logs import Throttled
from bot.platforms.background import Background
from bot.platforms.feishu.answers import FeishuResponder, incoming_message
from bot.platforms.feishu.crypto import CannotDecrypt, decrypt
from bot.platforms.feishu.limits import EVENT_DEDUPE_TTL, MAX_EVENT_BYTES, PLATFORM
from bot.platforms.feishu.settings import FeishuSettings
from bot.platforms.repeats import first_delivery
from bot.store.base import Store

log = logging.getLogger(__name__)

MESSAGE_EVENT = "im.message.receive_v1"


class FeishuEvents:
    """Checks what Feishu sends (decrypts it, its token, repeats) and hands messages to the responder."""

    def __init__(self, settings: FeishuSettings, responder: FeishuResponder, store: Store, background: Background,
                 *, max_request_bytes: int = MAX_EVENT_BYTES) -> None:
        self.settings = settings
        self.responder = responder
        self.store = store
        self.background = background
        self._max_request_bytes = max_request_bytes
        # Forged requests are an attacker's to repeat: one line a minute, with a count.
        self._refusals = Throttled(log)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/feishu/events", self._http)]

    async def _http(self, request: web.Request) -> web.Response:
        try:
            body = await self._event(request)
        except httpguard.Refused as refused:
            return refused.response()
        token = _token(body)
        expected = self.settings.verification_token
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            self._refusals(logging.WARNING, "feishu: refused an event with a wrong verification token")
            return web.Response(status=401, text="invalid token")
        if body.get("type") == "url_verification":
            return web.json_response({"challenge": str(body.get("challenge", ""))})
        header = body.get("header")
        if isinstance(header, dict) and header.get("event_type") == MESSAGE_EVENT:
            await self._accept(str(header.get("event_id", "")), body.get("event"))
        return web.json_response({})

    async def _event(self, request: web.Request) -> dict[str, Any]:
        """The event as a JSON object, decrypted when it came encrypted; Refused for anything else."""
        raw = await httpguard.read_body(request, self._max_request_bytes)
        body = httpguard.loads_json(raw)
        if isinstance(body, dict) and "encrypt" in body:
            if not self.settings.encrypt_key:
                self._refusals(logging.WARNING, "feishu: an encrypted event arrived but feishu.encrypt_key is unset")
                raise httpguard.Refused(400, "encrypted events need feishu.encrypt_key")
            try:
                body = httpguard.loads_json(decrypt(self.settings.encrypt_key, str(body["encrypt"])).encode())
            except CannotDecrypt as error:
                self._refusals(logging.WARNING, "feishu: could not decrypt an event (%s)", error)
                raise httpguard.Refused(400, "cannot decrypt") from None
        if not isinstance(body, dict):
            raise httpguard.Refused(400, "not an event")
        return body

    async def _accept(self, event_id: str, event: Any) -> None:
        """Answer a message event once, however often Feishu delivers it, in the background."""
        message = incoming_message(event) if isinstance(event, dict) else None
        if message is None:
            return
        if event_id and not await first_delivery(self.store, PLATFORM, event_id, EVENT_DEDUPE_TTL):
            return
        self.background.spawn(self.responder.answer(message))


def _token(body: dict[str, Any]) -> str:
    """The verification token: in the header (schema 2.0) or at the top (url_verification, schema 1.0)."""
    header = body.get("header")
    token = header.get("token") if isinstance(header, dict) else body.get("token")
    return token if isinstance(token, str) else ""
