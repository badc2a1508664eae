"""Posting to Discord webhooks: `?wait=true` for the message id, within the headers' and our own rate limits."""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp

from bot.keyed_locks import KeyedLocks
from bot.platforms.base import Gate, NotSent, SendError, Unauthorized
from bot.platforms.discord.buckets import Buckets
from bot.platforms.discord.errors import DiscordRateLimited, answer_error, transport_error
from bot.platforms.discord.limits import (
    CONNECT_TIMEOUT,
    FOLLOWUP_WINDOW,
    PACE,
    PLATFORM,
    REQUEST_TIMEOUT,
    DiscordRateLimit,
)
from bot.platforms.discord.webhooks import Webhook, parse_webhook
from bot.platforms.http_client import REQUEST_FAILURES, HttpSession, json_answer
from bot.render import Payload

log = logging.getLogger(__name__)

# Chats of this form are an interaction's follow-ups, not a configured webhook.
INTERACTION_CHAT = "interaction:"


class DiscordSender:
    """The Discord Channel: posts a rendered payload through the webhook the chat names, returns its id."""

    platform = PLATFORM

    def __init__(self, *, session: aiohttp.ClientSession | None = None, rate_limit: DiscordRateLimit = PACE,
                 request_timeout: float = REQUEST_TIMEOUT, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.http = HttpSession(session, request_timeout=request_timeout, connect_timeout=connect_timeout)
        self._limiter = rate_limit.chain()
        self.buckets = Buckets()
        # One request at a time per bucket: an answer's headers describe the bucket after that request,
        # so a second request in flight would make them stale the moment they arrive.
        self._in_flight = KeyedLocks()
        self.webhooks: dict[str, Webhook] = {}
        self._by_url: dict[str, Webhook] = {}
        self._interactions: dict[str, tuple[Webhook, float]] = {}

    # -- webhooks and the session ----------------------------------------------------------------
    def add_webhook(self, url: str) -> str:
        """Remember a webhook (its token is masked in every log from now on); the chat that names it."""
        webhook = parse_webhook(url)
        self.webhooks[webhook.id] = webhook
        self._by_url[url] = webhook
        return webhook.id

    def open_interaction(self, base_url: str, application_id: str, interaction_id: str, token: str) -> str:
        """The chat that posts follow-ups to one interaction while its token lasts (15 minutes).

        Follow-ups then travel like any part (the reply sink's ordering and retries) and no log line
        or store key ever holds the token: the chat is only the interaction's id.
        """
        now = time.monotonic()
        self._interactions = {chat: (webhook, until) for chat, (webhook, until) in self._interactions.items()
                              if until > now}
        chat = f"{INTERACTION_CHAT}{interaction_id}"
        url = f"{base_url.rstrip('/')}/webhooks/{application_id}/{token}"
        self._interactions[chat] = (Webhook(chat, token, url), now + FOLLOWUP_WINDOW)
        return chat

    def webhook(self, chat: str) -> Webhook:
        """The webhook a chat names: its URL (as a channel entry gives it), or its id once added."""
        known = self.webhooks.get(chat) or self._by_url.get(chat)
        if known is not None:
            return known
        interaction = self._interactions.get(chat)
        if interaction is not None:
            return interaction[0]
        if chat.startswith(INTERACTION_CHAT):
            # Nobody's fault, and nothing to mark: the asker simply waited past the token's 15 minutes.
            raise Unauthorized("the interaction's token has expired: no more follow-ups")
        if chat.startswith(("https://", "http://")):
            try:
                return self.webhooks[self.add_webhook(chat)]
            except ValueError as error:
                raise Unauthorized(f"not a webhook URL: {error}") from None
        # Not the chat's fault: the config lost its webhook; nothing is marked gone.
        raise Unauthorized(f"no webhook is configured for discord chat {chat}")

    @property
    def session(self) -> aiohttp.ClientSession:
        return self.http.session

    @property
    def is_open(self) -> bool:
        return self.http.is_open

    async def close(self) -> None:
        await self.http.close()

    # -- posting ---------------------------------------------------------------------------------
    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        """Post one payload through `chat`'s webhook; the message id, or a SendError subclass."""
        webhook = self.webhook(chat)
        if not chat.startswith(INTERACTION_CHAT):
            # Follow-ups are paced by Discord's headers alone: a window per interaction would be kept forever.
            await self._limiter.acquire(webhook.id)
        return await self.post(webhook.id, webhook.execute_url(), payload, gate)

    async def edit(self, chat: str, message_id: str, payload: Payload, gate: Gate | None = None) -> None:
        """PATCH the webhook's message to the payload's content and embeds, paced like a post."""
        webhook = self.webhook(chat)
        await self._limiter.acquire(webhook.id)
        body: Payload = {name: payload[name] for name in ("content", "embeds", "allowed_mentions") if name in payload}
        async with self._in_flight.hold(webhook.id):
            await self._post(webhook.id, webhook.message_url(message_id), body, gate, method="PATCH")

    async def post(self, key: str, url: str, body: Payload, gate: Gate | None = None) -> str:
        """POST `body` as JSON to `url`, within `key`'s bucket; the answer's message id."""
        async with self._in_flight.hold(key):
            return await self._post(key, url, body, gate)

    async def _post(self, key: str, url: str, body: Payload, gate: Gate | None, method: str = "POST") -> str:
        await self.buckets.reserve(key)
        if gate is not None and not await gate():
            raise NotSent("withdrawn before sending")
        try:
            async with self.session.request(method, url, json=body, timeout=self.http.timeout) as response:
                self.buckets.update(key, response.headers)
                answer = await json_answer(response)
                if response.status < 400:
                    return _message_id(answer)
                error = answer_error(response.status, answer, response.headers)
        except REQUEST_FAILURES as failure:
            raise transport_error(failure) from None
        self._note_refusal(key, error, response.headers)
        raise error

    def _note_refusal(self, key: str, error: SendError, headers: Any) -> None:
        if isinstance(error, DiscordRateLimited):
            # Every later request to this key (or to Discord at all) waits too, not only this part's resend.
            self.buckets.limited(key, error.retry_after, is_global=error.is_global)
            log.info("discord: %s limited for %.2fs (bucket %s, scope %s)",
                     "all requests" if error.is_global else f"webhook {key}", error.retry_after,
                     headers.get("X-RateLimit-Bucket", "?"), headers.get("X-RateLimit-Scope", "?"))



def _message_id(answer: Any) -> str:
    # wait=true answers with the message; without it (204) there is no id to keep.
    if isinstance(answer, dict) and isinstance(answer.get("id"), str | int):
        return str(answer["id"])
    return ""
