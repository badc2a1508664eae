"""Posting JSON to robots' webhooks: one shared session, bodies sent as measured, each robot paced and held."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from aiohttp import web

from bot.platforms.base import Gate, NotSent, RateLimited, ReplySink, Unauthorized
from bot.platforms.http_client import (
    CONNECT_TIMEOUT,
    REQUEST_FAILURES,
    REQUEST_TIMEOUT,
    HttpSession,
    json_answer,
    transport_error,
)
from bot.platforms.webhook import AnswerCodes, RobotPace, Webhook, wire_body
from bot.render import Payload
from bot.secrets import update_secrets

if TYPE_CHECKING:
    from bot.platforms.registry import Surroundings
    from bot.platforms.webhook_settings import RobotSettings

log = logging.getLogger(__name__)

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class Holds:
    """Robots that said "too fast": no post to one goes out before its hold ends, command replies
    included, so a robot throttled for minutes is not asked again (which may extend the throttle)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._until: dict[str, float] = {}
        self._clock = clock

    def hold(self, key: str, seconds: float) -> None:
        self._until[key] = max(self._until.get(key, 0.0), self._clock() + seconds)

    async def wait(self, key: str) -> None:
        # A hold only ever grows while one waits (another refusal): sleep to its end, then look again.
        left = self._until.get(key, 0.0) - self._clock()
        while left > 0:
            await asyncio.sleep(left)
            left = self._until.get(key, 0.0) - self._clock()
        self._until.pop(key, None)


class WebhookSender:
    """A Channel posting rendered payloads through robots' webhooks. A platform says what its answers
    mean (`codes`, from its errors.py), how its webhook URL is read, and what a request looks like
    (signing)."""

    platform = ""
    codes: AnswerCodes
    default_pace: RobotPace

    def __init__(self, pace: RobotPace | None = None, *, session: aiohttp.ClientSession | None = None,
                 request_timeout: float = REQUEST_TIMEOUT, connect_timeout: float = CONNECT_TIMEOUT,
                 clock: Callable[[], float] = time.time) -> None:
        self.pace = pace or self.default_pace
        self.clock = clock      # wall-clock seconds, for signatures
        self._limiter = self.pace.chain()
        self.holds = Holds()
        self.http = HttpSession(session, request_timeout=request_timeout, connect_timeout=connect_timeout)
        self.webhooks: dict[str, Webhook] = {}

    # -- what each platform says ------------------------------------------------------------------
    def parse_webhook(self, url: str, options: Mapping[str, str]) -> Webhook:
        """The webhook a URL names, with the channel's options (its `secret`…); ValueError, its text free
        of the credential, for anything else."""
        raise NotImplementedError

    def request(self, webhook: Webhook, payload: Payload) -> tuple[str, Payload]:
        """The URL and the body to POST for a payload (signed at this moment where a secret is set)."""
        return webhook.url, payload

    # -- webhooks and the session ---------------------------------------------------------------
    def add_webhook(self, url: str, options: Mapping[str, str] | None = None) -> str:
        """Remember a robot (its URL and secret masked in every log from now on); the chat naming it.

        The config names a channel by its webhook URL, so the URL finds the robot too."""
        webhook = self._remember(url, options or {})
        update_secrets(webhook.secrets)
        return webhook.chat

    def add_webhooks(self, entries: Iterable[tuple[str, Mapping[str, str]]]) -> None:
        """Every configured robot, as (webhook URL, the channel's options)."""
        # Hidden all at once: each new secret rebuilds the one redaction pattern of every secret.
        update_secrets([secret for url, options in entries for secret in self._remember(url, options).secrets])

    def _remember(self, url: str, options: Mapping[str, str]) -> Webhook:
        webhook = self.parse_webhook(url.strip(), options)
        self.webhooks[webhook.chat] = self.webhooks[url] = webhook
        return webhook

    def webhook(self, chat: str) -> Webhook:
        """The robot a chat names: the fingerprint add_webhook gave, or the webhook URL itself."""
        known = self.webhooks.get(chat)
        if known is not None:
            return known
        if chat.startswith(("https://", "http://")):
            try:
                webhook = self.parse_webhook(chat.strip(), {})
            except ValueError as error:
                raise Unauthorized(f"not a {self.platform} webhook URL: {error}") from None
            update_secrets(webhook.secrets)
            self.webhooks[chat] = self.webhooks.setdefault(webhook.chat, webhook)
            return self.webhooks[chat]
        # Not the robot's fault: the config lost its webhook; nothing is marked gone.
        raise Unauthorized(f"no webhook is configured for {self.platform} chat {chat}")

    @property
    def session(self) -> aiohttp.ClientSession:
        return self.http.session

    @property
    def is_open(self) -> bool:
        return self.http.is_open

    async def close(self) -> None:
        await self.http.close()

    # -- the channel's lifecycle (a robot takes no commands) -----------------------------------
    async def start(self) -> None:
        """Nothing to sign in to: each robot's webhook is its own credential."""

    async def stop(self) -> None:
        await self.close()

    async def ready(self) -> bool:
        return True

    def bind(self, sink: ReplySink) -> None:
        """Robots take no commands, so they have no replies to post."""

    def routes(self) -> list[web.RouteDef]:
        return []

    # -- posting --------------------------------------------------------------------------------
    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        """Post one payload through `chat`'s robot; "" (these robots name no message), or a SendError."""
        webhook = self.webhook(chat)
        robot = webhook.chat
        await self.holds.wait(robot)
        await self._limiter.acquire(robot)
        if gate is not None and not await gate():
            raise NotSent("withdrawn before sending")
        url, body = self.request(webhook, payload)
        status, answer = await self.post_json(url, body)
        error = self.codes.answer_error(status, answer, self.pace.refused_wait)
        if error is None:
            return ""
        if isinstance(error, RateLimited):
            self.holds.hold(robot, error.retry_after)
            log.info("%s: robot %s said too fast (%s); holding it %.1fs", self.platform, robot, error.reason,
                     error.retry_after)
        raise error

    async def post_json(self, url: str, body: Payload, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """POST `body` as the bytes it was measured as; the status and the JSON answer (None if not JSON)."""
        try:
            async with self.session.post(url, data=wire_body(body), headers={**JSON_HEADERS, **(headers or {})},
                                         timeout=self.http.timeout) as response:
                return response.status, await json_answer(response)
        except REQUEST_FAILURES as failure:
            raise transport_error(failure, self.platform) from None



S = TypeVar("S", bound=WebhookSender)


def channel_factory(sender: type[S]) -> Callable[[RobotSettings | None, Surroundings], S]:
    """The registry's factory for a robot platform: a `sender` knowing every configured robot, paced as
    configured."""

    def open_channel(settings: RobotSettings | None, around: Surroundings) -> S:
        opened = sender(sender.default_pace.scaled(settings.rate_limit_scale if settings else 1.0))
        opened.add_webhooks((entry.chat, entry.options) for entry in around.channels)
        return opened

    return open_channel
