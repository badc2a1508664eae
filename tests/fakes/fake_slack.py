"""A fake Slack Web API and Socket Mode server on 127.0.0.1 that the real slack-sdk clients talk to."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import math
import random
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.fakes import serve_local
from tests.fakes.slackcheck import check_post_message

# Errors Slack gives for a channel the bot can no longer post in; injected with `fail_channel`.
CHANNEL_ERRORS = ("channel_not_found", "not_in_channel", "is_archived")


@dataclass
class _ServerFailures:
    remaining: int
    status: int
    spared: int         # posts still let through before the failures start


@dataclass
class FakeSlack:
    """Slack's side of the conversation, recording everything the bot sends.

    chat.postMessage runs `slackcheck.check_post_message` and refuses like Slack does; each channel
    allows `rate_limit` posts per `rate_period` seconds and answers HTTP 429 with Retry-After beyond
    that. Failures are injected per channel. Socket Mode: apps.connections.open hands out a ws:// URL
    on this same server, which says `hello`, sends the envelopes a test pushes and records the acks.
    """

    token: str = "xoxb-fake-bot-token"
    app_token: str = "xapp-fake-app-token"
    bot_user_id: str = "UBOT"
    bot_id: str = "BBOT"
    team_id: str = "T0FAKE"
    admins: frozenset[str] = frozenset()
    owners: frozenset[str] = frozenset()
    rate_limit: int = 2
    rate_period: float = 1.0
    seed: int = 0

    # -- what the bot did -----------------------------------------------------------------------
    posts: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    post_ts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # each post's ts, in order
    updates: list[dict[str, Any]] = field(default_factory=list)        # every chat.update that was applied
    refused: list[tuple[str, str]] = field(default_factory=list)       # (channel, error) of every refusal
    rate_limited: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    calls: list[str] = field(default_factory=list)                     # every Web API method called
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)      # envelope_id -> ack message
    user_lookups: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._channel_errors: dict[str, str] = {}
        self._server_failures: dict[str, _ServerFailures] = {}
        self._stalls: dict[str, float] = {}
        self._slow_answers: dict[str, tuple[float, int | None]] = {}   # channel -> (seconds, sends left)
        self._closing = asyncio.Event()
        self._chaos: tuple[float, float, frozenset[str] | None] = (0.0, 0.0, None)
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self._ts = itertools.count(1)
        self._people_ts: dict[str, set[str]] = defaultdict(set)    # messages people wrote (mentions), by channel
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self.socket_connections = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{id}", self._response_url)
        app.router.add_get("/socket-mode/{ticket}", self._socket_mode)
        self._runner, self.port = await serve_local(app, handle_signals=False)
        return self

    async def stop(self) -> None:
        self._closing.set()
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What AsyncWebClient takes as base_url."""
        return f"{self.url}/api/"

    # -- failure injection ----------------------------------------------------------------------
    def fail_channel(self, channel: str, error: str) -> None:
        """Every post to `channel` is refused with `error` (channel_not_found, not_in_channel, ...)."""
        self._channel_errors[channel] = error

    def fail_server(self, channel: str, times: int, status: int = 500, after: int = 0) -> None:
        """After `after` more posts, the next `times` posts to `channel` get an HTTP `status` with an
        HTML body, like a bad gateway."""
        self._server_failures[channel] = _ServerFailures(times, status, after)

    def stall(self, channel: str, seconds: float) -> None:
        """Posts to `channel` take `seconds` before any answer (a client timeout)."""
        self._stalls[channel] = seconds

    def slow_answer(self, channel: str, seconds: float, times: int | None = None) -> None:
        """Posts to `channel` are accepted at once (the message arrives) but answered only after
        `seconds`, so a client with a shorter timeout gives up on a message that is there.

        `times` limits it to the next that many posts; by default every post answers late until
        `slow_answer(channel, 0)`.
        """
        self._slow_answers[channel] = (seconds, times)

    def chaos(self, p_rate_limited: float, p_server_error: float, channels: Iterable[str] | None = None) -> None:
        """Random 429s and 5xxs, from the seeded RNG so a failing run can be replayed."""
        self._chaos = (p_rate_limited, p_server_error, frozenset(channels) if channels is not None else None)

    def scale(self, factor: float) -> None:
        """Shrink the rate-limit window (and so Retry-After) by `factor`, to run a broadcast in seconds."""
        self.rate_period /= factor

    # -- things a test hands to the bot ---------------------------------------------------------
    def response_url(self) -> str:
        return f"{self.url}/response/{next(self._ids)}"

    def slash_command(self, text: str, *, user: str = "U0USER", channel: str = "C0GENERAL",
                      command: str = "/digest") -> dict[str, str]:
        """The fields Slack sends for a slash command (a form over HTTP, a dict in Socket Mode)."""
        return {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0FAKE",
            "is_enterprise_install": "false",
            "response_url": self.response_url(),
            "trigger_id": f"{next(self._ids)}.fake",
        }

    def mention(self, text: str, *, user: str = "U0USER", channel: str = "C0GENERAL",
                event_id: str | None = None, **event_fields: Any) -> dict[str, Any]:
        """An Events API `event_callback` body carrying an app_mention."""
        ts = f"{1_700_000_000 + next(self._ids)}.000100"
        self._people_ts[channel].update({ts, str(event_fields.get("thread_ts", ts))})
        event = {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel,
                 "event_ts": ts, **event_fields}
        return {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "api_app_id": "A0FAKE",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": 1_700_000_000,
        }

    def press(self, message: dict[str, Any], label: str, *, user: str = "U0USER",
              channel: str = "C0GENERAL") -> dict[str, Any]:
        """The block_actions payload of `user` pressing the button labelled `label` in `message` (an
        answer or post of the bot's, which must carry it); it comes with a response_url of its own."""
        found = [(block, element) for block in message.get("blocks") or [] if block.get("type") == "actions"
                 for element in block.get("elements", []) if element.get("text", {}).get("text") == label]
        if not found:
            raise AssertionError(f"no button {label!r} in the message")
        block, element = found[0]
        return {"type": "block_actions", "team": {"id": self.team_id}, "api_app_id": "A0FAKE",
                "user": {"id": user, "team_id": self.team_id}, "channel": {"id": channel},
                "container": {"type": "message", "is_ephemeral": True, "channel_id": channel},
                "trigger_id": f"{next(self._ids)}.fake", "response_url": self.response_url(),
                "actions": [{"type": "button", "block_id": block.get("block_id"), "action_id": element["action_id"],
                             "value": element["value"], "text": element["text"], "action_ts": "1700000000.1"}]}

    # -- waiting for the bot --------------------------------------------------------------------
    async def wait_until(self, condition: Callable[[], bool], within: float = 10.0) -> None:
        """Return once `condition()` holds, re-checked whenever this server records something."""
        async with asyncio.timeout(within):
            async with self._changed:
                await self._changed.wait_for(condition)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def all_posts(self) -> list[dict[str, Any]]:
        return [post for posts in self.posts.values() for post in posts]

    # -- the Web API ----------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await _request_params(request)
        self.calls.append(method)
        try:
            if method == "apps.connections.open":
                if _bearer(request, params) != self.app_token:
                    return _slack_error("invalid_auth")
                return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket-mode/"
                                                             f"{next(self._ids)}"})
            if _bearer(request, params) != self.token:
                return _slack_error("invalid_auth")
            if method == "auth.test":
                return web.json_response({"ok": True, "url": "https://fake.slack.com/", "team": "Fake",
                                          "user": "digest", "team_id": self.team_id,
                                          "user_id": self.bot_user_id, "bot_id": self.bot_id})
            if method == "users.info":
                return self._users_info(str(params.get("user", "")))
            if method == "chat.postMessage":
                return await self._post_message(params)
            if method == "chat.update":
                return self._update(params)
            if method == "chat.postEphemeral":
                return self._post_ephemeral(params)
            return _slack_error("unknown_method", status=404)
        finally:
            await self._notify()

    def _users_info(self, user: str) -> web.Response:
        self.user_lookups.append(user)
        if not user.startswith(("U", "W")):
            return _slack_error("user_not_found")
        return web.json_response({"ok": True, "user": {
            "id": user, "team_id": self.team_id, "name": user.lower(), "deleted": False,
            "is_admin": user in self.admins or user in self.owners, "is_owner": user in self.owners,
            "is_bot": False,
        }})

    async def _post_message(self, params: dict[str, Any]) -> web.Response:
        channel = str(params.get("channel", ""))
        if not channel:
            return self._refuse(channel, "channel_not_found")
        if channel in self._stalls:
            await asyncio.sleep(self._stalls[channel])
        failures = self._server_failures.get(channel)
        if failures is not None and failures.spared > 0:
            failures.spared -= 1
        elif failures is not None and failures.remaining > 0:
            failures.remaining -= 1
            return web.Response(status=failures.status, text="<html>upstream trouble</html>",
                                content_type="text/html")
        p_rate_limited, p_server_error, chaos_channels = self._chaos
        if chaos_channels is None or channel in chaos_channels:
            roll = self._rng.random()
            if roll < p_rate_limited:
                return self._too_many(channel, self.rate_period)
            if roll < p_rate_limited + p_server_error:
                return web.Response(status=503, text="service unavailable")
        if channel in self._channel_errors:
            return self._refuse(channel, self._channel_errors[channel])
        wait = self._take_rate_slot(channel)
        if wait > 0:
            return self._too_many(channel, wait)
        error = check_post_message(params) or self._check_thread(channel, params)
        if error is not None:
            return self._refuse(channel, error)
        ts = f"{1_700_000_000 + next(self._ts)}.000200"
        self.posts[channel].append(params)
        self.post_ts[channel].append(ts)
        await self._answer_late(channel)
        return web.json_response({"ok": True, "channel": channel, "ts": ts,
                                  "message": {"type": "message", "text": params.get("text", ""), "ts": ts,
                                              "bot_id": self.bot_id, "user": self.bot_user_id}})

    def _update(self, params: dict[str, Any]) -> web.Response:
        """chat.update: the message with that ts in that channel now says what the call says."""
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        if channel in self._channel_errors:
            return self._refuse(channel, self._channel_errors[channel])
        wait = self._take_rate_slot(channel)
        if wait > 0:
            return self._too_many(channel, wait)
        if ts not in self.post_ts.get(channel, []):
            return self._refuse(channel, "message_not_found")
        error = check_post_message(params)
        if error is not None:
            return self._refuse(channel, error)
        index = self.post_ts[channel].index(ts)
        old = self.posts[channel][index]
        self.posts[channel][index] = {**old, **{name: params[name] for name in ("text", "blocks") if name in params}}
        self.updates.append(params)
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "text": params.get("text", "")})

    def _check_thread(self, channel: str, params: dict[str, Any]) -> str | None:
        """A reply must name the ts of a message in the same channel that is not itself a reply."""
        parent = params.get("thread_ts")
        if parent is None or str(parent) in self._people_ts[channel]:
            return None
        roots = [ts for ts, post in zip(self.post_ts[channel], self.posts[channel], strict=True)
                 if "thread_ts" not in post]
        return None if str(parent) in roots else "thread_not_found"

    def thread(self, channel: str) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """The channel's own posts, and the replies under each post's ts."""
        roots = [post for post in self.posts.get(channel, []) if "thread_ts" not in post]
        replies: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for post in self.posts.get(channel, []):
            if "thread_ts" in post:
                replies[str(post["thread_ts"])].append(post)
        return roots, dict(replies)

    async def _answer_late(self, channel: str) -> None:
        seconds, left = self._slow_answers.get(channel, (0.0, None))
        if seconds <= 0 or left == 0:
            return
        if left is not None:
            self._slow_answers[channel] = (seconds, left - 1)
        await self._notify()             # the post is visible to waiting tests before the answer
        # The wait ends early when the server stops, so a hung-up client never holds up shutdown.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _post_ephemeral(self, params: dict[str, Any]) -> web.Response:
        channel = str(params.get("channel", ""))
        if channel in self._channel_errors:
            return self._refuse(channel, self._channel_errors[channel])
        if not params.get("user"):
            return _slack_error("user_not_found")
        error = check_post_message(params)
        if error is not None:
            return self._refuse(channel, error)
        self.ephemerals.append(params)
        return web.json_response({"ok": True, "message_ts": f"{1_700_000_000 + next(self._ts)}.000300"})

    def _take_rate_slot(self, channel: str) -> float:
        """0 when the post fits the channel's window (and is counted), else the seconds until it would."""
        now = time.monotonic()
        window = self._windows[channel]
        while window and now - window[0] >= self.rate_period:
            window.popleft()
        if len(window) < self.rate_limit:
            window.append(now)
            return 0.0
        return window[0] + self.rate_period - now

    def _too_many(self, channel: str, wait: float) -> web.Response:
        self.rate_limited[channel] += 1
        # Slack sends whole seconds; below one second (a scaled-down test) a decimal keeps tests fast.
        retry_after = str(math.ceil(wait)) if wait >= 1 else f"{max(wait, 0.001):.3f}"
        return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                 headers={"Retry-After": retry_after})

    def _refuse(self, channel: str, error: str) -> web.Response:
        self.refused.append((channel, error))
        return _slack_error(error)

    # -- response_url ---------------------------------------------------------------------------
    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses[request.match_info["id"]].append(body)
        await self._notify()
        return web.json_response({"ok": True})

    def response_posts(self, response_url: str) -> list[dict[str, Any]]:
        return self.responses.get(response_url.rsplit("/", 1)[-1], [])

    # -- Socket Mode ----------------------------------------------------------------------------
    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        self.socket_connections += 1
        await socket.send_str(json.dumps({"type": "hello", "num_connections": len(self._sockets),
                                          "debug_info": {"host": "fake"},
                                          "connection_info": {"app_id": "A0FAKE"}}))
        await self._notify()
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                ack = json.loads(message.data)
                if isinstance(ack, dict) and "envelope_id" in ack:
                    self.acks[str(ack["envelope_id"])] = ack
                    await self._notify()
        finally:
            self._sockets.remove(socket)
            await self._notify()
        return socket

    @property
    def socket_open(self) -> bool:
        return bool(self._sockets)

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    async def push(self, envelope_type: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> str:
        """Send an envelope over the open Socket Mode connection; returns its envelope_id."""
        if not self._sockets:
            raise RuntimeError("no Socket Mode connection is open")
        envelope_id = f"env-{next(self._ids)}"
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": envelope_type, "payload": payload,
                                    "accepts_response_payload": envelope_type == "slash_commands"}
        if envelope_type == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = "timeout" if retry_attempt else ""
        await self._sockets[-1].send_str(json.dumps(envelope))
        return envelope_id

    async def refresh(self) -> None:
        """Ask the client to move to a new connection, as Slack does every few hours."""
        if not self._sockets:
            raise RuntimeError("no Socket Mode connection is open")
        await self._sockets[-1].send_str(json.dumps({"type": "disconnect", "reason": "refresh_requested",
                                                     "debug_info": {"host": "fake"}}))

    async def wait_ack(self, envelope_id: str, within: float = 10.0) -> dict[str, Any]:
        await self.wait_until(lambda: envelope_id in self.acks, within)
        return self.acks[envelope_id]


async def _request_params(request: web.Request) -> dict[str, Any]:
    """slack-sdk sends JSON for chat.*, a query string for GET methods and forms elsewhere."""
    params: dict[str, Any] = dict(request.query)
    body = await request.read()
    if not body:
        return params
    if request.content_type == "application/json":
        loaded = json.loads(body)
        if isinstance(loaded, dict):
            params.update(loaded)
    else:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params


def _bearer(request: web.Request, params: dict[str, Any]) -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ")
    return str(params.get("token", ""))


def signed_headers(signing_secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack signs a request with: v0 HMAC-SHA256 over "v0:{timestamp}:{body}"."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(signing_secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def _slack_error(error: str, status: int = 200) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)
