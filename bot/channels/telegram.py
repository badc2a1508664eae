"""Moved to bot.platforms.telegram; this path re-exports it until its last importers move."""
from bot.platforms.telegram import *  # noqa: F403

__all__ = ["WEBHOOK_PATH", "TelegramChannel", "TelegramRateLimits", "TelegramStartError"]  # noqa: F405
