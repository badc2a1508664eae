"""Telegram's config section: its settings, how they are checked, and what a Telegram channel entry needs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.checking import ChatRule, Checker, PlatformSettings, Section, http_url

_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_WEBHOOK_SECRET_RULE = "1-256 characters of A-Z, a-z, 0-9, _ and -"


@dataclass(frozen=True, slots=True, repr=False)
class TelegramSettings(PlatformSettings):
    token: str = field(default="", repr=False)
    base_url: str = "https://api.telegram.org/bot"
    updates: str = "polling"          # polling | webhook | off
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    # Multiplies Telegram's flood limits the bot keeps (a local Bot API server, paid broadcasts).
    rate_limit_scale: float = 1.0
    # Send with allow_paid_broadcast: up to 1,000 messages a second overall, paid in Stars.
    paid_broadcast: bool = False

    def summary(self) -> str:
        return f"configured ({self.updates})" if self.configured else "skipped (no token)"


def _webhook_url_ok(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    # Plain http only to a Bot API server on this host.
    return bool(host) and http_url(url) and (parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK))


def check_telegram(check: Checker, raw: object) -> TelegramSettings:
    """The `telegram:` section, every problem added to `check`."""
    section = check.section(raw, "telegram", SECTION.keys)
    defaults = TelegramSettings()
    token = check.credential(section, "token", "telegram")
    base_url = check.text(section, "base_url", "telegram", defaults.base_url).strip()
    if not http_url(base_url):
        check.add("telegram.base_url", "expected an http(s) URL like https://api.telegram.org/bot")
    updates = check.choice(section, "updates", "telegram", defaults.updates, ("polling", "webhook", "off"))
    webhook_url = check.text(section, "webhook_url", "telegram", "").strip()
    if webhook_url and not _webhook_url_ok(webhook_url):
        check.add("telegram.webhook_url",
                  "must be an https:// URL (plain http only for http://127.0.0.1, a local Bot API server)")
    webhook_secret = check.text(section, "webhook_secret", "telegram", "")
    if webhook_secret and not _WEBHOOK_SECRET.fullmatch(webhook_secret):
        check.add("telegram.webhook_secret", f"must be {_WEBHOOK_SECRET_RULE}")
    # Webhook requirements only bind a configured platform: without a token Telegram is skipped.
    if token and updates == "webhook":
        if not webhook_url:
            check.add("telegram.webhook_url", "required when telegram.updates is webhook")
        if not webhook_secret:
            check.add("telegram.webhook_secret", f"required when telegram.updates is webhook ({_WEBHOOK_SECRET_RULE})")
    return TelegramSettings(token=token, base_url=base_url, updates=updates, webhook_url=webhook_url,
                            webhook_secret=webhook_secret,
                            rate_limit_scale=check.scale(section, "rate_limit_scale", "telegram"),
                            paid_broadcast=check.boolean(section, "paid_broadcast", "telegram", False))


SECTION = Section(
    "telegram", TelegramSettings, check_telegram, required="token", variable="TELEGRAM_BOT_TOKEN",
    chat=ChatRule(example="-1001234567890 or @channelname", pattern=re.compile(r"-?\d+|@[A-Za-z][A-Za-z0-9_]{3,}"),
                  mismatch="is neither a numeric chat id nor an @username"),
)
