"""The WeCom channel the app runs: the sender, told each configured robot's webhook and format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platforms.wecom.sender import WeComSender
from bot.platforms.wecom.settings import WeComSettings

if TYPE_CHECKING:
    from bot.platforms.registry import Surroundings


def open_channel(settings: WeComSettings | None, around: Surroundings) -> WeComSender:
    """The registry's factory: every robot of the config known before the first post, paced as configured."""
    sender = WeComSender(WeComSender.default_pace.scaled(settings.rate_limit_scale if settings else 1.0))
    sender.add_webhooks((entry.chat, entry.options) for entry in around.channels)
    return sender
