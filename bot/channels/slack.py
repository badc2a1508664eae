"""Moved to bot.platforms.slack; this path re-exports it until its last importers move."""
from bot.platforms.slack import *  # noqa: F403

__all__ = ["FALLBACK_TEXT_LIMIT", "SlackChannel", "SlackRateLimit", "SlackStartError"]  # noqa: F405
