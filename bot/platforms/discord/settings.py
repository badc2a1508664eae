"""Discord's config section: the application that takes slash commands, and what a Discord channel entry needs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.checking import ChatRule, Checker, PlatformSettings, Section, http_url

DEFAULT_BASE_URL = "https://discord.com/api/v10"
_SNOWFLAKE = re.compile(r"\d{15,25}")
_PUBLIC_KEY = re.compile(r"[0-9a-fA-F]{64}")
# …/api/webhooks/ID/TOKEN (an API version may stand before /webhooks), as Discord's "Copy Webhook URL" gives it.
WEBHOOK_URL = re.compile(r"https?://[^\s/]+(?:/[^\s/]+)*/webhooks/\d{1,25}/[A-Za-z0-9_.-]{1,200}/?(?:\?\S*)?")


@dataclass(frozen=True, slots=True, repr=False)
class DiscordSettings(PlatformSettings):
    """Webhook channels need none of this; slash commands need the application id and public key
    (to verify what arrives at /discord/interactions) and the bot token (to register them)."""

    application_id: str = ""
    public_key: str = ""
    token: str = field(default="", repr=False)
    base_url: str = DEFAULT_BASE_URL
    # Multiplies the per-webhook posting windows the bot keeps.
    rate_limit_scale: float = 1.0

    @property
    def configured(self) -> bool:
        # A channel posts through its own webhook URL: Discord channels never wait for a token.
        return True

    @property
    def commands_configured(self) -> bool:
        """Whether interactions can be verified and answered."""
        return bool(self.application_id and self.public_key)

    def summary(self) -> str:
        if not self.commands_configured:
            return "webhooks only (no application_id and public_key: no slash commands)"
        registered = "registered at start" if self.token else "kept as registered before: no token"
        return f"webhooks and slash commands ({registered})"


def check_discord(check: Checker, raw: object) -> DiscordSettings:
    """The `discord:` section, every problem added to `check`."""
    section = check.section(raw, "discord", SECTION.keys)
    defaults = DiscordSettings()
    application_id = check.text(section, "application_id", "discord", "").strip()
    if application_id and not _SNOWFLAKE.fullmatch(application_id):
        check.add("discord.application_id", "expected the application's numeric id (General Information → "
                                            "Application ID)")
        application_id = ""
    public_key = check.text(section, "public_key", "discord", "").strip()
    if public_key and not _PUBLIC_KEY.fullmatch(public_key):
        check.add("discord.public_key", "expected the application's public key: 64 hex digits")
        public_key = ""
    token = check.credential(section, "token", "discord")
    base_url = check.text(section, "base_url", "discord", defaults.base_url).strip().rstrip("/")
    if not http_url(base_url):
        check.add("discord.base_url", f"expected an http(s) URL like {DEFAULT_BASE_URL}")
    given = {key: bool(str(section.get(key) or "").strip()) for key in ("application_id", "public_key", "token")}
    if any(given.values()) and not (given["application_id"] and given["public_key"]):
        missing = "public_key" if given["application_id"] else "application_id"
        check.add(f"discord.{missing}", "slash commands need both discord.application_id and discord.public_key "
                                        "(leave all three out for webhooks only)")
    return DiscordSettings(application_id=application_id, public_key=public_key, token=token, base_url=base_url,
                           rate_limit_scale=check.scale(section, "rate_limit_scale", "discord"))


SECTION = Section(
    "discord", DiscordSettings, check_discord,
    chat=ChatRule(key="webhook", example="https://discord.com/api/webhooks/ID/TOKEN", pattern=WEBHOOK_URL,
                  mismatch="is not a Discord webhook URL (https://discord.com/api/webhooks/ID/TOKEN)", secret=True),
)
