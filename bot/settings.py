"""The typed settings a config file becomes: one frozen dataclass per section, secrets kept out of repr()."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bot.secrets import REDACTED, SECRET_FIELDS, mask_url


def _masked_repr(obj: Any) -> str:
    shown = []
    for item in fields(obj):
        value = getattr(obj, item.name)
        if item.name in SECRET_FIELDS:
            text = repr(REDACTED if value else "")
        elif item.name in ("store", "source"):
            text = repr(mask_url(value))
        else:
            text = repr(value)
        shown.append(f"{item.name}={text}")
    return f"{type(obj).__name__}({', '.join(shown)})"

@dataclass(frozen=True, slots=True)
class CategoryRule:
    name: str
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DigestSettings:
    # A folder (resolved against the config file's folder) or an http(s) URL template.
    source: str = "./examples"
    # While the day's digest is not published yet at a scheduled time: poll every interval, give up at deadline.
    poll_interval: float = 300.0
    poll_deadline: float = 6 * 3600.0
    # A delivery missed while the bot was down is still made at start-up within this window.
    catch_up: float = 6 * 3600.0
    fetch_timeout: float = 20.0

    def __repr__(self) -> str:
        return _masked_repr(self)


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    token: str = field(default="", repr=False)
    base_url: str = "https://api.telegram.org/bot"
    updates: str = "polling"          # polling | webhook | off
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    # Multiplies Telegram's flood limits the bot keeps (a local Bot API server, paid broadcasts).
    rate_limit_scale: float = 1.0

    @property
    def configured(self) -> bool:
        return bool(self.token)

    def __repr__(self) -> str:
        return _masked_repr(self)


@dataclass(frozen=True, slots=True)
class SlackSettings:
    token: str = field(default="", repr=False)
    signing_secret: str = field(default="", repr=False)
    app_token: str = field(default="", repr=False)
    base_url: str = "https://slack.com/api/"
    # Users (ids) besides workspace admins who may /digest subscribe and unsubscribe.
    admins: tuple[str, ...] = ()
    # Post today/item/category replies for the whole channel without the `public` word.
    public_replies: bool = False
    # Multiplies the per-channel posting pace the bot keeps (about one message a second).
    rate_limit_scale: float = 1.0

    @property
    def configured(self) -> bool:
        return bool(self.token)

    def __repr__(self) -> str:
        return _masked_repr(self)


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "0.0.0.0"
    port: int = 8080
    max_body_bytes: int = 1024 * 1024
    # None: the server's own default (bot.web.ServerLimits), so the numbers live in one place.
    header_timeout: float | None = None
    body_timeout: float | None = None
    keepalive_timeout: float | None = None
    max_connections: int | None = None


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    lease_ttl: float = 60.0
    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    name: str
    platform: str                     # console | telegram | slack
    chat: str = ""
    schedule: str = "09:30"           # "HH:MM" daily or a 5-field cron expression
    timezone: str | None = None       # None: the config's time zone


@dataclass(frozen=True, slots=True)
class Settings:
    version: int = 1
    timezone: str = "Asia/Shanghai"
    language: str = "zh"              # zh | en
    digests: DigestSettings = field(default_factory=DigestSettings)
    categories: tuple[CategoryRule, ...] = ()
    store: str = "sqlite:///./digestbot.db"
    # Every key the store writes (Redis) starts with this, so several bots can share one server.
    store_prefix: str = "digestbot:"
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    slack: SlackSettings = field(default_factory=SlackSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    channels: tuple[ChannelSettings, ...] = ()
    # The folder relative paths resolve against (the config file's folder).
    base_dir: Path = field(default_factory=Path.cwd)

    def __repr__(self) -> str:
        return _masked_repr(self)
