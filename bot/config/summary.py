"""The loaded settings for people and logs: a short summary, the secret values to redact, the sqlite file."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from bot.digest.sources import is_url
from bot.platforms import registry
from bot.secrets import SECRET_FIELDS, mask_url, shown_chat, url_password
from bot.settings import Settings
from bot.store import sqlite_path as store_sqlite_path


def secrets_of(settings: Settings) -> list[str]:
    """Every non-empty secret value in the settings, for log redaction."""
    values: list[str] = []
    for section in registry.sections():
        own = settings.platforms[section.key]
        values += [getattr(own, item.name) for item in fields(own) if item.name in SECRET_FIELDS]
        own_channels = [channel for channel in settings.channels if channel.platform == section.key]
        if section.chat.secret:
            values += [channel.chat for channel in own_channels]
        values += [channel.option(option.key) for option in section.chat.options if option.secret
                   for channel in own_channels]
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


def ready_platforms(settings: Settings) -> set[str]:
    """Platforms whose channels can be served: those without a section, and those configured."""
    ready = set()
    for platform in registry.PLATFORMS:
        section = registry.section(platform)
        if section is None or settings.platforms[section.key].configured:
            ready.add(platform.name)
    return ready


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
    lines = [
        f"time zone: {settings.timezone}; language: {settings.language}",
        f"digests: {source} ({source_kind})",
        f"categories: {', '.join(rule.name for rule in settings.categories) or 'none'}",
        f"store: {store}",
        *(f"{section.key}: {settings.platforms[section.key].summary()}" for section in registry.sections()),
        f"server: {settings.server.host}:{settings.server.port}",
        f"channels: {len(settings.channels)}",
    ]
    ready = ready_platforms(settings)
    for channel in settings.channels:
        where = f" {shown_chat(channel.chat)}" if channel.chat else ""
        zone = channel.timezone or settings.timezone
        state = "" if channel.platform in ready else ", skipped"
        lines.append(f"  {channel.name}: {channel.platform}{where} at {channel.schedule} {zone}{state}")
    return "\n".join(lines)
