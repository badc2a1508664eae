"""A fake WeCom group-robot webhook on 127.0.0.1: content measured in UTF-8 bytes, 20 a minute, errcodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.fake_robots import FakeRobots

MAX_MARKDOWN_BYTES = 4_096
MAX_TEXT_BYTES = 2_048


@dataclass
class FakeWeCom(FakeRobots):
    """`POST /cgi-bin/webhook/send?key=KEY` as WeCom answers it: 45009 past 20 a minute, 40058 past
    4,096 bytes of markdown (2,048 of text), 93000 for a key no robot has."""

    rate_limited_code = 45009
    gone_code = 93000

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/cgi-bin/webhook/send", self._send)]

    async def _send(self, request: web.Request) -> web.Response:
        return await self.handle_post(request, request.query.get("key", ""))

    def robot_url(self, credential: str) -> str:
        return f"{self.url}/cgi-bin/webhook/send?key={credential}"

    def answer(self, code: int, message: str, status: int = 200) -> web.Response:
        return web.json_response({"errcode": code, "errmsg": message}, status=status)

    def signature_refusal(self) -> tuple[int, str]:
        raise AssertionError("WeCom robots are not signed")

    def keyword_refusal(self) -> tuple[int, str]:
        raise AssertionError("WeCom robots have no keywords")

    def body_error(self, raw: bytes, body: Any) -> tuple[int, str] | tuple[int, str, int] | None:
        kind = body.get("msgtype") if isinstance(body, dict) else None
        if kind not in ("markdown", "text") or not isinstance(body.get(kind), dict):
            return 40008, "invalid message type"
        content = body[kind].get("content")
        if not isinstance(content, str) or not content:
            return 44004, "empty content"
        limit = MAX_MARKDOWN_BYTES if kind == "markdown" else MAX_TEXT_BYTES
        if len(content.encode("utf-8")) > limit:
            return 40058, f"content exceed max length {limit}"
        return None


def content(post: dict[str, Any]) -> str:
    """What a recorded WeCom message shows, whichever kind it is."""
    return str(post[post["msgtype"]]["content"])
