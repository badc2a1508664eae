"""Sending to Telegram: one sendMessage per payload, within the flood limits, the gate asked last."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from typing import Any

from telegram import LinkPreviewOptions, MessageEntity, ReplyParameters
from telegram.error import TelegramError
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from bot.platforms.base import Gate, NotSent, RenderingDefect
from bot.platforms.telegram import errors
from bot.platforms.telegram.limits import PLATFORM, TelegramRateLimits
from bot.platforms.telegram.redaction import scrub
from bot.platforms.telegram.request import JsonRequest
from bot.render import Payload

TelegramApplication = Application[Any, Any, Any, Any, Any, Any]
# Telegram's answer to an edit that changes nothing.
NOT_MODIFIED = "message is not modified"

# Sends and edits go through Bot.do_api_request, not send_message and edit_message_text: the same
# request and the same errors (RetryAfter, ChatMigrated, Forbidden, BadRequest, TimedOut, ...), but
# the answer is left as the JSON Telegram sent. send_message would build a telegram.Message from it,
# with a MessageEntity for every link and bold run (about 60 in a digest part): some 0.35 ms a
# message, of which the bot reads the message_id alone.
SEND_MESSAGE = "sendMessage"
EDIT_MESSAGE_TEXT = "editMessageText"
# do_api_request advises the wrapper methods for methods that have one; here they are avoided on purpose.
_WRAPPER_ADVICE = rf"Please use 'Bot\.({SEND_MESSAGE}|{EDIT_MESSAGE_TEXT})' instead of 'Bot\.do_api_request"


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
        # Set here rather than at import: test runners reset the warning filters for every test.
        warnings.filterwarnings("ignore", _WRAPPER_ADVICE, PTBUserWarning)
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
        parameters = {"chat_id": chat_id(chat), **self._broadcast, **_api_parameters(payload)}
        await self._ensure_open()
        await self._limiter.acquire(chat)
        try:
            async with self._turn():
                if gate is not None and not await gate():
                    raise NotSent("withdrawn before sending")
                answer = await self.application.bot.do_api_request(
                    SEND_MESSAGE, api_kwargs=parameters, read_timeout=self._send_timeout)
        except TelegramError as error:
            raise errors.send_error(error, self.scrub) from None
        return str(answer["message_id"])

    async def edit(self, chat: str, message_id: str, payload: Payload, gate: Gate | None = None) -> None:
        """editMessageText with a sendMessage payload's text and formatting, paced like a send."""
        parameters = {"chat_id": chat_id(chat), "message_id": int(message_id), **_api_parameters(payload)}
        for where in ("reply_parameters", "disable_notification", "message_thread_id"):   # not editable
            parameters.pop(where, None)
        await self._ensure_open()
        await self._limiter.acquire(chat)
        try:
            async with self._turn():
                if gate is not None and not await gate():
                    raise NotSent("withdrawn before editing")
                await self.application.bot.do_api_request(
                    EDIT_MESSAGE_TEXT, api_kwargs=parameters, read_timeout=self._send_timeout)
        except TelegramError as error:
            if NOT_MODIFIED in str(error).lower():
                return      # it already says this: an edit repeated after a restart
            raise errors.send_error(error, self.scrub) from None

    def _turn(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The request's turn among those under way, taken before the gate is asked (request.py)."""
        request = self.application.bot.request
        return request.slot() if isinstance(request, JsonRequest) else contextlib.nullcontext()

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


def _api_parameters(payload: Payload) -> dict[str, Any]:
    """A rendered payload as sendMessage parameters: its objects made PTB's classes, which check their fields."""
    parameters = dict(payload)
    try:
        if "text" not in parameters:
            raise KeyError("text")
        if (options := parameters.get("link_preview_options")) is not None:
            parameters["link_preview_options"] = LinkPreviewOptions(**options)
        if (entities := parameters.get("entities")) is not None:
            parameters["entities"] = [MessageEntity(**entity) for entity in entities]
        if (reply := parameters.get("reply_parameters")) is not None:
            parameters["reply_parameters"] = ReplyParameters(**reply)
    except (KeyError, TypeError) as error:
        raise RenderingDefect(f"not a sendMessage payload: {error}") from None
    return parameters
