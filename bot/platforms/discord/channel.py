"""DiscordChannel: the webhook sender, the interactions receiver and command registration, with one lifecycle."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from bot.commands import Commands
from bot.platforms.base import Gate, ReplySink
from bot.platforms.discord.answers import Responder
from bot.platforms.discord.limits import (
    CONNECT_TIMEOUT,
    INLINE_ANSWER_WAIT,
    MAX_INTERACTION_BYTES,
    PACE,
    PLATFORM,
    REQUEST_TIMEOUT,
    DiscordRateLimit,
)
from bot.platforms.discord.receiver import DiscordReceiver
from bot.platforms.discord.registration import register_commands
from bot.platforms.discord.sender import DiscordSender
from bot.platforms.discord.settings import DiscordSettings
from bot.render import Payload

if TYPE_CHECKING:
    from bot.platforms.registry import Surroundings

log = logging.getLogger(__name__)

# How long stop() lets answers under way finish before cancelling them.
STOP_GRACE = 5.0


class DiscordChannel:
    """Posts digests through webhooks and answers slash commands arriving at /discord/interactions."""

    platform = PLATFORM

    def __init__(
        self,
        settings: DiscordSettings,
        *,
        commands: Commands | None = None,
        webhooks: tuple[str, ...] = (),
        language: str = "zh",
        timezone: ZoneInfo | None = None,
        now: Callable[[], dt.datetime] | None = None,
        session: aiohttp.ClientSession | None = None,
        rate_limit: DiscordRateLimit = PACE,
        request_timeout: float = REQUEST_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        inline_wait: float = INLINE_ANSWER_WAIT,
        max_request_bytes: int = MAX_INTERACTION_BYTES,
        default_time: str = "09:30",
    ) -> None:
        self.settings = settings
        self._sender = DiscordSender(session=session, rate_limit=rate_limit, request_timeout=request_timeout,
                                     connect_timeout=connect_timeout)
        for url in webhooks:
            self._sender.add_webhook(url)
        self._responder = Responder(self._sender, settings, commands, language=language,
                                    timezone=timezone or ZoneInfo("UTC"),
                                    now=now or (lambda: dt.datetime.now(dt.UTC)))
        self._receiver = DiscordReceiver(self._responder, settings.public_key, inline_wait=inline_wait,
                                         max_request_bytes=max_request_bytes)
        self._default_time = default_time
        self._started = False

    @property
    def commands(self) -> Commands | None:
        return self._responder.commands

    @property
    def sender(self) -> DiscordSender:
        return self._sender

    def add_webhook(self, url: str) -> str:
        """Take a channel's webhook URL; the chat (its id) that the ledger and the logs name it by."""
        return self._sender.add_webhook(url)

    async def start(self) -> None:
        """Register the slash commands when the application is configured; raises DiscordStartError."""
        if self._started:
            return
        self._started = True
        settings = self.settings
        if not settings.commands_configured:
            log.info("discord: no application_id and public_key: slash commands are not taken")
            return
        if not settings.token:
            log.warning("discord: no bot token: the slash commands registered before are used as they are")
            return
        try:
            await register_commands(self._sender.session, settings.base_url, settings.application_id,
                                    settings.token, self._default_time)
        except Exception:
            await self.stop()
            raise

    async def stop(self) -> None:
        self._started = False
        # Answers already under way get a moment to arrive; then whatever is left is cancelled.
        await self._responder.finish(STOP_GRACE)
        await self._sender.close()

    async def ready(self) -> bool:
        return self._started

    async def drain(self) -> None:
        """Wait until every answer taken so far has been sent (or has failed)."""
        await self._responder.drain()

    def bind(self, sink: ReplySink) -> None:
        """Multi-part answers go through the sink: in order, with the deliverer's retries."""
        self._responder.sink = sink

    async def edit(self, chat: str, message_id: str, payload: Payload, gate: Gate | None = None) -> None:
        await self._sender.edit(chat, message_id, payload, gate)

    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        return await self._sender.send(chat, payload, gate)

    def routes(self) -> list[web.RouteDef]:
        return self._receiver.routes()


def open_channel(settings: DiscordSettings, around: Surroundings) -> DiscordChannel:
    """The channel the app runs (the registry's factory): its posting windows scaled as configured."""
    return DiscordChannel(settings, commands=around.commands, language=around.language, timezone=around.timezone,
                          now=around.now, rate_limit=DiscordRateLimit().scaled(settings.rate_limit_scale),
                          default_time=around.commands.default_time)
