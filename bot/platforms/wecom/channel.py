"""The WeCom channel the app runs: the sender, told each configured robot's webhook and format."""

from __future__ import annotations

from bot.platforms.webhook_sender import channel_factory
from bot.platforms.wecom.sender import WeComSender

open_channel = channel_factory(WeComSender)
