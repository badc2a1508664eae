"""A fake Feishu/Lark open platform on 127.0.0.1: custom-bot webhooks (bytes, signatures, 5/s and 100/min,
codes) and the app bot's API (tenant_access_token, message replies), plus the events it sends a bot."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.fake_robots import FakeRobots, Robot, within

MAX_BODY_BYTES = 20 * 1024
MAX_CARD_BYTES = 30 * 1024
SIGNATURE_WINDOW = 3600
TOKEN_INVALID = 99991663


def expected_sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class FakeFeishu(FakeRobots):
    """The robot webhook `POST /open-apis/bot/v2/hook/{token}` and the app API a command bot uses."""

    windows: tuple[tuple[int, float], ...] = ((5, 1.0), (100, 60.0))
    app_id: str = "cli_fake_app"
    app_secret: str = "fake-app-secret-value"
    token_lifetime: int = 7200
    replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tokens_issued: list[str] = field(default_factory=list)
    rate_limited_code = 9499
    gone_code = 19001

    def __post_init__(self) -> None:
        super().__post_init__()
        self._token_expiry: dict[str, float] = {}
        self._ids = itertools.count(1)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/open-apis/bot/v2/hook/{token}", self._hook),
                web.post("/open-apis/auth/v3/tenant_access_token/internal", self._tenant_token),
                web.post("/open-apis/im/v1/messages/{message_id}/reply", self._reply)]

    async def _hook(self, request: web.Request) -> web.Response:
        return await self.handle_post(request, request.match_info["token"])

    def robot_url(self, credential: str) -> str:
        return f"{self.url}/open-apis/bot/v2/hook/{credential}"

    def answer(self, code: int, message: str, status: int = 200) -> web.Response:
        return web.json_response({"code": code, "msg": "success" if code == 0 else message, "data": {}},
                                 status=status)

    def signature_ok(self, request: web.Request, body: Any, robot: Robot) -> bool:
        if not robot.secret:
            return True
        timestamp = str(body.get("timestamp", "")) if isinstance(body, dict) else ""
        if not timestamp.isdigit() or not within(SIGNATURE_WINDOW, int(timestamp)):
            return False
        return hmac.compare_digest(str(body.get("sign", "")), expected_sign(robot.secret, timestamp))

    def signature_refusal(self) -> tuple[int, str]:
        return 19021, "sign match fail or timestamp is not within one hour from current time"

    def keyword_refusal(self) -> tuple[int, str]:
        return 19024, "Key Words Not Found"

    def body_error(self, raw: bytes, body: Any) -> tuple[int, str, int] | None:
        if len(raw) > MAX_BODY_BYTES:
            return 9499, "Bad Request", 400
        if not isinstance(body, dict) or body.get("msg_type") != "interactive" or not isinstance(body.get("card"),
                                                                                                  dict):
            return 19002, "params error: msg_type interactive with a card", 400
        card = json.dumps(body["card"], ensure_ascii=False).encode()
        if len(card) > MAX_CARD_BYTES:
            return 11246, "card content exceeds 30KB", 400
        return None

    # -- the app API ----------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Every token issued so far stops working (as after a secret reset)."""
        for token in self._token_expiry:
            self._token_expiry[token] = 0.0

    async def _tenant_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("app_id") != self.app_id or body.get("app_secret") != self.app_secret:
            return web.json_response({"code": 10014, "msg": "app secret invalid"})
        token = f"t-{secrets.token_hex(12)}"
        self.tokens_issued.append(token)
        self._token_expiry[token] = time.monotonic() + self.token_lifetime
        return web.json_response({"code": 0, "msg": "ok", "tenant_access_token": token,
                                  "expire": self.token_lifetime})

    async def _reply(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self._token_expiry.get(token, 0.0) <= time.monotonic():
            return web.json_response({"code": TOKEN_INVALID, "msg": "Invalid access token for authorization"},
                                     status=400)
        body = await request.json()
        if body.get("msg_type") != "interactive" or not isinstance(json.loads(body.get("content", "")), dict):
            return web.json_response({"code": 230001, "msg": "invalid content"}, status=400)
        self.replies.setdefault(request.match_info["message_id"], []).append(body)
        return web.json_response({"code": 0, "msg": "success", "data": {"message_id": f"om_{next(self._ids)}"}})

    # -- events a bot receives ------------------------------------------------------------------
    def message_event(self, text: str, *, chat_type: str = "group", mention: bool = True, chat: str = "oc_group",
                      user: str = "ou_user", token: str = "verify-token", event_id: str = "") -> dict[str, Any]:
        """An im.message.receive_v1 callback (schema 2.0) carrying a text message."""
        number = next(self._ids)
        mentions = [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "Digest"}] if mention else []
        shown = f"@_user_1 {text}" if mention else text
        return {
            "schema": "2.0",
            "header": {"event_id": event_id or f"ev_{number}", "event_type": "im.message.receive_v1",
                       "create_time": "1700000000000", "token": token, "app_id": self.app_id,
                       "tenant_key": "tenant"},
            "event": {"sender": {"sender_id": {"open_id": user}, "sender_type": "user"},
                      "message": {"message_id": f"om_in_{number}", "chat_id": chat, "chat_type": chat_type,
                                  "message_type": "text", "content": json.dumps({"text": shown}),
                                  "mentions": mentions}},
        }


def encrypt(encrypt_key: str, body: dict[str, Any]) -> dict[str, str]:
    """An event as Feishu sends it with an encrypt key: AES-256-CBC, SHA-256 of the key, IV first."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = secrets.token_bytes(16)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(body).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return {"encrypt": base64.b64encode(iv + encryptor.update(plain) + encryptor.finalize()).decode()}
