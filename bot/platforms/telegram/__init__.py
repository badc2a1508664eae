"""The Telegram platform: the HTML renderer and limits load at once; the adapter, which needs the SDK, on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bot.platforms.telegram.html import render_digest, render_items, render_notice, telegram_link_url
from bot.platforms.telegram.limits import LIMITS, PLATFORM, TelegramLimits, TelegramRateLimits

if TYPE_CHECKING:
    from bot.platforms.telegram.channel import TelegramChannel
    from bot.platforms.telegram.errors import TelegramStartError
    from bot.platforms.telegram.receiver import WEBHOOK_PATH

__all__ = [
    "LIMITS",
    "PLATFORM",
    "WEBHOOK_PATH",
    "TelegramChannel",
    "TelegramLimits",
    "TelegramRateLimits",
    "TelegramStartError",
    "render_digest",
    "render_items",
    "render_notice",
    "telegram_link_url",
]

# Importing python-telegram-bot takes about a second: rendering (digestbot render, or a send with
# Telegram not configured) must not pay for it.
_NEEDS_SDK = {
    "TelegramChannel": "bot.platforms.telegram.channel",
    "TelegramStartError": "bot.platforms.telegram.errors",
    "WEBHOOK_PATH": "bot.platforms.telegram.receiver",
}


def __getattr__(name: str) -> Any:
    module = _NEEDS_SDK.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
