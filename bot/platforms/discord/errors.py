"""The one place where Discord's HTTP answers (and aiohttp's failures) become the bot's SendError family."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bot.errors import DigestBotError
from bot.platforms.base import (
    ChatGone,
    RateLimited,
    RenderingDefect,
    SendError,
    TransientError,
    Unauthorized,
)
from bot.platforms.discord.limits import DEFAULT_RETRY_AFTER, MAX_RETRY_AFTER
from bot.platforms.discord.webhooks import mask_text
from bot.platforms.http_client import transport_error as shared_transport_error

# JSON error codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
UNKNOWN_WEBHOOK = 10015
INVALID_FORM_BODY = 50035
INVALID_WEBHOOK_TOKEN = 50027
# How much of Discord's own message an error reason quotes.
MAX_QUOTED = 200


class DiscordRateLimited(RateLimited):
    """A 429 from Discord; `is_global` when it holds every request of the bot, not one webhook."""

    def __init__(self, reason: str, retry_after: float, *, is_global: bool) -> None:
        super().__init__(reason, retry_after)
        self.is_global = is_global


class DiscordStartError(DigestBotError):
    """Discord could not be set up at start (command registration); the message holds no secret."""


def answer_error(status: int, body: Any, headers: Mapping[str, str]) -> SendError:
    """The bot's SendError for a Discord answer with a status of 400 or more."""
    code, message = _code_and_message(body)
    said = f"{message} ({code})" if code else (message or f"HTTP {status}")
    if status == 429:
        is_global = _is_global(body, headers)
        scope = "global" if is_global else "this webhook"
        return DiscordRateLimited(f"rate limited ({scope})", retry_after(body, headers), is_global=is_global)
    if code == UNKNOWN_WEBHOOK or status == 404:
        # The webhook was deleted (or its channel was): nothing will ever be posted through it again.
        return ChatGone(said if code else "Unknown Webhook (HTTP 404)")
    if status in (401, 403):
        # A wrong or revoked webhook token, or missing permissions: fixed in Discord or the config,
        # and no reason to think the channel itself is gone.
        return Unauthorized(said)
    if status == 400 or code == INVALID_FORM_BODY or status == 413:
        return RenderingDefect(_with_details(said, body))
    if status >= 500:
        return TransientError(f"HTTP {status}" + (f" {said}" if code else ""))
    # Anything else is retried a bounded number of times by the deliverer, then reported with its code.
    return TransientError(said)


def transport_error(error: Exception) -> SendError:
    """The bot's SendError for what aiohttp raised; the reason never carries a webhook token."""
    return shared_transport_error(error, "Discord")


def retry_after(body: Any, headers: Mapping[str, str]) -> float:
    """Seconds a 429 asks for: the JSON `retry_after` (fractional), else the headers, else a default."""
    candidates = [body.get("retry_after") if isinstance(body, dict) else None,
                  headers.get("X-RateLimit-Reset-After"), headers.get("Retry-After")]
    for candidate in candidates:
        seconds = _seconds(candidate)
        if seconds is not None:
            return seconds
    return DEFAULT_RETRY_AFTER


def _seconds(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


def _is_global(body: Any, headers: Mapping[str, str]) -> bool:
    if isinstance(body, dict) and body.get("global") is True:
        return True
    return headers.get("X-RateLimit-Global", "").lower() == "true"


def _code_and_message(body: Any) -> tuple[int, str]:
    if not isinstance(body, dict):
        return 0, ""
    code = body.get("code")
    message = body.get("message")
    return (code if isinstance(code, int) and not isinstance(code, bool) else 0,
            mask_text(str(message))[:MAX_QUOTED] if isinstance(message, str) else "")


def _with_details(said: str, body: Any) -> str:
    """Invalid Form Body names the fields at fault (embeds.0.description: …): worth a line in the log."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict):
        return said
    return f"{said}: {mask_text(', '.join(_error_paths(errors)))[:MAX_QUOTED]}"


def _error_paths(errors: dict[str, Any], prefix: str = "", depth: int = 0) -> list[str]:
    found: list[str] = []
    for key, value in errors.items():
        if not isinstance(value, dict) or depth > 8:
            continue
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value.get("_errors"), list):
            codes = [str(entry.get("code", "")) for entry in value["_errors"] if isinstance(entry, dict)]
            found.append(f"{path}: {'/'.join(codes)}")
        found += _error_paths(value, path, depth + 1)
    return found
