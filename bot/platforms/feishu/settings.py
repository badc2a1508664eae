"""Feishu's config section: the app bot that takes commands (optional), and what a Feishu channel entry needs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.checking import ChannelOption, ChatRule, Checker, PlatformSettings, Section, http_url

DEFAULT_BASE_URL = "https://open.feishu.cn"
LARK_BASE_URL = "https://open.larksuite.com"
_WEBHOOK = re.compile(r"https?://[^/\s?#]+/open-apis/bot/v2/hook/[A-Za-z0-9_-]+/?")


@dataclass(frozen=True, slots=True, repr=False)
class FeishuSettings(PlatformSettings):
    """The `feishu:` section: an app bot subscribed to im.message.receive_v1 answers commands."""

    app_id: str = ""
    app_secret: str = field(default="", repr=False)
    verification_token: str = field(default="", repr=False)
    encrypt_key: str = field(default="", repr=False)       # set: events arrive encrypted
    base_url: str = DEFAULT_BASE_URL
    # Multiplies the per-robot pace the bot keeps (5 a second, 100 a minute).
    rate_limit_scale: float = 1.0

    @property
    def configured(self) -> bool:
        """Posting needs nothing here: each channel brings its own robot's webhook."""
        return True

    @property
    def takes_commands(self) -> bool:
        """Commands need all three: who the app is, its secret for replies, and the token events carry."""
        return bool(self.app_id and self.app_secret and self.verification_token)

    def wanted(self, channels: int) -> bool:
        return channels > 0 or self.takes_commands

    def summary(self) -> str:
        return "webhooks; commands " + ("on (POST /feishu/events)" if self.takes_commands else "off (no app bot)")


def check_feishu(check: Checker, raw: object) -> FeishuSettings:
    """The `feishu:` section, every problem added to `check`."""
    section = check.section(raw, "feishu", SECTION.keys)
    defaults = FeishuSettings()
    app_id = check.text(section, "app_id", "feishu", "").strip()
    app_secret = check.credential(section, "app_secret", "feishu")
    verification_token = check.credential(section, "verification_token", "feishu")
    encrypt_key = check.credential(section, "encrypt_key", "feishu")
    base_url = check.text(section, "base_url", "feishu", defaults.base_url).strip().rstrip("/")
    if not http_url(base_url):
        check.add("feishu.base_url", f"expected an http(s) URL like {DEFAULT_BASE_URL} (Lark: {LARK_BASE_URL})")
    given = {"app_id": app_id, "app_secret": app_secret, "verification_token": verification_token}
    if any(given.values()):
        for key, value in given.items():
            if not value and f"feishu.{key}" not in check.failed:
                check.add(f"feishu.{key}", "required for commands when any of app_id, app_secret and "
                                           "verification_token is set")
    return FeishuSettings(app_id=app_id, app_secret=app_secret, verification_token=verification_token,
                          encrypt_key=encrypt_key, base_url=base_url,
                          rate_limit_scale=check.scale(section, "rate_limit_scale", "feishu"))


SECTION = Section("feishu", FeishuSettings, check_feishu, chat=ChatRule(
    key="webhook", example="${FEISHU_WEBHOOK_URL}", pattern=_WEBHOOK, secret=True,
    mismatch="is not a custom bot webhook (https://open.feishu.cn/open-apis/bot/v2/hook/…)",
    options=(ChannelOption("secret", secret=True),)))
