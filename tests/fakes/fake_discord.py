"""A fake Discord API on 127.0.0.1: webhooks, interaction follow-ups and command registration, over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import random
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from nacl.signing import SigningKey

from tests.fakes import serve_local
from tests.fakes.discordcheck import INTERACTION_FLAGS, WEBHOOK_FLAGS, Refusal, check_message, pings
from tests.fakes.discordcommands import check_commands

RATE_LIMITED = {"message": "You are being rate limited."}


@dataclass
class _Faults:
    """Failures queued for one webhook: each list entry is used once, in order."""

    server: deque[int] = field(default_factory=deque)             # HTTP statuses to answer with
    limited: deque[tuple[float, bool]] = field(default_factory=deque)   # (retry_after, global)
    bad_body: int = 0
    spared: int = 0            # posts let through before the queued failures start


@dataclass
class FakeDiscord:
    """Discord's side, recording everything the bot posts and refusing what Discord would.

    Each webhook (and each interaction token) has a bucket of `rate_limit` requests per `rate_period`
    seconds, told in X-RateLimit-* headers; past it the answer is 429 with JSON `retry_after`.
    Bodies go through `discordcheck.check_message`. Failures are injected per webhook.
    """

    application_id: str = "1100000000000000001"
    bot_token: str = "fake-discord-bot-token.0000.not-real"
    rate_limit: int = 5
    rate_period: float = 2.0
    seed: int = 0
    # Take any webhook id and token as one created in Discord (benchmarks with thousands of webhooks).
    accept_any: bool = False

    posts: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    edits: list[tuple[str, str]] = field(default_factory=list)       # (webhook, message id) of every PATCH applied
    message_ids: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    refused: list[tuple[str, int, int]] = field(default_factory=list)   # (webhook, status, code)
    rate_limited: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    too_early: dict[str, int] = field(default_factory=lambda: defaultdict(int))   # retry_after not waited out
    pinged: list[str] = field(default_factory=list)
    followups: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    registered: list[list[dict[str, Any]]] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.signing_key = SigningKey(random.Random(self.seed).randbytes(32))
        self._tokens: dict[str, str] = {}
        self._gone: set[str] = set()
        self._faults: dict[str, _Faults] = defaultdict(_Faults)
        self._stalls: dict[str, float] = {}
        self._slow: dict[str, tuple[float, int | None]] = {}
        self._chaos: tuple[float, float, frozenset[str] | None] = (0.0, 0.0, None)
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self._paused_until: dict[str, float] = {}
        self._global_until = 0.0
        self._ids = itertools.count(1_300_000_000_000_000_000)
        self._changed = asyncio.Condition()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        app = web.Application()
        for prefix in ("/api", "/api/v10"):
            app.router.add_post(prefix + "/webhooks/{id}/{token}", self._execute)
            app.router.add_patch(prefix + "/webhooks/{id}/{token}/messages/{message}", self._edit)
            app.router.add_put(prefix + "/applications/{app}/commands", self._register)
        self._runner, self.port = await serve_local(app, handle_signals=False)
        return self

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What discord.base_url is set to: the versioned API root."""
        return f"{self.url}/api/v10"

    @property
    def public_key(self) -> str:
        return self.signing_key.verify_key.encode().hex()

    def webhook(self, webhook_id: str | None = None) -> str:
        """A new webhook's URL, as Discord's "Copy Webhook URL" gives it."""
        webhook_id = webhook_id or str(next(self._ids))
        self._tokens[webhook_id] = secrets.token_urlsafe(48)
        return f"{self.url}/api/webhooks/{webhook_id}/{self._tokens[webhook_id]}"

    # -- failure injection ----------------------------------------------------------------------
    def delete_webhook(self, webhook_id: str) -> None:
        """Posts answer 404 Unknown Webhook (10015) from now on."""
        self._gone.add(webhook_id)

    def fail_server(self, webhook_id: str, times: int, status: int = 500, after: int = 0) -> None:
        """After `after` more posts, the next `times` get HTTP `status` with an HTML body."""
        faults = self._faults[webhook_id]
        faults.server.extend([status] * times)
        faults.spared = after

    def limit_next(self, webhook_id: str, times: int = 1, retry_after: float = 0.1, *, is_global: bool = False) -> None:
        """The next `times` posts get 429 with this retry_after (and `global`), whatever the bucket says."""
        self._faults[webhook_id].limited.extend([(retry_after, is_global)] * times)

    def refuse_body(self, webhook_id: str, times: int = 1) -> None:
        """The next `times` posts get 400 Invalid Form Body (50035)."""
        self._faults[webhook_id].bad_body += times

    def stall(self, webhook_id: str, seconds: float) -> None:
        """Posts wait `seconds` before anything happens (a client timeout, nothing posted)."""
        self._stalls[webhook_id] = seconds

    def slow_answer(self, webhook_id: str, seconds: float, times: int | None = None) -> None:
        """Posts are taken at once (the message is there) but answered `seconds` later."""
        self._slow[webhook_id] = (seconds, times)

    def chaos(self, p_rate_limited: float, p_server_error: float, webhooks: Iterable[str] | None = None) -> None:
        """Random 429s and 5xxs from the seeded RNG, so a failing run can be replayed."""
        self._chaos = (p_rate_limited, p_server_error, frozenset(webhooks) if webhooks is not None else None)

    def scale(self, factor: float) -> None:
        """Shrink every window (and so every retry_after) by `factor`."""
        self.rate_period /= factor

    # -- waiting for the bot --------------------------------------------------------------------
    async def wait_until(self, condition: Callable[[], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            async with self._changed:
                await self._changed.wait_for(condition)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- executing a webhook (and an interaction follow-up) -------------------------------------
    async def _execute(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        key, token = request.match_info["id"], request.match_info["token"]
        followup = key == self.application_id
        try:
            refusal = self._refuse_early(key, token, followup)
            if refusal is not None:
                return refusal
            if key in self._stalls:
                await self._sleep(self._stalls[key])
            body = await _json_body(request)
            answer = self._faulty(key) or self._limited(key)
            if answer is not None:
                return answer
            try:
                check_message(body, flags_allowed=INTERACTION_FLAGS if followup else WEBHOOK_FLAGS)
            except Refusal as refusal_:
                return self._refusal(key, refusal_)
            return await self._accept(request, key, token, body, followup)
        finally:
            await self._notify()

    async def _edit(self, request: web.Request) -> web.StreamResponse:
        """PATCH of a message the webhook posted: its content and embeds replaced, its flags kept."""
        key, token, wanted = request.match_info["id"], request.match_info["token"], request.match_info["message"]
        try:
            refusal = self._refuse_early(key, token, followup=False)
            if refusal is not None:
                return refusal
            body = await _json_body(request)
            answer = self._limited(key)
            if answer is not None:
                return answer
            if wanted not in self.message_ids[key]:
                return self._refusal(key, Refusal(404, 10008, "Unknown Message"))
            index = self.message_ids[key].index(wanted)
            edited = {**self.posts[key][index], **body}
            try:
                check_message(edited, flags_allowed=WEBHOOK_FLAGS)
            except Refusal as refusal_:
                return self._refusal(key, refusal_)
            self.posts[key][index] = edited
            self.edits.append((key, wanted))
            return web.json_response({"id": wanted, "type": 0, "webhook_id": key, "content": edited.get("content", ""),
                                      "embeds": edited.get("embeds", []), "flags": edited.get("flags", 0)},
                                     headers=self._bucket_headers(key))
        finally:
            await self._notify()

    def _refuse_early(self, key: str, token: str, followup: bool) -> web.Response | None:
        if followup:
            return None
        if self.accept_any and key not in self._gone:
            self._tokens.setdefault(key, token)
        if key in self._gone or key not in self._tokens:
            return self._refusal(key, Refusal(404, 10015, "Unknown Webhook"))
        if token != self._tokens[key]:
            return self._refusal(key, Refusal(401, 50027, "Invalid Webhook Token"))
        return None

    def _faulty(self, key: str) -> web.Response | None:
        faults = self._faults.get(key)
        if faults is not None and faults.spared > 0:
            faults.spared -= 1
        elif faults is not None and faults.server:
            return web.Response(status=faults.server.popleft(), text="<html>upstream trouble</html>",
                                content_type="text/html")
        elif faults is not None and faults.limited:
            retry_after, is_global = faults.limited.popleft()
            return self._too_many(key, retry_after, is_global=is_global)
        elif faults is not None and faults.bad_body > 0:
            faults.bad_body -= 1
            return self._refusal(key, Refusal(400, 50035, "Invalid Form Body",
                                              {"embeds.0.description": "BASE_TYPE_MAX_LENGTH"}))
        p_limited, p_error, only = self._chaos
        if only is None or key in only:
            roll = self._rng.random()
            if roll < p_limited:
                return self._too_many(key, self.rate_period / 4, is_global=False)
            if roll < p_limited + p_error:
                return web.Response(status=503, text="service unavailable")
        return None

    def _limited(self, key: str) -> web.Response | None:
        """429 when the request breaks a pause Discord asked for or overfills the bucket's window."""
        now = time.monotonic()
        pause = max(self._global_until, self._paused_until.get(key, 0.0))
        if now < pause:
            self.too_early[key] += 1
            return self._too_many(key, pause - now, is_global=now < self._global_until)
        window = self._windows[key]
        while window and now - window[0] >= self.rate_period:
            window.popleft()
        if len(window) >= self.rate_limit:
            return self._too_many(key, window[0] + self.rate_period - now, is_global=False)
        window.append(now)
        return None

    async def _accept(self, request: web.Request, key: str, token: str, body: dict[str, Any],
                      followup: bool) -> web.StreamResponse:
        message_id = str(next(self._ids))
        if followup:
            self.followups[token].append(body)
        else:
            self.posts[key].append(body)
            self.message_ids[key].append(message_id)
        self.pinged += pings(body)
        await self._answer_late(key)
        headers = self._bucket_headers(key)
        if not followup and request.query.get("wait", "").lower() != "true":
            return web.Response(status=204, headers=headers)
        message = {"id": message_id, "type": 0, "channel_id": "1200000000000000001", "webhook_id": key,
                   "content": body.get("content", ""), "embeds": body.get("embeds", []),
                   "flags": body.get("flags", 0)}
        return web.json_response(message, headers=headers)

    async def _answer_late(self, key: str) -> None:
        seconds, left = self._slow.get(key, (0.0, None))
        if seconds <= 0 or left == 0:
            return
        if left is not None:
            self._slow[key] = (seconds, left - 1)
        await self._notify()
        await self._sleep(seconds)

    async def _sleep(self, seconds: float) -> None:
        # Ends early when the server stops, so a hung-up client never holds up shutdown.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _bucket_headers(self, key: str) -> dict[str, str]:
        now = time.monotonic()
        window = self._windows[key]
        reset_after = (window[0] + self.rate_period - now) if window else self.rate_period
        return {"X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(max(0, self.rate_limit - len(window))),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{max(reset_after, 0.001):.3f}",
                "X-RateLimit-Bucket": f"bucket-{hash(key) & 0xFFFFFF:06x}"}

    def _too_many(self, key: str, retry_after: float, *, is_global: bool) -> web.Response:
        retry_after = max(retry_after, 0.001)
        self.rate_limited[key] += 1
        until = time.monotonic() + retry_after
        if is_global:
            self._global_until = max(self._global_until, until)
        else:
            self._paused_until[key] = max(self._paused_until.get(key, 0.0), until)
        headers = {"Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Scope": "global" if is_global else "user"}
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(self._bucket_headers(key), **{"X-RateLimit-Remaining": "0",
                                                          "X-RateLimit-Reset-After": f"{retry_after:.3f}"})
        body = {**RATE_LIMITED, "retry_after": round(retry_after, 3), "global": is_global}
        return web.json_response(body, status=429, headers=headers)

    def _refusal(self, key: str, refusal: Refusal) -> web.Response:
        self.refused.append((key, refusal.status, refusal.code))
        return web.json_response(refusal.body(), status=refusal.status)

    # -- registering commands -------------------------------------------------------------------
    async def _register(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bot {self.bot_token}":
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        if request.match_info["app"] != self.application_id:
            return web.json_response({"message": "Unknown Application", "code": 10002}, status=404)
        commands = await _json_body(request)
        try:
            check_commands(commands)
        except Refusal as refusal:
            return web.json_response(refusal.body(), status=refusal.status)
        self.registered.append(commands)
        await self._notify()
        return web.json_response([{**command, "id": str(next(self._ids)), "application_id": self.application_id}
                                  for command in commands])

    # -- interactions (Discord calling the bot) --------------------------------------------------
    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """The headers Discord signs an interaction with: Ed25519 over timestamp + body."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.signing_key.sign(stamp.encode() + body).signature.hex()
        return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp,
                "Content-Type": "application/json"}

    def interaction(self, name: str, options: dict[str, Any] | None = None, *, locale: str = "en-US",
                    user: str = "400000000000000001", channel: str = "500000000000000001",
                    in_guild: bool = True) -> dict[str, Any]:
        """An APPLICATION_COMMAND interaction as Discord posts it to the bot's endpoint."""
        types = {bool: 5, int: 4, str: 3}
        data: dict[str, Any] = {"id": str(next(self._ids)), "name": name, "type": 1}
        if options:
            data["options"] = [{"name": key, "type": types[type(value)], "value": value}
                               for key, value in options.items()]
        who = {"id": user, "username": f"user{user[-3:]}", "global_name": None}
        body: dict[str, Any] = {"id": str(next(self._ids)), "application_id": self.application_id, "type": 2,
                                "token": f"itoken-{secrets.token_urlsafe(60)}", "version": 1, "data": data,
                                "channel_id": channel, "locale": locale}
        if in_guild:
            body.update(guild_id="600000000000000001", guild_locale="en-US",
                        member={"user": who, "permissions": "2248473465835073", "roles": []})
        else:
            body["user"] = who
        return body

    def followup_posts(self, interaction: dict[str, Any]) -> list[dict[str, Any]]:
        return self.followups.get(str(interaction["token"]), [])

    def total_posted(self) -> int:
        return sum(len(posts) for posts in self.posts.values())


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except ValueError:
        return None

