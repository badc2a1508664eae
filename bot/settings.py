"""The typed settings a config file becomes: each component's own section, assembled; secrets kept out of repr()."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.delivery_settings import DeliverySettings
from bot.digest.categories import CategoryRule
from bot.digest.sources import DigestSettings
from bot.platforms import registry
from bot.schedule import DEFAULT_SCHEDULE
from bot.secrets import MaskedRepr, shown_chat
from bot.web_settings import ServerSettings

__all__ = ["CategoryRule", "ChannelSettings", "DeliverySettings", "DigestSettings", "ServerSettings", "Settings"]


@dataclass(frozen=True, slots=True, repr=False)
class ChannelSettings:
    name: str
    platform: str                     # a name in bot.platforms.registry
    chat: str = ""                    # where its posts go, as the platform's channel key names it
    schedule: str = DEFAULT_SCHEDULE  # "HH:MM" daily or a 5-field cron expression
    timezone: str | None = None       # None: the config's time zone
    categories: tuple[str, ...] = ()  # only these categories' items; empty: the whole digest
    silent: bool = False              # posts without a notification sound
    topic: str | None = None          # a Telegram forum topic's message_thread_id; None: the chat itself
    thread: bool = False              # Slack: the first part in the channel, the rest as replies in its thread
    # The platform's own channel keys (bot.checking.ChannelOption), as (key, value) pairs.
    options: tuple[tuple[str, str], ...] = field(default=(), repr=False)     # may hold a robot's secret

    def option(self, key: str, default: str = "") -> str:
        return dict(self.options).get(key, default)

    def __repr__(self) -> str:
        # A webhook platform's chat is its webhook URL, a credential: repr shows its host only.
        return (f"ChannelSettings(name={self.name!r}, platform={self.platform!r}, chat={shown_chat(self.chat)!r}, "
                f"schedule={self.schedule!r}, timezone={self.timezone!r})")


@dataclass(frozen=True, slots=True, repr=False, init=False)
class Settings(MaskedRepr):
    """The whole config. Each platform's section is in `platforms` by its key and also reads as an
    attribute (`settings.telegram`); one left out has its defaults."""

    version: int
    timezone: str
    language: str                     # zh | en
    digests: DigestSettings
    categories: tuple[CategoryRule, ...]
    store: str
    # Every key the store writes (Redis) starts with this, so several bots can share one server.
    store_prefix: str
    server: ServerSettings
    delivery: DeliverySettings
    channels: tuple[ChannelSettings, ...]
    # The folder relative paths resolve against (the config file's folder).
    base_dir: Path
    platforms: Mapping[str, Any]

    def __init__(self, *, version: int = 1, timezone: str = "Asia/Shanghai", language: str = "zh",
                 digests: DigestSettings | None = None, categories: tuple[CategoryRule, ...] = (),
                 store: str = "sqlite:///./digestbot.db", store_prefix: str = "digestbot:",
                 server: ServerSettings | None = None, delivery: DeliverySettings | None = None,
                 channels: tuple[ChannelSettings, ...] = (), base_dir: Path | None = None,
                 platforms: Mapping[str, Any] | None = None, **sections: Any) -> None:
        defaults = registry.default_sections()
        unknown = sorted(set(sections) - set(defaults))
        if unknown:
            raise TypeError(f"Settings() got an unexpected keyword argument {unknown[0]!r}")
        values: dict[str, Any] = {
            "version": version, "timezone": timezone, "language": language, "digests": digests or DigestSettings(),
            "categories": categories, "store": store, "store_prefix": store_prefix,
            "server": server or ServerSettings(), "delivery": delivery or DeliverySettings(), "channels": channels,
            "base_dir": Path.cwd() if base_dir is None else base_dir,
            "platforms": {**defaults, **(platforms or {}), **sections},
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not fields: a platform's section by its key.
        try:
            return object.__getattribute__(self, "platforms")[name]
        except (KeyError, AttributeError):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}") from None
