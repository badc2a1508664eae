"""The `discord:` section of the config: the application that takes slash commands, and where the API is."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_BASE_URL = "https://discord.com/api/v10"


@dataclass(frozen=True)
class DiscordSettings:
    """Webhook channels need none of this; slash commands need the application id and public key
    (to verify what arrives at /discord/interactions) and the bot token (to register them)."""

    application_id: str = ""
    public_key: str = ""
    token: str = field(default="", repr=False)
    base_url: str = DEFAULT_BASE_URL
    rate_limit_scale: float = 1.0     # tests and benches against a sped-up fake

    @property
    def commands_configured(self) -> bool:
        """Whether interactions can be verified and answered."""
        return bool(self.application_id and self.public_key)
