"""YAML + ${ENV} → validated, typed settings; every mistake reported at once with its key path.

The loader reads the file, each component checks its own section (bot.checking is their toolkit)
and assembly puts the sections together; callers import from here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from bot.checking import normalize_schedule, parse_duration
from bot.config.assembly import own_words, secret_chats, validate
from bot.config.loader import MAX_CONFIG_BYTES, line_of, read_config_text, read_yaml, source_name
from bot.config.summary import secrets_of, sqlite_path, summarize
from bot.errors import ConfigError
from bot.platforms import registry
from bot.platforms.slack.settings import SlackSettings
from bot.platforms.telegram.settings import TelegramSettings
from bot.secrets import SECRET_FIELDS, mask_path, raw_secrets
from bot.settings import (
    CategoryRule,
    ChannelSettings,
    DeliverySettings,
    DigestSettings,
    ServerSettings,
    Settings,
)

__all__ = [
    "MAX_CONFIG_BYTES",
    "SECRET_FIELDS",
    "CategoryRule",
    "ChannelSettings",
    "ConfigError",
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


def _one_line(message: str) -> str:
    # One problem, one line: a message never breaks the line, whatever a library put in it.
    return " ".join(message.splitlines())


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Settings:
    """Read, substitute and validate a config file; ConfigError lists every mistake with its key path.

    Bounded whatever the file holds: its size, nesting, aliases and every value's length are
    capped while reading, so a hostile file costs at most a few times its own size.
    """
    source = source_name(path)
    text, config_path = read_config_text(path, source)
    document = read_yaml(text, os.environ if env is None else env)
    base_dir = config_path.resolve().parent
    settings = Settings(base_dir=base_dir)
    problems = list(document.problems)
    sections = [section.key for section in registry.sections()]
    secrets = raw_secrets(document.data, sections) + secret_chats(document.data)
    if document.readable:
        settings, more = validate(document.data, base_dir, document.failed, secrets)
        problems += more
    if problems:
        located = sorted(((line_of(key_path, document.lines), key_path, message) for key_path, message in problems),
                         key=lambda entry: entry[0] or 10**9)
        words = own_words()
        # Values quoted in the messages are masked already; here only the keys the file named itself.
        raise ConfigError(source, [
            (mask_path(key_path, secrets, words), _one_line(f"{message} (line {line})" if line else message))
            for line, key_path, message in located
        ])
    return settings
