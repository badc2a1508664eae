"""Moved to bot.platforms.slack.blocks; this path re-exports it until its last importers move."""
from bot.platforms.slack.blocks import *  # noqa: F403

__all__ = ["LIMITS", "SlackLimits", "render_digest", "render_items", "render_notice"]  # noqa: F405
