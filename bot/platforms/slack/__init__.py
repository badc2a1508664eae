"""The Slack platform: renderer and limits load at once; the adapter, which needs the SDK, on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

# slack-sdk, aiohttp's client and the command layer take most of a second to import: rendering
# (digestbot render, or a send with Slack not configured) must not pay for them.
_NEEDS_SDK = {
    "COMMAND_PREFIX": "bot.platforms.slack.answers",
    "message_fields": "bot.platforms.slack.answers",
    "SlackChannel": "bot.platforms.slack.channel",
    "SlackStartError": "bot.platforms.slack.errors",
    "translate_error": "bot.platforms.slack.errors",
}


def __getattr__(name: str) -> Any:
    module = _NEEDS_SDK.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
