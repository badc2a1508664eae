"""WeCom's config section (optional: the pace), and what a WeCom channel entry needs: its robot's webhook."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.checking import ChannelOption, ChatRule, Checker, PlatformSettings, Section

_WEBHOOK = re.compile(r"https?://[^/\s?#]+/cgi-bin/webhook/send\?(?:\S*&)?key=[^&\s]+\S*")
# markdown for WeCom members; text for those reading on personal WeChat, who see markdown only in WeCom.
FORMATS = ("markdown", "text")


@dataclass(frozen=True, slots=True, repr=False)
class WeComSettings(PlatformSettings):
    # Multiplies the per-robot pace the bot keeps (20 messages a minute).
    rate_limit_scale: float = 1.0

    @property
    def configured(self) -> bool:
        """Each channel brings its own robot's webhook: nothing is needed here."""
        return True

    def wanted(self, channels: int) -> bool:
        return channels > 0

    def summary(self) -> str:
        return "webhooks"


def check_wecom(check: Checker, raw: object) -> WeComSettings:
    section = check.section(raw, "wecom", SECTION.keys)
    return WeComSettings(rate_limit_scale=check.scale(section, "rate_limit_scale", "wecom"))


SECTION = Section("wecom", WeComSettings, check_wecom, chat=ChatRule(
    key="webhook", example="${WECOM_WEBHOOK_URL}", pattern=_WEBHOOK, secret=True,
    mismatch="is not a group robot webhook (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…)",
    options=(ChannelOption("format", choices=FORMATS),)))
