"""Posting to Slack: chat.postMessage paced per channel, split once when too long, and ephemeral answers."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.base import Gate, NotSent, RateLimited, RenderingDefect, SendError, TransientError
from bot.platforms.json_body import json_text
from bot.platforms.slack.errors import API_FAILURES, translate_error
from bot.platforms.slack.limits import FALLBACK_TEXT_LIMIT, PACE, SlackRateLimit
from bot.platforms.slack.settings import SlackSettings
from bot.render import Payload
from bot.render.ellipsis import shorten
from bot.text.segments import BreakLevel, break_levels

log = logging.getLogger(__name__)

# How long a Web API call may take to answer. Slack answers in well under a second; 30 s is its own
# SDK's default and leaves a slow but successful chat.postMessage time to say so, instead of ending
# as a message that may or may not have been posted.
REQUEST_TIMEOUT = 30.0
# Reaching Slack at all: past this nothing was sent, so a retry cannot duplicate anything.
CONNECT_TIMEOUT = 5.0
# Bounds the second half of a split payload, which cannot be handed back to the deliverer:
# resending the whole part would repeat its first half.
SECOND_HALF_ATTEMPTS = 5
# Posts and edits call the Web API method by name (AsyncWebClient.api_call) with the payload as its
# JSON body: chat_postMessage and chat_update would send the same body, after passing every block
# through their converter for slack_sdk's Block objects, which the bot's plain dicts do not need.
POST_MESSAGE = "chat.postMessage"
UPDATE = "chat.update"


class SlackSender:
    """Sends one rendered payload to one Slack channel (the Channel protocol), and ephemeral answers."""

    platform = "slack"

    def __init__(self, settings: SlackSettings, *, rate_limit: SlackRateLimit = PACE,
                 request_timeout: float = REQUEST_TIMEOUT, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.settings = settings
        self._limiter = rate_limit.chain()
        self._request_timeout = request_timeout
        self._connect_timeout = min(connect_timeout, request_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._web: AsyncWebClient | None = None

    @property
    def client(self) -> AsyncWebClient:
        """The Web API client, opened on first use: `digestbot send` posts without start()."""
        if self._web is None:
            # A connect timeout of its own tells "never sent" (retry freely) from "no answer" (MaybeSent).
            timeout = aiohttp.ClientTimeout(total=self._request_timeout, connect=self._connect_timeout)
            self._session = aiohttp.ClientSession(timeout=timeout, json_serialize=json_text)
            # No retry handlers: the deliverer alone decides about retries, so a timed-out post that
            # did arrive is never silently sent a second time underneath it.
            self._web = AsyncWebClient(token=self.settings.token, base_url=self.settings.base_url,
                                       session=self._session, timeout=math.ceil(self._request_timeout),
                                       retry_handlers=[], logger=_client_logger())
        return self._web

    @property
    def is_open(self) -> bool:
        return self._session is not None and not self._session.closed

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._web = None

    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        try:
            return await self._post(chat, payload, gate)
        except RenderingDefect as defect:
            halves = split_payload(payload)
            log.error("slack refused a payload for %s as %s: a rendering defect; %s", chat, defect.reason,
                      "sending it in two halves" if halves else "it cannot be split")
            if halves is None:
                raise
        first_ts = await self._post(chat, halves[0])
        try:
            await self._post_second_half(chat, halves[1])
        except SendError as error:
            # The first half is out: a resend of the whole part by the deliverer would post it again.
            raise RenderingDefect(f"second half of a split message failed: {error.reason}") from None
        return first_ts

    async def _post(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        await self._limiter.acquire(chat)
        if gate is not None and not await gate():
            raise NotSent("withdrawn before sending")
        body = _body({**payload, "channel": chat, "unfurl_links": False, "unfurl_media": False})
        try:
            response = await self.client.api_call(POST_MESSAGE, json=body)
        except API_FAILURES as error:
            raise translate_error(error) from None
        return str(response.get("ts", ""))

    async def edit(self, chat: str, message_id: str, payload: Payload, gate: Gate | None = None) -> None:
        """chat.update of the message with ts `message_id` to the payload's text and blocks, paced like a post."""
        await self._limiter.acquire(chat)
        if gate is not None and not await gate():
            raise NotSent("withdrawn before editing")
        body = _body({"channel": chat, "ts": message_id,
                      **{name: payload[name] for name in ("text", "blocks") if name in payload}})
        try:
            await self.client.api_call(UPDATE, json=body)
        except API_FAILURES as error:
            raise translate_error(error) from None

    async def _post_second_half(self, chat: str, payload: Payload) -> None:
        for attempt in range(1, SECOND_HALF_ATTEMPTS + 1):
            try:
                await self._post(chat, payload)
                return
            except RateLimited as error:
                await asyncio.sleep(error.retry_after)
            except TransientError:
                if attempt == SECOND_HALF_ATTEMPTS:
                    raise
                await asyncio.sleep(min(2.0 ** attempt / 4, 5.0))
        raise TransientError("rate limited on every attempt at the second half of a split message")

    async def post_response_url(self, url: str, body: Payload) -> None:
        """One follow-up on a slash command's response_url."""
        assert self._session is not None
        async with self._session.post(url, json=body) as response:
            if response.status >= 400:
                # The URL is Slack's and may carry secrets of its own: only its status is logged.
                raise TransientError(f"response_url answered HTTP {response.status}")

    async def post_ephemeral(self, channel: str, user: str, fields: Payload) -> None:
        """A message in `channel` that only `user` sees (chat.postEphemeral), paced like any post."""
        await self._limiter.acquire(channel)
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, **fields)
        except API_FAILURES as error:
            raise translate_error(error) from None


