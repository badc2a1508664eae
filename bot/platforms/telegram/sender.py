"""Sending to Telegram: one sendMessage per payload, within the flood limits, the gate asked last."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import LinkPreviewOptions, MessageEntity, ReplyParameters
from telegram.error import TelegramError
from telegram.ext import Application

from bot.platforms.base import Gate, NotSent, RenderingDefect
from bot.platforms.telegram import errors
from bot.platforms.telegram.limits import PLATFORM, TelegramRateLimits
from bot.platforms.telegram.redaction import scrub
from bot.render import Payload

TelegramApplication = Application[Any, Any, Any, Any, Any, Any]
# Telegram's answer to an edit that changes nothing.
NOT_MODIFIED = "message is not modified"


def chat_id(chat: str) -> int | str:
    """The Bot API's chat_id for a chat as the bot keeps it: numeric ids as numbers, "@name" as is."""
    return int(chat) if chat.lstrip("-").isdigit() else chat


class TelegramSender:
    """The Telegram Channel: sends payloads through the application's bot, opening its client when needed."""

    platform = PLATFORM

    def __init__(self, application: TelegramApplication, *, token: str, rate_limits: TelegramRateLimits,
                 send_timeout: float, paid_broadcast: bool = False) -> None:
        self.application = application
        self.rate_limits = rate_limits
        self._token = token
        self._limiter = rate_limits.chain()
        self._send_timeout = send_timeout
        # Only asked for when paid for: Telegram charges Stars for every message sent with it.
        self._broadcast: dict[str, Any] = {"allow_paid_broadcast": True} if paid_broadcast else {}
        self._open_lock = asyncio.Lock()
        self.is_open = False     # the HTTP client is open (by start() or by a first send)
        self.username: str | None = None

    def scrub(self, text: str) -> str:
        return scrub(text, self._token)

    def opened(self) -> None:
        """The application opened the bot's client (start() did): sends use it as it is."""
        self.is_open = True
        self.username = self.application.bot.username

    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        """Send one sendMessage payload to `chat`; the message id, or a SendError subclass."""
        text, parse_mode, extra, api_kwargs = _send_arguments(payload)
        await self._ensure_open()
        await self._limiter.acquire(chat)
        if gate is not None and not await gate():
            raise NotSent("withdrawn before sending")
        try:
            message = await self.application.bot.send_message(
                chat_id=chat_id(chat), text=text, parse_mode=parse_mode,
                api_kwargs=api_kwargs or None, read_timeout=self._send_timeout, **self._broadcast, **extra,
            )
        except TelegramError as error:
            raise errors.send_error(error, self.scrub) from None
        return str(message.message_id)

    async def edit(self, chat: str, message_id: str, payload: Payload, gate: Gate | None = None) -> None:
        """editMessageText with a sendMessage payload's text and formatting, paced like a send."""
        text, parse_mode, extra, api_kwargs = _send_arguments(payload)
        extra.pop("reply_parameters", None)
        for where in ("disable_notification", "message_thread_id"):     # where it went: not editable
            api_kwargs.pop(where, None)
        await self._ensure_open()
        await self._limiter.acquire(chat)
        if gate is not None and not await gate():
            raise NotSent("withdrawn before editing")
        try:
            await self.application.bot.edit_message_text(
                text=text, chat_id=chat_id(chat), message_id=int(message_id), parse_mode=parse_mode,
                api_kwargs=api_kwargs or None, read_timeout=self._send_timeout, **extra)
        except TelegramError as error:
            if NOT_MODIFIED in str(error).lower():
                return      # it already says this: an edit repeated after a restart
            raise errors.send_error(error, self.scrub) from None

    async def _ensure_open(self) -> None:
        # A one-off `send` uses the channel without start(): the HTTP client still needs opening.
        bot = self.application.bot
        async with self._open_lock:
            if self.is_open:
                return
            try:
                await bot.initialize()
            except TelegramError as error:
                raise errors.open_error(error, self.scrub) from None
            self.is_open = True
            self.username = bot.username


def _send_arguments(payload: Payload) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """A rendered payload as send_message's text, parse mode, PTB objects, and the rest as api_kwargs."""
    arguments = dict(payload)
    extra: dict[str, Any] = {}
    try:
        text = arguments.pop("text")
        if (options := arguments.pop("link_preview_options", None)) is not None:
            extra["link_preview_options"] = LinkPreviewOptions(**options)
        if (entities := arguments.pop("entities", None)) is not None:
            extra["entities"] = [MessageEntity(**entity) for entity in entities]
        if (reply := arguments.pop("reply_parameters", None)) is not None:
            extra["reply_parameters"] = ReplyParameters(**reply)
    except (KeyError, TypeError) as error:
        raise RenderingDefect(f"not a sendMessage payload: {error}") from None
    parse_mode = arguments.pop("parse_mode", None)
    return text, parse_mode, extra, arguments
