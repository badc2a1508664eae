"""The Slack platform: renderer and limits load at once; the adapter, which needs the SDK, on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platforms import lazy_exports
from bot.platforms.slack.blocks import render_digest, render_items, render_notice
from bot.platforms.slack.limits import FALLBACK_TEXT_LIMIT, LIMITS, RESPONSE_URL_POSTS, SlackLimits, SlackRateLimit

if TYPE_CHECKING:
    from bot.platforms.slack.answers import COMMAND_PREFIX, message_fields
    from bot.platforms.slack.channel import SlackChannel
    from bot.platforms.slack.errors import SlackStartError, translate_error

__all__ = [
    "COMMAND_PREFIX",
    "FALLBACK_TEXT_LIMIT",
    "LIMITS",
    "RESPONSE_URL_POSTS",
    "SlackChannel",
    "SlackLimits",
    "SlackRateLimit",
    "SlackStartError",
    "message_fields",
    "render_digest",
    "render_items",
    "render_notice",
    "translate_error",
]

_NEEDS_SDK = {
    "COMMAND_PREFIX": "bot.platforms.slack.answers",
    "message_fields": "bot.platforms.slack.answers",
    "SlackChannel": "bot.platforms.slack.channel",
    "SlackStartError": "bot.platforms.slack.errors",
    "translate_error": "bot.platforms.slack.errors",
}


__getattr__ = lazy_exports(__name__, globals(), _NEEDS_SDK)
