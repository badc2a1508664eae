"""SlackChannel: Slack's sender, receiver and Socket Mode transport as one channel with one lifecycle."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import Commands
from bot.platforms.base import Gate, ReplySink
from bot.platforms.slack.answers import Responder
from bot.platforms.slack.errors import API_FAILURES, start_error
from bot.platforms.slack.limits import INLINE_ANSWER_WAIT, MAX_REQUEST_BYTES, PACE, SlackRateLimit
from bot.platforms.slack.receiver import SlackReceiver
from bot.platforms.slack.sender import CONNECT_TIMEOUT, REQUEST_TIMEOUT, SlackSender
from bot.platforms.slack.settings import SlackSettings
from bot.platforms.slack.transport import SocketModeTransport
from bot.render import Payload
from bot.store.base import Store

if TYPE_CHECKING:
    from bot.platforms.registry import Surroundings

log = logging.getLogger(__name__)

# How long stop() lets answers under way finish before cancelling them.
STOP_GRACE = 5.0


class SlackChannel:
    """Sends to Slack and takes commands from it, over HTTP endpoints or Socket Mode."""

    platform = "slack"

    def __init__(
        self,
        settings: SlackSettings,
        *,
        commands: Commands | None,
        store: Store,
        language: str = "zh",
        timezone: ZoneInfo | None = None,
        now: Callable[[], dt.datetime] | None = None,
        rate_limit: SlackRateLimit = PACE,
        request_timeout: float = REQUEST_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        inline_wait: float = INLINE_ANSWER_WAIT,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        self.settings = settings
        self.commands = commands
        self.store = store
        self.language = language
        self.timezone = timezone or ZoneInfo("UTC")
        self._sender = SlackSender(settings, rate_limit=rate_limit, request_timeout=request_timeout,
                                   connect_timeout=connect_timeout)
        self._responder = Responder(self._sender, settings, commands, language=language, timezone=self.timezone,
                                    now=now or (lambda: dt.datetime.now(dt.UTC)), inline_wait=inline_wait)
        self._receiver = SlackReceiver(settings, self._responder, store, max_request_bytes=max_request_bytes)
        self._socket: SocketModeTransport | None = None
        self.bot_user_id = ""
        self.bot_id = ""
        self.team_id = ""
        self._started = False

    @property
    def client(self) -> AsyncWebClient:
        """The Web API client, opened on first use: `digestbot send` posts without start()."""
        return self._sender.client

    async def start(self) -> None:
        """Sign in (auth.test) and start taking commands; raises SlackStartError, never showing a token."""
        if self._started:
            return
        client = self.client
        self._started = True
        try:
            identity = await client.auth_test()
        except API_FAILURES as error:
            await self.stop()
            raise start_error(error) from None
        self.bot_user_id = str(identity.get("user_id", ""))
        self.bot_id = str(identity.get("bot_id", ""))
        self.team_id = str(identity.get("team_id", ""))
        self._receiver.bot_user_id = self.bot_user_id
        log.info("slack: signed in as %s in team %s", self.bot_user_id, self.team_id)
        if self.settings.app_token:
            self._socket = SocketModeTransport(self.settings.app_token, client, self._receiver)
            self._socket.start()
        elif not self._receiver.signed:
            log.warning("slack: no signing_secret and no app_token: commands and mentions cannot be received")

    async def stop(self) -> None:
        self._started = False
        if self._socket is not None:
            await self._socket.close()
            self._socket = None
        # Answers already under way get a moment to arrive; then whatever is left is cancelled.
        await self._responder.finish(STOP_GRACE)
        await self._sender.close()

    async def ready(self) -> bool:
        if not self._started or not self._sender.is_open:
            return False
        return self._socket is None or self._socket.ready()

    async def drain(self) -> None:
        """Wait until every answer taken so far has been sent (or has failed)."""
        await self._responder.drain()

    def bind(self, sink: ReplySink) -> None:
        """Public multi-part replies go through the sink: ordered, never inside a scheduled post."""
        self._responder.sink = sink

    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        return await self._sender.send(chat, payload, gate)

    async def edit(self, chat: str, message_id: str, payload: Payload, gate: Gate | None = None) -> None:
        await self._sender.edit(chat, message_id, payload, gate)

    def in_thread(self, payload: Payload, parent: str) -> Payload:
        """A chat.postMessage payload as a reply in the thread of the message with ts `parent`."""
        return {**payload, "thread_ts": parent}

    def routes(self) -> list[web.RouteDef]:
        return self._receiver.routes()


def open_channel(settings: SlackSettings, around: Surroundings) -> SlackChannel:
    """The channel the app runs (the registry's factory): its posting pace scaled as configured."""
    return SlackChannel(settings, commands=around.commands, store=around.store, language=around.language,
                        timezone=around.timezone, now=around.now,
                        rate_limit=SlackRateLimit().scaled(settings.rate_limit_scale))
