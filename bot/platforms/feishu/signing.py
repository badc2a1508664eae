"""Feishu's custom-bot signature: `timestamp` (seconds) and `sign` added to the JSON body when a secret is set."""

from __future__ import annotations

from bot.platforms.webhook import hmac_base64
from bot.render import Payload


def sign(secret: str, timestamp: int) -> str:
    """base64(HMAC-SHA256(key = timestamp + "\\n" + secret, message = "")), as Feishu checks it."""
    return hmac_base64(f"{timestamp}\n{secret}".encode(), b"")


def signed_body(payload: Payload, secret: str, timestamp: int) -> Payload:
    """The body with `timestamp` and `sign` first, or the payload itself when there is no secret."""
    if not secret:
        return payload
    return {"timestamp": str(timestamp), "sign": sign(secret, timestamp), **payload}
