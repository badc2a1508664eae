"""The one place where what slack-sdk and aiohttp raise becomes the bot's SendError family."""

from __future__ import annotations

import math
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import DigestBotError
from bot.platforms.base import (
    ChatGone,
    MaybeSent,
    RateLimited,
    RenderingDefect,
    SendError,
    TransientError,
    Unauthorized,
)

# chat.postMessage errors after which the chat will never take another message from us.
GONE_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
# auth.test answers that mean the token itself is wrong.
TOKEN_REFUSALS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})
# Errors that mean the payload itself is wrong: retrying the same bytes can only fail again.
RENDERING_ERRORS = frozenset({"invalid_blocks", "msg_too_long", "msg_blocks_too_long"})
# What a Web API call may raise; translate_error turns each into the bot's SendError.
API_FAILURES = (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError)


class SlackStartError(DigestBotError):
    """The Slack adapter could not start; the message is safe to show (no token)."""


def translate_error(error: Exception) -> SendError:
    """The bot's SendError for what slack-sdk or aiohttp raised; the reason never carries the token."""
    if isinstance(error, SlackApiError):
        return _api_error(error)
    if isinstance(error, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError):
        return TransientError(f"not sent: {type(error).__name__}")
    if isinstance(error, TimeoutError | aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        # The request went out and the answer did not come back (a read timeout, a dropped connection).
        what = "timed out" if isinstance(error, TimeoutError) else type(error).__name__
        return MaybeSent(f"no answer from Slack ({what}) after the request went out")
    if isinstance(error, aiohttp.ClientError | SlackClientError):
        return TransientError(type(error).__name__)
    raise TypeError(f"not a send error: {type(error).__name__}") from error


def start_error(error: Exception) -> SlackStartError:
    """Why auth.test at start-up failed, worded for the operator: a refused token or no Slack at all."""
    refusal = translate_error(error)
    if isinstance(refusal, Unauthorized):
        return SlackStartError(f"Slack refused the bot token (slack.token): {refusal.reason}")
    return SlackStartError(f"Slack is unreachable at start: {refusal.reason}")


def _api_error(error: SlackApiError) -> SendError:
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


def _retry_after(headers: Any) -> float:
    try:
        value = float(headers.get("Retry-After", "1"))
    except (TypeError, ValueError):
        return 1.0
    return value if math.isfinite(value) and value >= 0 else 1.0
