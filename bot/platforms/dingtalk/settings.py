"""DingTalk's config section (optional: the pace), and what a DingTalk channel entry needs: webhook and secret."""

from __future__ import annotations

import re

from bot.checking import ChannelOption, ChatRule, Section
from bot.platforms.webhook_settings import RobotSettings, check_robots

_WEBHOOK = re.compile(r"https?://[^/\s?#]+/robot/send\?(?:\S*&)?access_token=[^&\s]+\S*")

SECTION = Section("dingtalk", RobotSettings, check_robots("dingtalk"), chat=ChatRule(
    key="webhook", example="${DINGTALK_WEBHOOK_URL}", pattern=_WEBHOOK, secret=True,
    mismatch="is not a custom robot webhook (https://oapi.dingtalk.com/robot/send?access_token=…)",
    options=(ChannelOption("secret", secret=True),)))
