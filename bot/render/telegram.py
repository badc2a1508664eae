"""Moved to bot.platforms.telegram.html; this path re-exports it until its last importers move."""
from bot.platforms.telegram.html import *  # noqa: F403

__all__ = ["LIMITS", "TelegramLimits", "render_digest", "render_items", "render_notice", "telegram_link_url"]  # noqa: F405
