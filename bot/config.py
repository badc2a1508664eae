"""YAML + ${ENV} → validated, typed settings; every mistake reported at once with its key path."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.bounded import BoundsError, read_file, shown
from bot.config_checks import Checker, http_url, kind, normalize_schedule, parse_duration
from bot.config_yaml import join, line_of, read_yaml
from bot.digest.categories import naming_problems, rules_from_mapping
from bot.digest.sources import folder_path, is_url, url_template_problem
from bot.errors import ConfigError
from bot.platforms import registry
from bot.secrets import SECRET_FIELDS, mask_path, mask_url, raw_secrets, url_password
from bot.settings import (
    CategoryRule,
    ChannelSettings,
    DeliverySettings,
    DigestSettings,
    ServerSettings,
    Settings,
    SlackSettings,
    TelegramSettings,
)
from bot.store import check_store_url
from bot.store import sqlite_path as store_sqlite_path

__all__ = [
    "SECRET_FIELDS",
    "CategoryRule",
    "ChannelSettings",
    "DeliverySettings",
    "DigestSettings",
    "ServerSettings",
    "Settings",
    "SlackSettings",
    "TelegramSettings",
    "load_config",
    "normalize_schedule",
    "parse_duration",
    "secrets_of",
    "sqlite_path",
    "summarize",
]

_TOP_KEYS = ("version", "timezone", "language", "digests", "categories", "store", "store_prefix", "telegram",
             "slack", "server", "channels", "delivery")
_DIGEST_KEYS = ("source", "poll_interval", "poll_deadline", "catch_up", "fetch_timeout")
_CATEGORY_KEYS = ("aliases", "keywords")
_TELEGRAM_KEYS = ("token", "base_url", "updates", "webhook_url", "webhook_secret", "rate_limit_scale")
_SLACK_KEYS = ("token", "signing_secret", "app_token", "base_url", "admins", "public_replies", "rate_limit_scale")
# More connections than this would want more open files than a small host allows any process.
_MAX_CONNECTIONS = 65_536
_SERVER_KEYS = ("listen", "max_body_bytes", "header_timeout", "body_timeout", "keepalive_timeout",
                "max_connections")
_DELIVERY_KEYS = ("lease_ttl", "max_attempts", "backoff_base", "backoff_max")
_CHANNEL_KEYS = ("name", "platform", "chat", "schedule", "timezone")
# Key names the bot itself defines: never masked in a key path (see bot.secrets.mask_path).
_OWN_WORDS = frozenset({*_TOP_KEYS, *_DIGEST_KEYS, *_CATEGORY_KEYS, *_TELEGRAM_KEYS, *_SLACK_KEYS,
                        *_SERVER_KEYS, *_DELIVERY_KEYS, *_CHANNEL_KEYS})

_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_TELEGRAM_CHAT = re.compile(r"-?\d+|@[A-Za-z][A-Za-z0-9_]{3,}")
_CHANNEL_NAME = re.compile(r"[^\s/:]{1,100}")
_ONE_WORD = re.compile(r"[^\s\x00-\x1f\x7f]+")
_DEFAULT_SCHEDULE = "09:30"
# A request body limit beyond a gigabyte only invites memory trouble.
_MAX_BODY_BYTES = 1 << 30
_MAX_ATTEMPTS = 100
# A config is a few kilobytes and thousands of channels fit in this; the YAML parser reads about
# 100 KB a second, so the bound is also what keeps a hostile file to a few seconds.
MAX_CONFIG_BYTES = 256 * 1024


def _credential(check: Checker, section: Mapping[Any, Any], key: str, path: str) -> str:
    """A token or secret: one word. Never quoted in a message, whatever is wrong with it."""
    value = check.text(section, key, path, "").strip()
    if value and not _ONE_WORD.fullmatch(value):
        check.add(join(path, key), "must be one word, without spaces or control characters")
        return ""
    return value


def _digests(check: Checker, raw: object) -> DigestSettings:
    section = check.section(raw, "digests", _DIGEST_KEYS)
    defaults = DigestSettings()
    source = check.text(section, "source", "digests", defaults.source).strip()
    if is_url(source):
        # The same check the service makes before it fetches anything.
        problem = url_template_problem(source)
        if problem is not None:
            check.add("digests.source", problem)
    elif "://" in source:
        check.add("digests.source", "a URL template must be http:// or https:// with a host")
    elif source:
        # Existence is not checked: a config is often validated away from where it runs (CI, an
        # image build) and the folder may be a volume mounted at start-up.
        try:
            source = str(folder_path(source, check.base_dir))
        except ValueError as exc:
            check.add("digests.source", str(exc))
    else:
        check.add("digests.source", "must name a folder or an http(s) URL template")
    return DigestSettings(
        source=source,
        poll_interval=check.duration(section, "poll_interval", "digests", defaults.poll_interval),
        poll_deadline=check.duration(section, "poll_deadline", "digests", defaults.poll_deadline),
        catch_up=check.duration(section, "catch_up", "digests", defaults.catch_up, allow_zero=True),
        fetch_timeout=check.duration(section, "fetch_timeout", "digests", defaults.fetch_timeout),
    )


def _categories(check: Checker, raw: object) -> tuple[CategoryRule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        check.add("categories", f"expected a mapping of Name: {{aliases: [...], keywords: [...]}}, got {kind(raw)}")
        return ()
    before = len(check.problems)
    cleaned: dict[str, dict[str, list[str]]] = {}
    words: list[tuple[str, str, str]] = []     # (key path, name or alias, its category)
    for name, body in raw.items():
        path = join("categories", name)
        if not isinstance(name, str) or not name.strip():
            check.add(path, "a category name must be a non-empty string")
            continue
        section = check.section(body, path, _CATEGORY_KEYS)
        aliases = check.string_list(section.get("aliases"), join(path, "aliases"))
        keywords = check.string_list(section.get("keywords"), join(path, "keywords"))
        words += [(path, name, name), *((f"{path}.aliases[{index}]", alias, name)
                                        for index, alias in enumerate(aliases))]
        cleaned[name] = {"aliases": list(aliases), "keywords": list(keywords)}
    # Names clash exactly when the lookup behind /category could not tell them apart.
    for where, why in naming_problems(words, check.show):
        check.add(where, why)
    if len(check.problems) > before:
        return ()
    try:
        return rules_from_mapping(cleaned)
    except ValueError as exc:
        check.add("categories", str(exc))
        return ()


def _store(check: Checker, raw: Mapping[Any, Any]) -> str:
    url = check.text(raw, "store", "", Settings().store).strip()
    try:
        # The same check open_store makes when the service starts.
        check_store_url(url, check.base_dir)
    except ValueError as exc:
        check.add("store", str(exc))
    return url


def _store_prefix(check: Checker, raw: Mapping[Any, Any]) -> str:
    prefix = check.text(raw, "store_prefix", "", Settings().store_prefix)
    if not re.fullmatch(r"[A-Za-z0-9_.:{}-]{1,64}", prefix):
        check.add("store_prefix", "expected 1-64 characters of letters, digits and _ . : - { }")
        return Settings().store_prefix
    return prefix


def _telegram(check: Checker, raw: object) -> TelegramSettings:
    section = check.section(raw, "telegram", _TELEGRAM_KEYS)
    defaults = TelegramSettings()
    token = _credential(check, section, "token", "telegram")
    base_url = check.text(section, "base_url", "telegram", defaults.base_url).strip()
    if not http_url(base_url):
        check.add("telegram.base_url", "expected an http(s) URL like https://api.telegram.org/bot")
    updates = check.choice(section, "updates", "telegram", defaults.updates, ("polling", "webhook", "off"))
    webhook_url = check.text(section, "webhook_url", "telegram", "").strip()
    if webhook_url:
        try:
            parts = urlsplit(webhook_url)
            host = parts.hostname
        except ValueError:
            parts, host = None, None
        if parts is None or not host or not http_url(webhook_url) or not (
                parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK)):
            check.add("telegram.webhook_url",
                      "must be an https:// URL (plain http only for http://127.0.0.1, a local Bot API server)")
    webhook_secret = check.text(section, "webhook_secret", "telegram", "")
    if webhook_secret and not _WEBHOOK_SECRET.fullmatch(webhook_secret):
        check.add("telegram.webhook_secret", "must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    # Webhook requirements only bind a configured platform: without a token Telegram is skipped.
    if token and updates == "webhook":
        if not webhook_url:
            check.add("telegram.webhook_url", "required when telegram.updates is webhook")
        if not webhook_secret:
            check.add("telegram.webhook_secret",
                      "required when telegram.updates is webhook (1-256 characters of A-Z, a-z, 0-9, _ and -)")
    return TelegramSettings(token=token, base_url=base_url, updates=updates, webhook_url=webhook_url,
                            webhook_secret=webhook_secret,
                            rate_limit_scale=check.scale(section, "rate_limit_scale", "telegram"))


def _slack(check: Checker, raw: object) -> SlackSettings:
    section = check.section(raw, "slack", _SLACK_KEYS)
    defaults = SlackSettings()
    token = _credential(check, section, "token", "slack")
    signing_secret = _credential(check, section, "signing_secret", "slack")
    app_token = _credential(check, section, "app_token", "slack")
    base_url = check.text(section, "base_url", "slack", defaults.base_url).strip()
    if not http_url(base_url):
        check.add("slack.base_url", "expected an http(s) URL like https://slack.com/api/")
    if token and not signing_secret and not app_token and "slack.signing_secret" not in check.failed:
        check.add("slack.signing_secret",
                  "required when slack.token is set (or set slack.app_token to use Socket Mode instead)")
    return SlackSettings(
        token=token, signing_secret=signing_secret, app_token=app_token, base_url=base_url,
        admins=check.string_list(section.get("admins"), "slack.admins"),
        public_replies=check.boolean(section, "public_replies", "slack", defaults.public_replies),
        rate_limit_scale=check.scale(section, "rate_limit_scale", "slack"),
    )


def _server(check: Checker, raw: object) -> ServerSettings:
    section = check.section(raw, "server", _SERVER_KEYS)
    defaults = ServerSettings()
    host, port = defaults.host, defaults.port
    listen = section.get("listen")
    if listen is not None:
        match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\s\[\]\x00-\x1f\x7f]+):(\d{1,5})", listen.strip()) \
            if isinstance(listen, str) else None
        if match is None or int(match.group(2)) > 65535:
            check.add("server.listen", f'expected "host:port" like "0.0.0.0:8080", got {check.show(listen)}')
        else:
            host, port = match.group(1).strip("[]"), int(match.group(2))
    max_body = check.integer(section, "max_body_bytes", "server", defaults.max_body_bytes, 1024, _MAX_BODY_BYTES)

    def optional_duration(key: str) -> float | None:
        return check.duration(section, key, "server", 0.0) or None if key in section else None

    max_connections = (check.integer(section, "max_connections", "server", 0, 1, _MAX_CONNECTIONS) or None
                       if "max_connections" in section else None)
    return ServerSettings(host=host, port=port, max_body_bytes=max_body,
                          header_timeout=optional_duration("header_timeout"),
                          body_timeout=optional_duration("body_timeout"),
                          keepalive_timeout=optional_duration("keepalive_timeout"),
                          max_connections=max_connections)


def _delivery(check: Checker, raw: object) -> DeliverySettings:
    section = check.section(raw, "delivery", _DELIVERY_KEYS)
    defaults = DeliverySettings()
    settings = DeliverySettings(
        lease_ttl=check.duration(section, "lease_ttl", "delivery", defaults.lease_ttl),
        max_attempts=check.integer(section, "max_attempts", "delivery", defaults.max_attempts, 1, _MAX_ATTEMPTS),
        backoff_base=check.duration(section, "backoff_base", "delivery", defaults.backoff_base),
        backoff_max=check.duration(section, "backoff_max", "delivery", defaults.backoff_max),
    )
    if settings.backoff_max < settings.backoff_base:
        check.add("delivery.backoff_max", "must not be shorter than delivery.backoff_base")
    return settings


def _channel_name(check: Checker, section: Mapping[Any, Any], path: str, first_use: dict[str, str]) -> str:
    name = check.text(section, "name", path, "").strip()
    where = join(path, "name")
    if not name:
        if "name" not in section:
            check.add(where, "required")
        elif isinstance(section["name"], str):
            check.add(where, "must not be empty")
    elif not _CHANNEL_NAME.fullmatch(name) or not name.isprintable():
        check.add(where, f"{check.show(name)} must be at most 100 characters without spaces, '/' or ':'")
    elif name in first_use:
        check.add(where, f"duplicate channel name {check.show(name)} (also {first_use[name]})")
    else:
        first_use[name] = path
    return name


def _channel_chat(check: Checker, section: Mapping[Any, Any], path: str, platform: str) -> str:
    chat_value = section.get("chat")
    where = join(path, "chat")
    chat = ""
    if chat_value is not None:
        if isinstance(chat_value, bool) or not isinstance(chat_value, str | int):
            check.add(where, f"expected a chat id, got {kind(chat_value)}")
            return ""
        chat = str(chat_value).strip()
    if platform in ("telegram", "slack") and not chat and where not in check.failed:
        example = "-1001234567890 or @channelname" if platform == "telegram" else "C0123456789"
        check.add(where, f"required for a {platform} channel, like {example}")
    elif platform == "telegram" and chat and not _TELEGRAM_CHAT.fullmatch(chat):
        check.add(where, f"{check.show(chat)} is neither a numeric chat id nor an @username")
    elif chat and not _ONE_WORD.fullmatch(chat):
        check.add(where, f"{check.show(chat)} must be one word, without spaces or control characters")
    return chat


def _channel(check: Checker, entry: object, path: str, first_use: dict[str, str]) -> ChannelSettings | None:
    if not isinstance(entry, dict):
        check.add(path, f"expected a mapping like {{name: ..., platform: ..., chat: ...}}, got {kind(entry)}")
        return None
    section = check.section(entry, path, _CHANNEL_KEYS)
    name = _channel_name(check, section, path, first_use)
    if "platform" not in section:
        check.add(join(path, "platform"), f"required: one of {' | '.join(registry.NAMES)}")
        platform = ""
    else:
        platform = check.choice(section, "platform", path, "", registry.NAMES)
    chat = _channel_chat(check, section, path, platform)
    schedule = check.schedule(check.text(section, "schedule", path, _DEFAULT_SCHEDULE), join(path, "schedule"),
                              _DEFAULT_SCHEDULE)
    timezone = None
    if section.get("timezone") is not None:
        timezone = check.zone(section["timezone"], join(path, "timezone"))
    return ChannelSettings(name=name, platform=platform, chat=chat, schedule=schedule, timezone=timezone)


def _channels(check: Checker, raw: object) -> tuple[ChannelSettings, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        check.add("channels", f"expected a list of channels, got {kind(raw)}")
        return ()
    first_use: dict[str, str] = {}
    channels = (_channel(check, entry, f"channels[{index}]", first_use) for index, entry in enumerate(raw))
    return tuple(channel for channel in channels if channel is not None)


def _validate(data: object, base_dir: Path, failed: set[str],
              secrets: Sequence[str]) -> tuple[Settings, list[tuple[str, str]]]:
    check = Checker(base_dir, failed, secrets)
    if data is None:
        check.add("", "the file is empty; start from config.example.yaml")
        return Settings(base_dir=base_dir), check.problems
    if not isinstance(data, dict):
        check.add("", f"expected a mapping of top-level keys ({', '.join(_TOP_KEYS)}), got {kind(data)}")
        return Settings(base_dir=base_dir), check.problems
    root = check.section(data, "", _TOP_KEYS)
    defaults = Settings()
    version = check.integer(root, "version", "", 1, 0)
    if version != 1:
        check.add("version", f"unsupported config version {check.show(version)}; this bot reads version 1")
    timezone = check.text(root, "timezone", "", defaults.timezone)
    if check.zone(timezone, "timezone") is None:
        timezone = defaults.timezone
    settings = Settings(
        version=1,
        timezone=timezone,
        language=check.choice(root, "language", "", defaults.language, ("zh", "en")),
        digests=_digests(check, root.get("digests")),
        categories=_categories(check, root.get("categories")),
        store=_store(check, root),
        store_prefix=_store_prefix(check, root),
        telegram=_telegram(check, root.get("telegram")),
        slack=_slack(check, root.get("slack")),
        server=_server(check, root.get("server")),
        delivery=_delivery(check, root.get("delivery")),
        channels=_channels(check, root.get("channels")),
        base_dir=base_dir,
    )
    _check_platform_tokens(check, root, settings)
    return settings, check.problems


def _check_platform_tokens(check: Checker, root: Mapping[Any, Any], settings: Settings) -> None:
    # A platform's channels need its section's `token` key to exist; an empty value is fine (it means
    # "not configured, skip"), a missing key is almost always a typo or a forgotten section.
    for platform in ("telegram", "slack"):
        users = [c.name or f"channels[{i}]" for i, c in enumerate(settings.channels) if c.platform == platform]
        body = root.get(platform)
        if users and not (isinstance(body, dict) and "token" in body):
            variable = f"{platform.upper()}_BOT_TOKEN"
            named = ", ".join(check.show(user) if not user.startswith("channels[") else user for user in users[:5])
            more = f" and {len(users) - 5} more" if len(users) > 5 else ""
            check.add(f"{platform}.token",
                      f"missing, but channel(s) {named}{more} use {platform}; "
                      f"write token: ${{{variable}:-}} to leave it unconfigured")


def _one_line(message: str) -> str:
    # One problem, one line: a message never breaks the line, whatever a library put in it.
    return " ".join(message.splitlines())


def _source_name(path: str | os.PathLike[str]) -> str:
    """The config file as error lines name it: as given, unless that would break the line."""
    text = os.fspath(path)
    return text if text.isprintable() and len(text) <= 1024 else shown(text, 200)


def _read_config_text(path: str | os.PathLike[str], source: str) -> tuple[str, Path]:
    """The config file's text and its path; ConfigError (one line) when it cannot be read as text."""
    def refused(message: str) -> ConfigError:
        return ConfigError(source, [("", message)])

    if "\x00" in os.fspath(path):
        raise refused("the file name contains a NUL character")
    config_path = Path(path)
    try:
        config_path = config_path.expanduser()
    except RuntimeError:
        pass                # `~name` of nobody: read as written, and fail as a missing file would
    try:
        raw_bytes = read_file(config_path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        raise refused("no such file (copy config.example.yaml to start one)") from None
    except IsADirectoryError:
        raise refused("is a folder, not a config file") from None
    except BoundsError as exc:
        raise refused(f"cannot be read as a config: {exc.message}") from None
    except OSError as exc:
        raise refused(f"cannot read the file: {exc.strerror or type(exc).__name__}") from None
    try:
        return raw_bytes.decode("utf-8-sig"), config_path
    except UnicodeDecodeError as exc:
        raise refused(f"not UTF-8 text (byte {exc.start})") from None


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Settings:
    """Read, substitute and validate a config file; ConfigError lists every mistake with its key path.

    Bounded whatever the file holds: its size, nesting, aliases and every value's length are
    capped while reading, so a hostile file costs at most a few times its own size.
    """
    source = _source_name(path)
    text, config_path = _read_config_text(path, source)
    document = read_yaml(text, os.environ if env is None else env)
    base_dir = config_path.resolve().parent
    settings = Settings(base_dir=base_dir)
    problems = list(document.problems)
    secrets = raw_secrets(document.data)
    if document.readable:
        settings, more = _validate(document.data, base_dir, document.failed, secrets)
        problems += more
    if problems:
        located = sorted(((line_of(key_path, document.lines), key_path, message) for key_path, message in problems),
                         key=lambda entry: entry[0] or 10**9)
        # Values quoted in the messages are masked already; here only the keys the file named itself.
        raise ConfigError(source, [
            (mask_path(key_path, secrets, _OWN_WORDS), _one_line(f"{message} (line {line})" if line else message))
            for line, key_path, message in located
        ])
    return settings


# ---------------------------------------------------------------------------------------------------
# For logs and people

def secrets_of(settings: Settings) -> list[str]:
    """Every non-empty secret value in the settings, for log redaction."""
    values = [settings.telegram.token, settings.telegram.webhook_secret, settings.slack.token,
              settings.slack.signing_secret, settings.slack.app_token]
    values += [url_password(url) or "" for url in (settings.store, settings.digests.source)]
    return [value for value in values if value]


def sqlite_path(settings: Settings) -> Path | None:
    """The sqlite database file the store opens (the store's own function decides); None for other stores."""
    if settings.store.partition("://")[0].lower() != "sqlite":
        return None
    try:
        return store_sqlite_path(settings.store, settings.base_dir)
    except ValueError:
        return None


def summarize(settings: Settings) -> str:
    """A few lines for people: what this config will do, secrets masked."""
    source = mask_url(settings.digests.source)
    source_kind = "URL template" if is_url(settings.digests.source) else "folder"
    store = mask_url(settings.store)
    database = sqlite_path(settings)
    if database is not None:
        store = f"{store} ({database})"
    elif settings.store.startswith(("redis://", "rediss://")):
        store = f"{store} (keys prefixed {settings.store_prefix})"
    telegram = (f"configured ({settings.telegram.updates})" if settings.telegram.configured
                else "skipped (no token)")
    if settings.slack.configured:
        slack = "configured (Socket Mode)" if settings.slack.app_token else "configured (HTTP endpoints)"
    else:
        slack = "skipped (no token)"
    platform_ready = {"console": True, "telegram": settings.telegram.configured,
                      "slack": settings.slack.configured}
    lines = [
        f"time zone: {settings.timezone}; language: {settings.language}",
        f"digests: {source} ({source_kind})",
        f"categories: {', '.join(rule.name for rule in settings.categories) or 'none'}",
        f"store: {store}",
        f"telegram: {telegram}",
        f"slack: {slack}",
        f"server: {settings.server.host}:{settings.server.port}",
        f"channels: {len(settings.channels)}",
    ]
    for channel in settings.channels:
        where = f" {channel.chat}" if channel.chat else ""
        zone = channel.timezone or settings.timezone
        state = "" if platform_ready.get(channel.platform) else ", skipped"
        lines.append(f"  {channel.name}: {channel.platform}{where} at {channel.schedule} {zone}{state}")
    return "\n".join(lines)
