"""The Slack platform: Block Kit rendering, posting with chat.postMessage, and commands and mentions."""

from bot.platforms.slack.answers import COMMAND_PREFIX, message_fields
from bot.platforms.slack.blocks import LIMITS, SlackLimits, render_digest, render_items, render_notice
from bot.platforms.slack.channel import SlackChannel
from bot.platforms.slack.errors import SlackStartError, translate_error
from bot.platforms.slack.limits import FALLBACK_TEXT_LIMIT, RESPONSE_URL_POSTS, SlackRateLimit

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