def _body(arguments: dict[str, Any]) -> dict[str, Any]:
    # As the SDK's methods leave it: Slack refuses null for many fields.
    return {name: value for name, value in arguments.items() if value is not None}


def _client_logger() -> logging.Logger:
    """The Web API client's logger, at the level in effect for slack-sdk's own when the client is made.

    slack-sdk formats a debug line with the whole request and another with the answer whenever its
    logger's own level is NOTSET or DEBUG (it reads `logger.level`, not the effective level): some
    0.05 ms a post for a digest's blocks, though nothing prints them unless debug logging is on.
    """
    sdk = logging.getLogger("slack_sdk.web.async_client")
    logger = sdk.getChild("bot")
    logger.setLevel(sdk.getEffectiveLevel())
    return logger


def split_payload(payload: Payload) -> tuple[Payload, Payload] | None:
    """Two smaller messages carrying the same content, or None when it cannot be split further."""
    blocks = payload.get("blocks") or []
    if len(blocks) >= 2:
        weights = [len(_block_text(block)) + 1 for block in blocks]
        total = sum(weights)
        cut, running = 1, 0
        for index, weight in enumerate(weights[:-1], start=1):
            running += weight
            cut = index
            if running * 2 >= total:
                break
        halves = (blocks[:cut], blocks[cut:])
        return (
            {**payload, "blocks": halves[0], "text": _fallback_text(halves[0], str(payload.get("text", "")))},
            {**payload, "blocks": halves[1], "text": _fallback_text(halves[1], str(payload.get("text", "")))},
        )
    if blocks:
        return None
    text = str(payload.get("text", ""))
    middle = _middle_cut(text)
    if middle is None:
        return None
    return {**payload, "text": text[:middle]}, {**payload, "text": text[middle:]}


def _middle_cut(text: str) -> int | None:
    """The best cut (paragraph, else sentence, word, grapheme) in the middle half, nearest the middle."""
    size = len(text)
    levels = break_levels(text)
    candidates = [position for position in range(max(1, size // 4), size - size // 4)
                  if levels[position] < BreakLevel.NONE]
    if not candidates:
        return None
    return min(candidates, key=lambda position: (levels[position], abs(2 * position - size)))


def _block_text(block: Any) -> str:
    if not isinstance(block, dict):
        return ""
    texts: list[str] = []
    text = block.get("text")
    if isinstance(text, dict):
        texts.append(str(text.get("text", "")))
    for element in [*block.get("elements", []), *block.get("fields", [])]:
        if isinstance(element, dict) and isinstance(element.get("text"), str):
            texts.append(element["text"])
    return "\n".join(t for t in texts if t)


def _fallback_text(blocks: Sequence[Any], original: str) -> str:
    text = "\n\n".join(t for t in (_block_text(block) for block in blocks) if t) or original
    return trim(text, FALLBACK_TEXT_LIMIT)


def trim(text: str, limit: int) -> str:
    """`text` cut at a good boundary to at most `limit` characters, an ellipsis marking the cut."""
    return shorten(text, limit, at_breaks=True)
