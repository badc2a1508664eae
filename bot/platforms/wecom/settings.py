"""WeCom's config section (optional: the pace), and what a WeCom channel entry needs: its robot's webhook."""

from __future__ import annotations

import re

from bot.checking import ChannelOption, ChatRule, Section
from bot.platforms.webhook_settings import RobotSettings, check_robots

_WEBHOOK = re.compile(r"https?://[^/\s?#]+/cgi-bin/webhook/send\?(?:\S*&)?key=[^&\s]+\S*")
# markdown for WeCom members; text for those reading on personal WeChat, who see markdown only in WeCom.
FORMATS = ("markdown", "text")

SECTION = Section("wecom", RobotSettings, check_robots("wecom"), chat=ChatRule(
    key="webhook", example="${WECOM_WEBHOOK_URL}", pattern=_WEBHOOK, secret=True,
    mismatch="is not a group robot webhook (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…)",
    options=(ChannelOption("format", choices=FORMATS),)))
