"""DingTalk's config section (optional: the pace), and what a DingTalk channel entry needs: webhook and secret."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.checking import ChannelOption, ChatRule, Checker, PlatformSettings, Section

_WEBHOOK = re.compile(r"https?://[^/\s?#]+/robot/send\?(?:\S*&)?access_token=[^&\s]+\S*")


@dataclass(frozen=True, slots=True, repr=False)
class DingTalkSettings(PlatformSettings):
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


def check_dingtalk(check: Checker, raw: object) -> DingTalkSettings:
    section = check.section(raw, "dingtalk", SECTION.keys)
    return DingTalkSettings(rate_limit_scale=check.scale(section, "rate_limit_scale", "dingtalk"))


SECTION = Section("dingtalk", DingTalkSettings, check_dingtalk, chat=ChatRule(
    key="webhook", example="${DINGTALK_WEBHOOK_URL}", pattern=_WEBHOOK, secret=True,
    mismatch="is not a custom robot webhook (https://oapi.dingtalk.com/robot/send?access_token=…)",
    options=(ChannelOption("secret", secret=True),)))
