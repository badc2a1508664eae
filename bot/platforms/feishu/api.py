"""The Feishu app bot's side of the open API: a cached tenant_access_token and replies to messages."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from bot.platforms.base import RenderingDefect, TransientError, Unauthorized
from bot.platforms.feishu.errors import APP_CODES, TOKEN_INVALID
from bot.platforms.feishu.limits import TOKEN_REFRESH_MARGIN
from bot.platforms.feishu.settings import FeishuSettings
from bot.platforms.webhook_sender import WebhookSender
from bot.ratelimit import SlidingWindowLimiter
from bot.render import Payload

log = logging.getLogger(__name__)

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
REPLY_PATH = "/open-apis/im/v1/messages/{message_id}/reply"
# Replies into one chat: Feishu allows an app 5 messages a second in one group.
REPLIES_PER_CHAT = (5, 1.0)


class TenantToken:
    """The app's tenant_access_token, fetched on first use and again shortly before it expires."""

    def __init__(self, poster: WebhookSender, settings: FeishuSettings, *,
                 clock: Callable[[], float] | None = None, margin: float = TOKEN_REFRESH_MARGIN) -> None:
        self._poster = poster
        self._settings = settings
        self._clock = clock or time.monotonic
        self._margin = margin
        self._token = ""
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        async with self._lock:
            if not self._token or self._clock() >= self._renew_at:
                await self._fetch()
            return self._token

    def invalidate(self) -> None:
        """Feishu refused the token (revoked, reset early): the next call fetches a new one."""
        self._token = ""

    async def _fetch(self) -> None:
        body = {"app_id": self._settings.app_id, "app_secret": self._settings.app_secret}
        status, answer = await self._poster.post_json(self._settings.base_url.rstrip("/") + TOKEN_PATH, body)
        error = APP_CODES.answer_error(status, answer, 1.0)
        if error is not None:
            raise error
        token = answer.get("tenant_access_token") if isinstance(answer, dict) else None
        lifetime = answer.get("expire") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token or not isinstance(lifetime, int):
            raise TransientError("Feishu answered without a tenant_access_token")
        self._token = token
        # Renewed before it expires, so no reply is ever refused for an old token in the meantime.
        self._renew_at = self._clock() + max(lifetime - self._margin, lifetime / 2)
        log.info("feishu: tenant_access_token fetched, valid for %ss", lifetime)


class FeishuApi:
    """Replies to a message as the app bot, paced per chat."""

    def __init__(self, poster: WebhookSender, settings: FeishuSettings, tokens: TenantToken) -> None:
        self._poster = poster
        self._base_url = settings.base_url.rstrip("/")
        self.tokens = tokens
        self._pace = SlidingWindowLimiter(*REPLIES_PER_CHAT)

    async def reply(self, chat: str, message_id: str, payload: Payload) -> str:
        """Reply to `message_id` with a rendered card; the reply's message id, or a SendError."""
        body = reply_body(payload)
        url = self._base_url + REPLY_PATH.format(message_id=message_id)
        await self._pace.acquire(chat)
        for attempt in (1, 2):
            token = await self.tokens.get()
            status, answer = await self._poster.post_json(url, body, {"Authorization": f"Bearer {token}"})
            error = APP_CODES.answer_error(status, answer, 1.0)
            if error is None:
                return _message_id(answer)
            if attempt == 1 and _code(answer) in TOKEN_INVALID:
                self.tokens.invalidate()
                continue
            raise error
        raise Unauthorized("Feishu refused a fresh tenant_access_token")


def reply_body(payload: Payload) -> Payload:
    """A rendered custom-bot card as the message API takes it: the card as a JSON string in `content`."""
    try:
        return {"msg_type": payload["msg_type"], "content": json.dumps(payload["card"], ensure_ascii=False)}
    except KeyError as missing:
        raise RenderingDefect(f"not a card payload: no {missing}") from None


def _code(answer: Any) -> object:
    return answer.get("code") if isinstance(answer, dict) else None


def _message_id(answer: Any) -> str:
    data = answer.get("data") if isinstance(answer, dict) else None
    return str(data.get("message_id", "")) if isinstance(data, dict) else ""
