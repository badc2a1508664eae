"""What the fake Feishu, WeCom and DingTalk robot servers share: robots, byte-measured bodies, windows, faults."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import serve_local

OK = 0


@dataclass
class Robot:
    """One custom robot in one group: its credential, optional signing secret and keywords."""

    credential: str
    secret: str = ""
    keywords: tuple[str, ...] = ()
    gone: bool = False
    throttled_until: float = 0.0       # DingTalk: a robot over its limit is refused for minutes


@dataclass(frozen=True)
class Fault:
    """One injected answer: an HTTP status, an error code, or a stall (posted or not before it)."""

    status: int = 200
    code: int = 0
    message: str = "injected"
    stall: float = 0.0
    posted: bool = False    # a stall after the message is in: the bot sees no answer, the group sees it


@dataclass
class Refusal:
    credential: str
    code: int
    message: str


@dataclass
class FakeRobots:
    """A robot platform's webhook side on 127.0.0.1, recording every message each robot accepted.

    A subclass says where the credential is, how a signature is checked, what a body may hold and
    what the platform's answers and codes look like. Windows are (count, seconds) per robot and
    divided by `scale`, so tests run fast while every limit still binds.
    """

    windows: tuple[tuple[int, float], ...] = ((20, 60.0),)
    scale: float = 1.0
    seed: int = 0
    any_robot: bool = False       # every credential names a robot, made on its first post (benchmarks)
    posts: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    bodies: dict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    refused: list[Refusal] = field(default_factory=list)
    rate_limited: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def __post_init__(self) -> None:
        self.robots: dict[str, Robot] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._arrivals: dict[str, deque[float]] = defaultdict(deque)
        self._chaos: tuple[float, float] = (0.0, 0.0)
        self._rng = random.Random(self.seed)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- what a platform says -------------------------------------------------------------------
    rate_limited_code = 0
    gone_code = 0

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def robot_url(self, credential: str) -> str:
        raise NotImplementedError

    def answer(self, code: int, message: str, status: int = 200) -> web.Response:
        raise NotImplementedError

    def signature_ok(self, request: web.Request, body: Any, robot: Robot) -> bool:
        return True

    def body_error(self, raw: bytes, body: Any) -> tuple[int, str] | tuple[int, str, int] | None:
        """The code, message (and HTTP status when not 200) refusing a body the platform would refuse, or None."""
        raise NotImplementedError

    def over_limit(self, robot: Robot, now: float) -> None:
        """A post beyond the windows arrived (DingTalk throttles the robot for minutes)."""

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> FakeRobots:
        app = web.Application(client_max_size=1024 * 1024)
        app.add_routes(self.routes())
        # Its access log is the platform's, not the bot's: it would quote every credential in a test's log capture.
        self._runner, self.port = await serve_local(app, handle_signals=False, access_log=None)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeRobots:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- robots and faults ----------------------------------------------------------------------
    def add_robot(self, *, secret: str = "", keywords: tuple[str, ...] = (), credential: str = "") -> str:
        """A new robot; its webhook URL (what a channel's `webhook` holds)."""
        credential = credential or secrets.token_hex(16)
        self.robots[credential] = Robot(credential, secret, keywords)
        return self.robot_url(credential)

    def remove_robot(self, credential: str) -> None:
        self.robots[credential].gone = True

    def fail(self, credential: str, *faults: Fault) -> None:
        """The robot's next posts get these answers, in order, before it behaves again."""
        self._faults[credential].extend(faults)

    def chaos(self, *, p_rate_limited: float = 0.0, p_server_error: float = 0.0) -> None:
        """Every post may be refused as too fast or answered 502 (not posted), at random but seeded."""
        self._chaos = (p_rate_limited, p_server_error)

    def messages(self, credential: str) -> list[dict[str, Any]]:
        return self.posts[credential]

    def all_posts(self) -> list[dict[str, Any]]:
        return [post for posts in self.posts.values() for post in posts]

    def total_sent(self) -> int:
        return sum(len(posts) for posts in self.posts.values())

    # -- one post -------------------------------------------------------------------------------
    async def handle_post(self, request: web.Request, credential: str) -> web.Response:
        raw = await request.read()
        if self.any_robot and credential and credential not in self.robots:
            self.robots[credential] = Robot(credential)
        robot = self.robots.get(credential)
        if robot is None or robot.gone:
            return self._refuse(credential, self.gone_code, "invalid webhook")
        fault = self._faults[credential].popleft() if self._faults[credential] else self._random_fault()
        if fault is not None and not fault.posted:
            if fault.stall:
                await asyncio.sleep(fault.stall)
            if fault.status >= 500:
                return web.Response(status=fault.status, text="Bad Gateway")
            if fault.code:
                return self._refuse(credential, fault.code, fault.message, fault.status)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self._refuse(credential, 400, "body is not JSON", 400)
        refusal = self._check(request, raw, body, robot)
        if refusal is not None:
            return refusal
        self.posts[credential].append(body)
        self.bodies[credential].append(raw)
        if fault is not None and fault.stall:
            await asyncio.sleep(fault.stall)
        return self.answer(OK, "ok")

    def _check(self, request: web.Request, raw: bytes, body: Any, robot: Robot) -> web.Response | None:
        if not self.signature_ok(request, body, robot):
            return self._refuse(robot.credential, *self.signature_refusal())
        now = time.monotonic()
        if now < robot.throttled_until or not self._arrive(robot.credential, now):
            self.over_limit(robot, now)
            return self._refuse(robot.credential, self.rate_limited_code, "send too fast")
        if robot.keywords and not any(word in raw.decode("utf-8") for word in robot.keywords):
            return self._refuse(robot.credential, *self.keyword_refusal())
        problem = self.body_error(raw, body)
        if problem is not None:
            return self._refuse(robot.credential, *problem)
        return None

    def signature_refusal(self) -> tuple[int, str]:
        raise NotImplementedError

    def keyword_refusal(self) -> tuple[int, str]:
        raise NotImplementedError

    def _arrive(self, credential: str, now: float) -> bool:
        """Count an arrival in every window; False (not counted) when any window is full."""
        arrivals = self._arrivals[credential]
        for count, seconds in self.windows:
            period = seconds / self.scale
            if sum(1 for at in arrivals if now - at < period) >= count:
                return False
        arrivals.append(now)
        longest = max(seconds for _, seconds in self.windows) / self.scale
        while arrivals and now - arrivals[0] >= longest:
            arrivals.popleft()
        return True

    def _random_fault(self) -> Fault | None:
        p_rate_limited, p_server_error = self._chaos
        roll = self._rng.random()
        if roll < p_rate_limited:
            return Fault(code=self.rate_limited_code, message="send too fast")
        if roll < p_rate_limited + p_server_error:
            return Fault(status=502)
        return None

    def _refuse(self, credential: str, code: int, message: str, status: int = 200) -> web.Response:
        self.refused.append(Refusal(credential, code, message))
        if code == self.rate_limited_code:
            self.rate_limited[credential] += 1
        return self.answer(code, message, status)


def within(window: float, timestamp: float, clock: Callable[[], float] = time.time) -> bool:
    """A signature timestamp (seconds) within `window` seconds of now, as both platforms demand."""
    return abs(clock() - timestamp) <= window
