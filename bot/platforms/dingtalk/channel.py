"""The DingTalk channel the app runs: the sender, told each configured robot's webhook and secret."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platforms.dingtalk.sender import DingTalkSender
from bot.platforms.dingtalk.settings import DingTalkSettings

if TYPE_CHECKING:
    from bot.platforms.registry import Surroundings


def open_channel(settings: DingTalkSettings | None, around: Surroundings) -> DingTalkSender:
    """The registry's factory: every robot of the config known before the first post, paced as configured."""
    sender = DingTalkSender(DingTalkSender.default_pace.scaled(settings.rate_limit_scale if settings else 1.0))
    sender.add_webhooks((entry.chat, entry.options) for entry in around.channels)
    return sender
