"""The Telegram platform: the HTML renderer and Telegram's limits."""

from bot.platforms.telegram.html import render_digest, render_items, render_notice, telegram_link_url
from bot.platforms.telegram.limits import LIMITS, TelegramLimits

__all__ = ["LIMITS", "TelegramLimits", "render_digest", "render_items", "render_notice", "telegram_link_url"]
