"""The DingTalk channel the app runs: the sender, told each configured robot's webhook and secret."""

from __future__ import annotations

from bot.platforms.dingtalk.sender import DingTalkSender
from bot.platforms.webhook_sender import channel_factory

open_channel = channel_factory(DingTalkSender)
