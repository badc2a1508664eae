"""Taking commands from Slack: /slack/commands, /slack/events and /slack/interactions, their signatures, @-mentions."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot import httpguard
from bot.logs import Throttled
from bot.platforms.repeats import first_delivery
from bot.platforms.slack.answers import COMMAND_PREFIX, Invocation, Responder
from bot.platforms.slack.buttons import press_of
from bot.platforms.slack.limits import EVENT_DEDUPE_TTL, MAX_REQUEST_BYTES, SIGNATURE_WINDOW
from bot.platforms.slack.mrkdwn import unescape_mrkdwn
from bot.platforms.slack.settings import SlackSettings
from bot.store.base import Store

log = logging.getLogger(__name__)


class SlackReceiver:
    """Checks what Slack sends (signatures, repeats, our own posts) and hands commands to the responder."""

    def __init__(self, settings: SlackSettings, responder: Responder, store: Store, *,
                 max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.responder = responder
        self.store = store
        self.bot_user_id = ""     # known after auth.test; mentions of it are what we answer
        self._max_request_bytes = max_request_bytes
        self._verifier = SignatureVerifier(settings.signing_secret) if settings.signing_secret else None
        # Forged or stale requests are an attacker's to repeat: one line a minute, with a count.
        self._refusals = Throttled(log)

    @property
    def signed(self) -> bool:
        """Whether the HTTP endpoints can check signatures (a signing_secret is configured)."""
        return self._verifier is not None

    # -- mentions -------------------------------------------------------------------------------
    async def accept_event(self, body: Mapping[str, Any], retry: str | int | None = None) -> None:
        """Take an Events API event_callback: check it, deduplicate it, answer it in the background."""
        event = body.get("event")
        if not isinstance(event, dict) or event.get("type") != "app_mention":
            return
        if event.get("bot_id") or event.get("subtype") or event.get("user") in (None, "", self.bot_user_id):
            return   # our own posts and other bots' never start a conversation
        event_id = str(body.get("event_id", ""))
        if event_id and not await first_delivery(self.store, "slack", event_id, EVENT_DEDUPE_TTL, retry):
            return
        invocation = Invocation(user=str(event["user"]), channel=str(event.get("channel", "")),
                                text=unescape_mrkdwn(self._without_mention(str(event.get("text", "")))),
                                thread_ts=str(event.get("thread_ts") or ""))
        self.responder.spawn(self.responder.answer_mention(invocation))

    def _without_mention(self, text: str) -> str:
        """The command in "<@UBOT> item 3" or "hey <@UBOT|digest> today": what follows the mention."""
        if not self.bot_user_id:
            return " ".join(text.split())
        mention = re.compile(rf"<@{re.escape(self.bot_user_id)}(?:\|[^>]*)?>")
        found = mention.search(text)
        if found is None:
            return " ".join(text.split())
        after = mention.sub(" ", text[found.end():])
        before = mention.sub(" ", text[:found.start()])
        return " ".join((after if after.strip() else before).split())

    # -- HTTP endpoints -------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [web.post("/slack/commands", self._http_command), web.post("/slack/events", self._http_events),
                web.post("/slack/interactions", self._http_interaction)]

    def accept_interaction(self, payload: Mapping[str, Any]) -> None:
        """A button pressed under one of our answers: answered in the background (Slack wants its ack first)."""
        press = press_of(payload)
        if press is not None:
            self.responder.spawn(self.responder.press(press))

    async def _http_interaction(self, request: web.Request) -> web.Response:
        verified = await self._verified_body(request)
        if isinstance(verified, web.Response):
            return verified
        try:
            form = dict(parse_qsl(verified.decode("utf-8"), keep_blank_values=True))
            payload = httpguard.loads_object(form.get("payload", "").encode(), "an interaction")
        except (UnicodeDecodeError, httpguard.Refused):
            return web.Response(status=400, text="not an interaction")
        self.accept_interaction(payload)
        return web.Response(status=200)

    async def _verified_body(self, request: web.Request) -> bytes | web.Response:
        """The raw body when Slack signed it, else the response refusing the request.

        Everything the headers alone can tell is checked before the body is read: that signing is
        configured, that a signature is there, and that its timestamp is within Slack's window.
        """
        if self._verifier is None:
            self._refusals(logging.WARNING, "slack: a request to %s was refused: no signing_secret is configured",
                           request.path)
            return web.Response(status=401, text="request signing is not configured")
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not (signature.startswith("v0=") and _recent(timestamp)):
            self._refusals(logging.WARNING, "slack: refused an unsigned or stale request to %s", request.path)
            return web.Response(status=401, text="invalid signature")
        try:
            body = await httpguard.read_body(request, self._max_request_bytes)
        except httpguard.Refused as refused:
            return refused.response()
        try:
            valid = self._verifier.is_valid(body, timestamp, signature)
        except (ValueError, TypeError, UnicodeError):
            # A signature header with non-ASCII bytes cannot be compared: it is simply not valid.
            valid = False
        if not valid:
            self._refusals(logging.WARNING, "slack: refused a request to %s with a wrong signature", request.path)
            return web.Response(status=401, text="invalid signature")
        return body

    async def _http_command(self, request: web.Request) -> web.Response:
        verified = await self._verified_body(request)
        if isinstance(verified, web.Response):
            return verified
        try:
            form = dict(parse_qsl(verified.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return web.Response(status=400, text="not a form")
        if form.get("ssl_check") == "1":
            return web.Response(status=200)     # Slack checking the certificate of the command URL
        invocation = command_invocation(form)
        if invocation is None:
            return web.Response(status=400, text="not a slash command")
        response = await self.responder.command_response(invocation)
        return web.json_response(response) if response is not None else web.Response(status=200)

    async def _http_events(self, request: web.Request) -> web.Response:
        verified = await self._verified_body(request)
        if isinstance(verified, web.Response):
            return verified
        try:
            body = httpguard.loads_object(verified, "an event")
        except httpguard.Refused as refused:
            return refused.response()
        if body.get("type") == "url_verification":
            return web.json_response({"challenge": str(body.get("challenge", ""))})
        if body.get("type") == "event_callback":
            await self.accept_event(body, request.headers.get("X-Slack-Retry-Num"))
        return web.Response(status=200)


def _recent(timestamp: str) -> bool:
    """A Slack request timestamp (Unix seconds) within SIGNATURE_WINDOW of now."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    return abs(time.time() - int(timestamp)) <= SIGNATURE_WINDOW


def command_invocation(fields: Mapping[str, Any]) -> Invocation | None:
    """The slash command in a form (HTTP) or a Socket Mode payload; None when it names no user or channel."""
    user = str(fields.get("user_id") or "")
    channel = str(fields.get("channel_id") or "")
    if not user or not channel:
        return None
    command = str(fields.get("command") or "").strip()
    return Invocation(user=user, channel=channel, text=unescape_mrkdwn(str(fields.get("text") or "")),
                      response_url=str(fields.get("response_url") or ""),
                      prefix=f"{command} " if command.startswith("/") else COMMAND_PREFIX)
