"""The one place where Telegram's answers (PTB's exceptions) become the bot's SendError family."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable

import httpx
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bot.errors import DigestBotError
from bot.platforms.base import (
    ChatGone,
    ChatMoved,
    MaybeSent,
    RateLimited,
    RenderingDefect,
    SendError,
    TransientError,
    Unauthorized,
)

# Takes the bot token out of a text before it goes into an error or a log line.
Scrub = Callable[[str], str]

# httpx failures after which the request is known not to have reached Telegram whole.
NOT_SENT_CAUSES = (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout, httpx.ConnectError,
                   httpx.WriteError, httpx.UnsupportedProtocol, httpx.ProxyError)

# BadRequest texts that mean "this chat will not take the bot's messages", not "this message is bad".
CHAT_GONE_SIGNS = (
    "chat not found",
    "group chat was deactivated",
    "not enough rights to send",
    "have no rights to send",
    "chat_write_forbidden",
    "need administrator rights in the channel chat",
    "peer_id_invalid",
)


class TelegramStartError(DigestBotError):
    """The Telegram adapter could not start; the message is safe to show (no token)."""


def send_error(error: TelegramError, scrub: Scrub) -> SendError:
    """What a sendMessage that failed with `error` means for delivery."""
    if isinstance(error, RetryAfter):
        return RateLimited(scrub(error.message), _retry_after_seconds(error))
    if isinstance(error, ChatMigrated):
        return ChatMoved(f"group moved to {error.new_chat_id}", str(error.new_chat_id))
    if isinstance(error, Forbidden):
        return ChatGone(scrub(error.message))
    if isinstance(error, BadRequest):
        # BadRequest is a NetworkError: it must be told apart before the retryable errors.
        reason = scrub(error.message)
        if any(sign in reason.lower() for sign in CHAT_GONE_SIGNS):
            return ChatGone(reason)
        return RenderingDefect(reason)
    if isinstance(error, InvalidToken | EndPointNotFound):
        # Not the chat's fault: reported, never marked inactive, retried at the next poll. Once the
        # bot has signed in, do_api_request reports a refused token (401, 404) as EndPointNotFound.
        return Unauthorized("Telegram refused the bot token")
    if isinstance(error, NetworkError):
        # TimedOut is a NetworkError too; what httpx raised underneath tells whether the request
        # had gone out whole.
        return _transport_error(error, scrub)
    return TransientError(scrub(error.message))


def _transport_error(error: NetworkError, scrub: Scrub) -> SendError:
    cause = error.__cause__
    if isinstance(cause, NOT_SENT_CAUSES):
        return TransientError(f"not sent: {type(cause).__name__}")
    if isinstance(cause, httpx.HTTPError) or isinstance(error, TimedOut):
        # Written, then no answer (a read timeout, a dropped connection): Telegram may have posted it.
        what = type(cause).__name__ if cause is not None else "timed out"
        return MaybeSent(f"no answer from Telegram ({what}); the message may have been delivered")
    return TransientError(scrub(error.message))   # Telegram answered, with a server error


def open_error(error: TelegramError, scrub: Scrub) -> SendError:
    """Why a send could not open the bot's HTTP client (getMe failed): retried later like network trouble."""
    if isinstance(error, InvalidToken):
        return TransientError("Telegram refused the bot token")
    return TransientError(f"Telegram is unreachable: {scrub(error.message)}")


def start_error(error: TelegramError, scrub: Scrub) -> TelegramStartError:
    """Why start() could not reach Telegram (getMe failed), in one line without the token."""
    if isinstance(error, InvalidToken):
        return TelegramStartError("Telegram refused the bot token (telegram.token)")
    return TelegramStartError(f"Telegram is unreachable at start: {scrub(str(error))}")


def updates_error(error: TelegramError, updates: str, scrub: Scrub) -> TelegramStartError:
    """Why Telegram would not deliver updates by `updates` (webhook or polling)."""
    return TelegramStartError(f"Telegram refused to deliver updates ({updates}): {scrub(str(error))}")


def _retry_after_seconds(error: RetryAfter) -> float:
    # PTB warns that the attribute will become a timedelta; both shapes are handled here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
