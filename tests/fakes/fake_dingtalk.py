"""A fake DingTalk custom-robot webhook on 127.0.0.1: signed queries, bodies in bytes, 20 a minute, throttling."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.fake_robots import FakeRobots, Robot, within

MAX_BODY_BYTES = 20_000
SIGNATURE_WINDOW = 3600


def expected_sign(secret: str, timestamp_ms: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class FakeDingTalk(FakeRobots):
    """`POST /robot/send?access_token=T[&timestamp&sign]` as DingTalk answers it. Past 20 posts a
    minute a robot answers 130101 and stays throttled for `throttle_seconds` (ten minutes at scale
    1), every post in between refused too; 310000 for a wrong signature or a missing keyword."""

    throttle_seconds: float = 600.0
    rate_limited_code = 130101
    gone_code = 300001

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/robot/send", self._send)]

    async def _send(self, request: web.Request) -> web.Response:
        return await self.handle_post(request, request.query.get("access_token", ""))

    def robot_url(self, credential: str) -> str:
        return f"{self.url}/robot/send?access_token={credential}"

    def answer(self, code: int, message: str, status: int = 200) -> web.Response:
        return web.json_response({"errcode": code, "errmsg": message}, status=status)

    def signature_ok(self, request: web.Request, body: Any, robot: Robot) -> bool:
        if not robot.secret:
            return True
        timestamp = request.query.get("timestamp", "")
        if not timestamp.isdigit() or not within(SIGNATURE_WINDOW, int(timestamp) / 1000):
            return False
        return hmac.compare_digest(request.query.get("sign", ""), expected_sign(robot.secret, timestamp))

    def signature_refusal(self) -> tuple[int, str]:
        return 310000, "sign not match"

    def keyword_refusal(self) -> tuple[int, str]:
        return 310000, "keywords not in content"

    def over_limit(self, robot: Robot, now: float) -> None:
        if now >= robot.throttled_until:
            robot.throttled_until = now + self.throttle_seconds / self.scale

    def body_error(self, raw: bytes, body: Any) -> tuple[int, str] | tuple[int, str, int] | None:
        if len(raw) > MAX_BODY_BYTES:
            return 460101, "message too long"
        markdown = body.get("markdown") if isinstance(body, dict) else None
        if body.get("msgtype") != "markdown" or not isinstance(markdown, dict):
            return 40035, "invalid msgtype or missing markdown"
        if not all(isinstance(markdown.get(key), str) and markdown[key] for key in ("title", "text")):
            return 40035, "markdown needs title and text"
        return None
