"""FeishuChannel: custom-bot posts through webhooks, and (with an app bot) commands, with one lifecycle."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.commands import Commands
from bot.platforms.background import Background
from bot.platforms.base import Gate, ReplySink, SendError
from bot.platforms.feishu import card
from bot.platforms.feishu.answers import FeishuResponder
from bot.platforms.feishu.api import FeishuApi, TenantToken
from bot.platforms.feishu.events import FeishuEvents
from bot.platforms.feishu.limits import MAX_EVENT_BYTES, PACE, PLATFORM, TOKEN_REFRESH_MARGIN
from bot.platforms.feishu.sender import FeishuSender
from bot.platforms.feishu.settings import FeishuSettings
from bot.platforms.webhook import RobotPace
from bot.render import Payload
from bot.store.base import Store

if TYPE_CHECKING:
    from bot.platforms.registry import Surroundings

log = logging.getLogger(__name__)

# How long stop() lets answers under way finish before cancelling them.
STOP_GRACE = 5.0


class FeishuChannel:
    """Posts digests through each channel's custom bot; answers commands through the app bot if configured."""

    platform = PLATFORM

    def __init__(self, settings: FeishuSettings, *, commands: Commands | None, store: Store,
                 language: str = "zh", timezone: ZoneInfo | None = None,
                 now: Callable[[], dt.datetime] | None = None, pace: RobotPace | None = None,
                 token_clock: Callable[[], float] | None = None, token_margin: float = TOKEN_REFRESH_MARGIN,
                 max_request_bytes: int = MAX_EVENT_BYTES, sender: FeishuSender | None = None) -> None:
        self.settings = settings
        self.sender = sender or FeishuSender(pace)
        self.background = Background()
        tokens = TenantToken(self.sender, settings, clock=token_clock, margin=token_margin)
        self.api = FeishuApi(self.sender, settings, tokens)
        responder = FeishuResponder(self.api, commands, card, language=language,
                                    timezone=timezone or ZoneInfo("UTC"),
                                    now=now or (lambda: dt.datetime.now(dt.UTC)))
        self._events = FeishuEvents(settings, responder, store, self.background,
                                    max_request_bytes=max_request_bytes)
        self._started = False

    def add_webhook(self, url: str, options: Mapping[str, str] | None = None) -> str:
        """A channel's custom bot, with its options (`secret`); the chat naming it."""
        return self.sender.add_webhook(url, options)

    async def start(self) -> None:
        """Check the app's credentials early, when commands are configured; a refusal is logged, not fatal."""
        self._started = True
        if not self.settings.takes_commands:
            return
        try:
            await self.api.tokens.get()
        except SendError as error:
            log.error("feishu: the app bot cannot sign in, so commands will not be answered: %s", error.reason)

    async def stop(self) -> None:
        self._started = False
        await self.background.finish(STOP_GRACE)
        await self.sender.close()

    async def ready(self) -> bool:
        return self._started

    async def drain(self) -> None:
        """Wait until every answer taken so far has been sent (or has failed)."""
        await self.background.drain()

    def bind(self, sink: ReplySink) -> None:
        """Answers go back as replies to the asking message through the app API, not through the sink."""

    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        return await self.sender.send(chat, payload, gate)

    def routes(self) -> list[web.RouteDef]:
        return self._events.routes() if self.settings.takes_commands else []


def open_channel(settings: FeishuSettings, around: Surroundings) -> FeishuChannel:
    """The registry's factory: every robot of the config known before the first post, paced as configured."""
    channel = FeishuChannel(settings, commands=around.commands, store=around.store, language=around.language,
                            timezone=around.timezone, now=around.now, pace=PACE.scaled(settings.rate_limit_scale))
    channel.sender.add_webhooks((entry.chat, entry.options) for entry in around.channels)
    return channel
