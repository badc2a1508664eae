"""The Telegram platform: the HTML renderer and limits load at once; the adapter, which needs the SDK, on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platforms import lazy_exports
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

_NEEDS_SDK = {
    "TelegramChannel": "bot.platforms.telegram.channel",
    "TelegramStartError": "bot.platforms.telegram.errors",
    "WEBHOOK_PATH": "bot.platforms.telegram.receiver",
}


__getattr__ = lazy_exports(__name__, globals(), _NEEDS_SDK)
