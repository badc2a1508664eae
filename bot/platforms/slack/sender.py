"""The Slack adapter: posts payloads with chat.postMessage and answers /digest and @-mentions."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import re
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot import httpguard
from bot.commands import CommandContext, Commands
from bot.errors import DigestBotError
from bot.i18n import text as words
from bot.platforms.base import (
    ChatGone,
    Gate,
    MaybeSent,
    NotSent,
    RateLimited,
    RenderingDefect,
    ReplyFailed,
    ReplySink,
    SendError,
    TransientError,
    Unauthorized,
)
from bot.platforms.slack import blocks as render
from bot.ratelimit import SlidingWindowLimiter
from bot.render import Payload, render_reply
from bot.render.splitting import BreakLevel, break_levels, split_text
from bot.settings import SlackSettings
from bot.store.base import Store
from bot.web import Throttled

log = logging.getLogger(__name__)

# chat.postMessage errors after which the chat will never take another message from us.
GONE_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
# auth.test answers that mean the token itself is wrong.
TOKEN_REFUSALS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})
# Errors that mean the payload itself is wrong: retrying the same bytes can only fail again.
RENDERING_ERRORS = frozenset({"invalid_blocks", "msg_too_long", "msg_blocks_too_long"})
# The notification text beside blocks; Slack truncates far later, but longer helps nobody.
FALLBACK_TEXT_LIMIT = 4000
# Slack accepts at most this many follow-ups on one response_url.
RESPONSE_URL_POSTS = 5
# Slash commands must be answered within 3 s; past this we ack and answer later.
INLINE_ANSWER_WAIT = 2.0
# How long an Events API event_id is remembered: Slack retries within minutes.
EVENT_DEDUPE_TTL = 3600.0
# Bounds the second half of a split payload, which cannot be handed back to the deliverer:
# resending the whole part would repeat its first half.
SECOND_HALF_ATTEMPTS = 5
# How long stop() lets answers under way finish before cancelling them.
STOP_GRACE = 5.0
# Slack's own requests are a few KB; this leaves room and still refuses junk early.
MAX_REQUEST_BYTES = 64 * 1024
# Slack refuses to act on a signature older than five minutes, and so does the bot; checked from the
# headers, before the body is read.
SIGNATURE_WINDOW = 5 * 60
# How long a Web API call may take to answer. Slack answers in well under a second; 30 s is its own
# SDK's default and leaves a slow but successful chat.postMessage time to say so, instead of ending
# as a message that may or may not have been posted.
REQUEST_TIMEOUT = 30.0
# Reaching Slack at all: past this nothing was sent, so a retry cannot duplicate anything.
CONNECT_TIMEOUT = 5.0

# How the commands are typed, for the hints in replies (a slash command's own name wins).
COMMAND_PREFIX = "/digest "
# Commands whose answer the public_replies switch posts for the whole channel.
PUBLIC_BY_CONFIG = frozenset({"today", "item", "category"})
# Shown at once when the answer is not ready in time; the answer follows through response_url.
WORKING_ACK: Payload = {"response_type": "ephemeral", "text": "…"}
# Keys of a rendered payload that also mean something in a slash-command or response_url answer.
_MESSAGE_KEYS = ("text", "blocks")
# What a Web API call may raise; translate_error turns each into the bot's SendError.
API_FAILURES = (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError)


class SlackStartError(DigestBotError):
    """The Slack adapter could not start; the message is safe to show (no token)."""


@dataclass(frozen=True, slots=True)
class SlackRateLimit:
    """chat.postMessage pacing per channel: Slack allows about one message per second."""

    per_channel: int = 1
    period: float = 1.0

    def scaled(self, factor: float) -> SlackRateLimit:
        """The same limit `factor` times faster (tests against a fake with a scaled-down window)."""
        return replace(self, period=self.period / factor)


def unescape_mrkdwn(text: str) -> str:
    """Text as the user typed it: Slack sends &, < and > escaped, and only those."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def translate_error(error: Exception) -> SendError:
    """The bot's SendError for what slack-sdk or aiohttp raised; the reason never carries the token."""
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        data = error.response.data
        code = str(data.get("error", "")) if isinstance(data, dict) else ""
        if status == 429 or code == "ratelimited":
            return RateLimited(code or "ratelimited", _retry_after(error.response.headers))
        if code in TOKEN_REFUSALS:
            # A revoked or rotated token says nothing about the channels: marking them all gone
            # would silence every channel until each one subscribed again.
            return Unauthorized(code)
        if code in GONE_ERRORS:
            return ChatGone(code)
        if code in RENDERING_ERRORS:
            return RenderingDefect(code)
        if status >= 500:
            return TransientError(f"HTTP {status}" + (f" {code}" if code else ""))
        # Anything else (internal_error, fatal_error, an error code new to us) is retried a
        # bounded number of times by the deliverer, then reported with its code.
        return TransientError(code or f"HTTP {status}")
    if isinstance(error, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError):
        return TransientError(f"not sent: {type(error).__name__}")
    if isinstance(error, TimeoutError | aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        # The request went out and the answer did not come back (a read timeout, a dropped connection).
        what = "timed out" if isinstance(error, TimeoutError) else type(error).__name__
        return MaybeSent(f"no answer from Slack ({what}) after the request went out")
    if isinstance(error, aiohttp.ClientError | SlackClientError):
        return TransientError(type(error).__name__)
    raise TypeError(f"not a send error: {type(error).__name__}") from error


def _retry_after(headers: Any) -> float:
    try:
        value = float(headers.get("Retry-After", "1"))
    except (TypeError, ValueError):
        return 1.0
    return value if math.isfinite(value) and value >= 0 else 1.0


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
    if len(text) <= limit:
        return text
    return split_text(text, limit - 1)[0].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Invocation:
    """One command as Slack delivered it: by /digest (with a response_url) or by an @-mention."""

    user: str
    channel: str
    text: str                   # what follows "/digest" or the bot's mention
    response_url: str = ""      # empty for mentions
    thread_ts: str = ""         # a mention inside a thread is answered in that thread
    prefix: str = COMMAND_PREFIX    # how this workspace types the command, for the hints in replies


@dataclass(frozen=True, slots=True)
class Answer:
    payloads: list[Payload]
    public: bool


def parse_command(text: str) -> tuple[str, str]:
    """("item", "3 public") from "item 3 public"; a bare /digest asks for help."""
    words = text.split(maxsplit=1)
    return (words[0] if words else "help"), (words[1].strip() if len(words) > 1 else "")


def message_only(payload: Payload) -> Payload:
    """The message itself (text and blocks), without chat.postMessage's delivery options."""
    return {key: payload[key] for key in _MESSAGE_KEYS if key in payload}


def message_fields(payload: Payload, response_type: str = "ephemeral") -> Payload:
    """A rendered payload as a slash-command or response_url answer."""
    return {"response_type": response_type, **message_only(payload)}


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
        rate_limit: SlackRateLimit = SlackRateLimit(),
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
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._limiter = SlidingWindowLimiter(rate_limit.per_channel, rate_limit.period)
        # Forged or stale requests are an attacker's to repeat: one line a minute, with a count.
        self._refusals = Throttled(log)
        self._request_timeout = request_timeout
        self._connect_timeout = min(connect_timeout, request_timeout)
        self._inline_wait = inline_wait
        self._max_request_bytes = max_request_bytes
        self._verifier = SignatureVerifier(settings.signing_secret) if settings.signing_secret else None
        self._session: aiohttp.ClientSession | None = None
        self._web: AsyncWebClient | None = None
        self._socket: SocketModeClient | None = None
        self._socket_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sink: ReplySink | None = None
        self.bot_user_id = ""
        self.bot_id = ""
        self.team_id = ""
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def client(self) -> AsyncWebClient:
        """The Web API client, opened on first use: `digestbot send` posts without start()."""
        if self._web is None:
            # A connect timeout of its own tells "never sent" (retry freely) from "no answer" (MaybeSent).
            timeout = aiohttp.ClientTimeout(total=self._request_timeout, connect=self._connect_timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)
            # No retry handlers: the deliverer alone decides about retries, so a timed-out post that
            # did arrive is never silently sent a second time underneath it.
            self._web = AsyncWebClient(token=self.settings.token, base_url=self.settings.base_url,
                                       session=self._session, timeout=math.ceil(self._request_timeout),
                                       retry_handlers=[])
        return self._web

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
            refusal = translate_error(error)
            if isinstance(refusal, Unauthorized):
                raise SlackStartError(f"Slack refused the bot token (slack.token): {refusal.reason}") from None
            raise SlackStartError(f"Slack is unreachable at start: {refusal.reason}") from None
        self.bot_user_id = str(identity.get("user_id", ""))
        self.bot_id = str(identity.get("bot_id", ""))
        self.team_id = str(identity.get("team_id", ""))
        log.info("slack: signed in as %s in team %s", self.bot_user_id, self.team_id)
        if self.settings.app_token:
            self._socket = SocketModeClient(self.settings.app_token, web_client=client, logger=log)
            self._socket.socket_mode_request_listeners.append(self._on_socket_request)
            # connect() retries until it succeeds; /readyz reports the wait instead of blocking start-up.
            self._socket_task = asyncio.create_task(self._socket.connect())  # type: ignore[no-untyped-call]
        elif self._verifier is None:
            log.warning("slack: no signing_secret and no app_token: commands and mentions cannot be received")

    async def stop(self) -> None:
        self._started = False
        if self._socket_task is not None:
            self._socket_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._socket_task
            self._socket_task = None
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()  # type: ignore[no-untyped-call]
            self._socket = None
        # Answers already under way get a moment to arrive; then whatever is left is cancelled.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), STOP_GRACE)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._web = None

    async def ready(self) -> bool:
        if not self._started or self._session is None or self._session.closed:
            return False
        if self._socket is not None:
            session = self._socket.current_session
            return session is not None and not session.closed and not self._socket.closed
        return True

    async def drain(self) -> None:
        """Wait until every answer taken so far has been sent (or has failed)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def bind(self, sink: ReplySink) -> None:
        """Public multi-part replies go through the sink: ordered, never inside a scheduled post."""
        self._sink = sink

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        # Held here until done, so a background reply is neither garbage-collected nor left running at stop().
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- sending --------------------------------------------------------------------------------
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
        arguments = {**payload, "channel": chat, "unfurl_links": False, "unfurl_media": False}
        try:
            response = await self.client.chat_postMessage(**arguments)
        except API_FAILURES as error:
            raise translate_error(error) from None
        return str(response.get("ts", ""))

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

    # -- commands -------------------------------------------------------------------------------
    def _context(self, invocation: Invocation) -> CommandContext:
        async def is_admin() -> bool:
            return await self.is_admin(invocation.user)

        return CommandContext(platform=self.platform, chat=invocation.channel, user=invocation.user,
                              # Subscriptions in a workspace are for its admins and the configured users
                              # everywhere, direct messages included: one member's DM is not theirs alone.
                              is_group=True, language=self.language,
                              timezone=self.timezone, is_admin=is_admin, now=self._now(),
                              command_prefix=invocation.prefix)

    async def is_admin(self, user: str) -> bool:
        """Workspace admins and owners, and the users the config names, may change subscriptions."""
        if user in self.settings.admins:
            return True
        try:
            response = await self.client.users_info(user=user)
        except API_FAILURES as error:
            log.warning("slack: could not look up user %s: %s", user, translate_error(error).reason)
            return False
        profile = response.get("user") or {}
        return bool(profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner"))

    async def answer(self, invocation: Invocation) -> Answer:
        """Run the command and render the reply; never raises (a failure becomes the failure notice)."""
        name, args = parse_command(invocation.text)
        if self.commands is None:
            return Answer([], public=False)
        try:
            reply = await self.commands.handle(name, args, self._context(invocation))
            if reply.silent:
                return Answer([], public=False)     # throttled: nothing at all goes back
            public = reply.public or (self.settings.public_replies and reply.ok
                                      and name.lower() in PUBLIC_BY_CONFIG)
            return Answer(render_reply(render, reply), public=public)
        except Exception:
            log.exception("slack: answering %r in %s failed", name, invocation.channel)
            return Answer(render.render_notice(words(self.language, "failure")), public=False)

    async def _command_response(self, invocation: Invocation) -> Payload | None:
        """What to answer a slash command with right away (None: an empty ack); the rest follows."""
        task = self._spawn(self.answer(invocation))
        done, _ = await asyncio.wait({task}, timeout=self._inline_wait)
        if not done:
            self._spawn(self._deliver_when_ready(invocation, task))
            return WORKING_ACK
        answer = task.result()
        if not answer.public and len(answer.payloads) == 1:
            return message_fields(answer.payloads[0])
        if answer.payloads:
            self._spawn(self._deliver(invocation, answer))
        return None

    async def _deliver_when_ready(self, invocation: Invocation, pending: asyncio.Task[Answer]) -> None:
        await self._deliver(invocation, await pending)

    async def _deliver(self, invocation: Invocation, answer: Answer) -> None:
        if not answer.payloads:
            return
        try:
            if answer.public:
                try:
                    await self._post_public(invocation.channel, self._in_thread(invocation, answer.payloads))
                    return
                except ReplyFailed as aborted:
                    # Usually the bot is not in the channel: the asker still gets the answer, privately.
                    log.warning("slack: could not post an answer in %s (%s); answering privately",
                                invocation.channel, aborted.reason)
            await self._post_private(invocation, answer.payloads)
        except Exception:
            log.exception("slack: the answer in %s could not be sent", invocation.channel)

    @staticmethod
    def _in_thread(invocation: Invocation, payloads: Sequence[Payload]) -> list[Payload]:
        if not invocation.thread_ts:
            return list(payloads)
        return [{**payload, "thread_ts": invocation.thread_ts} for payload in payloads]

    async def _post_public(self, channel: str, payloads: Sequence[Payload]) -> None:
        if self._sink is not None:
            await self._sink.send_parts(self.platform, channel, payloads)
            return
        for payload in payloads:
            try:
                await self.send(channel, payload)
            except SendError as error:
                raise ReplyFailed(error.reason) from error

    async def _post_private(self, invocation: Invocation, payloads: Sequence[Payload]) -> None:
        """Ephemeral parts in order: through response_url while it lasts, then chat.postEphemeral."""
        for number, payload in enumerate(payloads):
            if invocation.response_url and number < RESPONSE_URL_POSTS:
                await self._post_response_url(invocation.response_url, message_fields(payload))
            else:
                await self._post_ephemeral(invocation, payload)

    async def _post_response_url(self, url: str, body: Payload) -> None:
        assert self._session is not None
        async with self._session.post(url, json=body) as response:
            if response.status >= 400:
                # The URL is Slack's and may carry secrets of its own: only its status is logged.
                raise TransientError(f"response_url answered HTTP {response.status}")

    async def _post_ephemeral(self, invocation: Invocation, payload: Payload) -> None:
        await self._limiter.acquire(invocation.channel)
        fields = message_only(payload)
        if invocation.thread_ts:
            fields["thread_ts"] = invocation.thread_ts
        try:
            await self.client.chat_postEphemeral(channel=invocation.channel, user=invocation.user, **fields)
        except API_FAILURES as error:
            raise translate_error(error) from None

    # -- mentions -------------------------------------------------------------------------------
    async def accept_event(self, body: Mapping[str, Any], retry: str | int | None = None) -> None:
        """Take an Events API event_callback: check it, deduplicate it, answer it in the background."""
        event = body.get("event")
        if not isinstance(event, dict) or event.get("type") != "app_mention":
            return
        if event.get("bot_id") or event.get("subtype") or event.get("user") in (None, "", self.bot_user_id):
            return   # our own posts and other bots' never start a conversation
        event_id = str(body.get("event_id", ""))
        if event_id:
            try:
                first = await self.store.first_seen(f"slack:event:{event_id}", EVENT_DEDUPE_TTL)
            except Exception:
                # Answering twice beats not answering: the store is only a guard here.
                log.warning("slack: could not check event %s for a repeat", event_id, exc_info=True)
                first = True
            if not first:
                log.info("slack: event %s seen before (retry %s); not answered again", event_id, retry)
                return
        invocation = Invocation(user=str(event["user"]), channel=str(event.get("channel", "")),
                                text=unescape_mrkdwn(self._without_mention(str(event.get("text", "")))),
                                thread_ts=str(event.get("thread_ts") or ""))
        self._spawn(self._answer_mention(invocation))

    def _without_mention(self, text: str) -> str:
        """The command in "<@UBOT> item 3" or "hey <@UBOT|digest> today": what follows the mention."""
        if not self.bot_user_id:
            return " ".join(text.split())
        mention = re.compile(rf"<@{re.escape(self.bot_user_id)}(?:\|[^>]*)?>")
        found = mention.search(text)
        if found is None:
            return " ".join(text.split())
        after = mention.sub(" ", text[found.end():])
        before = mention.sub(" ", text[:found.start()])
        return " ".join((after if after.strip() else before).split())

    async def _answer_mention(self, invocation: Invocation) -> None:
        await self._deliver(invocation, await self.answer(invocation))

    # -- HTTP endpoints -------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [web.post("/slack/commands", self._http_command), web.post("/slack/events", self._http_events)]

    async def _verified_body(self, request: web.Request) -> bytes | web.Response:
        """The raw body when Slack signed it, else the response refusing the request.

        Everything the headers alone can tell is checked before the body is read: that signing is
        configured, that a signature is there, and that its timestamp is within Slack's window.
        """
        if self._verifier is None:
            self._refusals(logging.WARNING, "slack: a request to %s was refused: no signing_secret is configured",
                           request.path)
            return web.Response(status=401, text="request signing is not configured")
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not (signature.startswith("v0=") and _recent(timestamp)):
            self._refusals(logging.WARNING, "slack: refused an unsigned or stale request to %s", request.path)
            return web.Response(status=401, text="invalid signature")
        try:
            body = await httpguard.read_body(request, self._max_request_bytes)
        except httpguard.Refused as refused:
            return refused.response()
        try:
            valid = self._verifier.is_valid(body, timestamp, signature)
        except (ValueError, TypeError, UnicodeError):
            # A signature header with non-ASCII bytes cannot be compared: it is simply not valid.
            valid = False
        if not valid:
            self._refusals(logging.WARNING, "slack: refused a request to %s with a wrong signature", request.path)
            return web.Response(status=401, text="invalid signature")
        return body

    async def _http_command(self, request: web.Request) -> web.Response:
        verified = await self._verified_body(request)
        if isinstance(verified, web.Response):
            return verified
        try:
            form = dict(parse_qsl(verified.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return web.Response(status=400, text="not a form")
        if form.get("ssl_check") == "1":
            return web.Response(status=200)     # Slack checking the certificate of the command URL
        invocation = _command_invocation(form)
        if invocation is None:
            return web.Response(status=400, text="not a slash command")
        response = await self._command_response(invocation)
        return web.json_response(response) if response is not None else web.Response(status=200)

    async def _http_events(self, request: web.Request) -> web.Response:
        verified = await self._verified_body(request)
        if isinstance(verified, web.Response):
            return verified
        try:
            body = httpguard.loads_json(verified)
        except httpguard.Refused as refused:
            return refused.response()
        if not isinstance(body, dict):
            return web.Response(status=400, text="not an event")
        if body.get("type") == "url_verification":
            return web.json_response({"challenge": str(body.get("challenge", ""))})
        if body.get("type") == "event_callback":
            await self.accept_event(body, request.headers.get("X-Slack-Retry-Num"))
        return web.Response(status=200)

    # -- Socket Mode ----------------------------------------------------------------------------
    async def _on_socket_request(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        if request.type == "slash_commands":
            invocation = _command_invocation(request.payload)
            response = await self._command_response(invocation) if invocation is not None else None
            await client.send_socket_mode_response(SocketModeResponse(request.envelope_id, payload=response))
            return
        # Everything else is acked at once, as Slack asks; only mentions need more.
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id))
        if request.type == "events_api" and request.payload.get("type") == "event_callback":
            await self.accept_event(request.payload, request.retry_attempt)


def _recent(timestamp: str) -> bool:
    """A Slack request timestamp (Unix seconds) within SIGNATURE_WINDOW of now."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    return abs(time.time() - int(timestamp)) <= SIGNATURE_WINDOW


def _command_invocation(fields: Mapping[str, Any]) -> Invocation | None:
    user = str(fields.get("user_id") or "")
    channel = str(fields.get("channel_id") or "")
    if not user or not channel:
        return None
    command = str(fields.get("command") or "").strip()
    return Invocation(user=user, channel=channel, text=unescape_mrkdwn(str(fields.get("text") or "")),
                      response_url=str(fields.get("response_url") or ""),
                      prefix=f"{command} " if command.startswith("/") else COMMAND_PREFIX)
