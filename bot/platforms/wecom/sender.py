"""Posting to WeCom group robots: the `key` in the webhook URL is the credential and stays out of every log."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping

from bot.platforms.base import Gate, RateLimited, RenderingDefect, SendError, TransientError
from bot.platforms.webhook import RobotUrl, Webhook
from bot.platforms.webhook_sender import WebhookSender
from bot.platforms.wecom.errors import CODES
from bot.platforms.wecom.limits import PACE, PLATFORM
from bot.platforms.wecom.settings import FORMATS
from bot.platforms.wecom.text import text_messages
from bot.render import Payload

ROBOT_URL = RobotUrl("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY",
                     re.compile(r"/cgi-bin/webhook/send/?"), query_key="key")
# Bounds each later text message of a part, which cannot be handed back to the deliverer: resending
# the whole part would repeat the messages already posted.
LATER_PIECE_ATTEMPTS = 5


class WeComSender(WebhookSender):
    """The WeCom Channel: one markdown message per payload through the robot the chat names, or for a
    `format: text` robot the same part as one or more text messages."""

    platform = PLATFORM
    codes = CODES
    default_pace = PACE

    def parse_webhook(self, url: str, options: Mapping[str, str]) -> Webhook:
        # WeCom robots have no signing: only the format is the channel's to choose.
        return ROBOT_URL.parse(url, format=options.get("format", FORMATS[0]))

    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        if self.webhook(chat).format != "text":
            return await super().send(chat, payload, gate)
        first, *later = text_messages(payload)
        sent = await super().send(chat, first, gate)
        for piece in later:
            try:
                await self._send_later_piece(chat, piece)
            except SendError as error:
                # The first messages are out: a resend of the whole part by the deliverer would repeat them.
                raise RenderingDefect(f"a later text message of a part failed: {error.reason}") from None
        return sent

    async def _send_later_piece(self, chat: str, piece: Payload) -> None:
        for attempt in range(1, LATER_PIECE_ATTEMPTS + 1):
            try:
                await super().send(chat, piece)
                return
            except RateLimited:
                continue        # the robot is held until its wait is over; the next try waits for it
            except TransientError:
                if attempt == LATER_PIECE_ATTEMPTS:
                    raise
                await asyncio.sleep(min(2.0 ** attempt / 4, 5.0))
        raise TransientError("rate limited on every attempt at a later text message of a part")
