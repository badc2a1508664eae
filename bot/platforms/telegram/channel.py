"""The Telegram adapter as the app sees it: one bot client, its sender and receiver, started and stopped together."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.commands import Commands
from bot.platforms.base import Gate, ReplySink
from bot.platforms.telegram import errors
from bot.platforms.telegram.errors import TelegramStartError
from bot.platforms.telegram.limits import (
    CONNECT_TIMEOUT,
    MAX_UPDATE_BYTES,
    PLATFORM,
    POLL_TIMEOUT,
    READ_TIMEOUT,
    SEND_READ_TIMEOUT,
    TelegramRateLimits,
)
from bot.platforms.telegram.receiver import TelegramReceiver
from bot.platforms.telegram.redaction import redact_secrets
from bot.platforms.telegram.request import JsonRequest
from bot.platforms.telegram.sender import TelegramApplication, TelegramSender
from bot.platforms.telegram.settings import TelegramSettings
from bot.render import Payload
from bot.store.base import Store

if TYPE_CHECKING:
    from bot.platforms.registry import Surroundings


class TelegramChannel:
    """Sends to Telegram and answers commands arriving by long polling or by webhook."""

    platform = PLATFORM

    def __init__(
        self,
        settings: TelegramSettings,
        *,
        commands: Commands | None = None,
        store: Store | None = None,
        language: str = "zh",
        timezone: ZoneInfo | None = None,
        now: Callable[[], dt.datetime] | None = None,
        rate_limits: TelegramRateLimits | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        send_timeout: float = SEND_READ_TIMEOUT,
        poll_timeout: float = POLL_TIMEOUT,
        max_update_bytes: int = MAX_UPDATE_BYTES,
    ) -> None:
        if not settings.token:
            raise ValueError("telegram: a bot token is required")
        redact_secrets(settings.token, settings.webhook_secret)
        self.settings = settings
        self.application = _build_application(settings, connect_timeout, read_timeout)
        self.rate_limits = rate_limits or TelegramRateLimits.broadcasting(settings.paid_broadcast)
        self._sender = TelegramSender(self.application, token=settings.token, rate_limits=self.rate_limits,
                                      send_timeout=send_timeout, paid_broadcast=settings.paid_broadcast)
        self._receiver = TelegramReceiver(
            self._sender, settings, commands=commands, store=store, language=language,
            timezone=timezone or ZoneInfo("UTC"), now=now or (lambda: dt.datetime.now(dt.UTC)),
            poll_timeout=poll_timeout, max_update_bytes=max_update_bytes,
        )
        self._started = False
        self._ready = False

    @property
    def commands(self) -> Commands | None:
        return self._receiver.commands

    @property
    def store(self) -> Store | None:
        return self._receiver.store

    @property
    def language(self) -> str:
        return self._receiver.language

    @property
    def timezone(self) -> ZoneInfo:
        return self._receiver.timezone

    @property
    def username(self) -> str | None:
        return self._sender.username

    def bind(self, sink: ReplySink) -> None:
        """Command replies go through the sink: ordered, rate limited, never mixed into a post."""
        self._receiver.bind(sink)

    async def ready(self) -> bool:
        return self._ready

    def routes(self) -> list[web.RouteDef]:
        return self._receiver.routes()

    async def edit(self, chat: str, message_id: str, payload: Payload, gate: Gate | None = None) -> None:
        await self._sender.edit(chat, message_id, payload, gate)

    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        """Send one sendMessage payload to `chat`; the message id, or a SendError subclass."""
        return await self._sender.send(chat, payload, gate)

    async def start(self) -> None:
        """Connect, publish the command menu, then take updates by polling or by webhook.

        Raises TelegramStartError (a one-line reason, never the token) when the bot cannot work.
        """
        if self._started:
            return
        settings = self.settings
        if settings.updates == "webhook" and not settings.webhook_secret:
            # Without a secret the route refuses every update: fail loudly instead of going deaf.
            raise TelegramStartError("telegram.webhook_secret is required when telegram.updates is webhook")
        try:
            await self.application.initialize()    # calls getMe
        except TelegramError as error:
            raise errors.start_error(error, self._sender.scrub) from None
        self._started = True
        self._sender.opened()
        self._ready = True
        await self._receiver.publish_menu()
        try:
            await self._receiver.start_updates()
        except TelegramError as error:
            await self.stop()
            raise errors.updates_error(error, settings.updates, self._sender.scrub) from None

    async def stop(self) -> None:
        """Stop taking updates and close the HTTP client; safe to call more than once."""
        if not self._started:
            if self._sender.is_open:
                self._sender.is_open = False
                await self.application.bot.shutdown()
            return
        self._started = False
        self._ready = False
        self._sender.is_open = False
        try:
            await self._receiver.stop_updates()
        finally:
            await self.application.shutdown()


def open_channel(settings: TelegramSettings, around: Surroundings) -> TelegramChannel:
    """The channel the app runs (the registry's factory): its flood limits scaled as configured."""
    return TelegramChannel(settings, commands=around.commands, store=around.store, language=around.language,
                           timezone=around.timezone, now=around.now,
                           rate_limits=TelegramRateLimits.broadcasting(settings.paid_broadcast)
                           .scaled(settings.rate_limit_scale))


def _build_application(settings: TelegramSettings, connect_timeout: float, read_timeout: float) -> TelegramApplication:
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder()
        .token(settings.token)
        .base_url(settings.base_url)
        # Every call but getUpdates: parameters as JSON, which is cheaper to write than a form.
        .request(JsonRequest(connect_timeout=connect_timeout, read_timeout=read_timeout,
                             write_timeout=read_timeout, pool_timeout=read_timeout))
        # As the builder would make it from get_updates_*_timeout, which it refuses once .request() is set.
        .get_updates_request(HTTPXRequest(connection_pool_size=1, connect_timeout=connect_timeout,
                                          read_timeout=read_timeout))
        # Replies in one chat are serialised by the reply sink; other chats must not wait for
        # a chat that is rate limited.
        .concurrent_updates(True)
    )
    if settings.updates != "polling":
        builder = builder.updater(None)
    return builder.build()
