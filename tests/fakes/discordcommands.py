"""Discord's checks of a bulk overwrite of global application commands (PUT /applications/{id}/commands)."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.discordcheck import Refusal

MAX_COMMANDS = 100
MAX_OPTIONS = 25
MAX_DESCRIPTION = 100
# Discord's CHAT_INPUT name rule: 1-32 of letters, digits, "-" and "_" (in any script), lowercase.
_NAME = re.compile(r"^[-_\w]{1,32}$")
# The locales Discord knows; a localization for any other key is refused.
LOCALES = frozenset({"id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl",
                     "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi",
                     "th", "zh-CN", "ja", "zh-TW", "ko"})
OPTION_TYPES = frozenset(range(3, 12))


def check_commands(commands: Any) -> None:
    """Raise Refusal (50035) when Discord would refuse this list of commands."""
    if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
        raise Refusal(400, 50035, "Invalid Form Body", {"_root": "BASE_TYPE_MAX_LENGTH"})
    errors: dict[str, str] = {}
    names: set[str] = set()
    for index, command in enumerate(commands):
        path = str(index)
        if not isinstance(command, dict):
            errors[path] = "MODEL_TYPE_CONVERT"
            continue
        _check_named(command, path, errors)
        if command.get("name") in names:
            errors[f"{path}.name"] = "APPLICATION_COMMANDS_DUPLICATE_NAME"
        names.add(str(command.get("name")))
        options = command.get("options") or []
        if not isinstance(options, list) or len(options) > MAX_OPTIONS:
            errors[f"{path}.options"] = "BASE_TYPE_MAX_LENGTH"
            continue
        for number, option in enumerate(options):
            _check_option(option, f"{path}.options.{number}", errors)
    if errors:
        raise Refusal(400, 50035, "Invalid Form Body", errors)


def _check_option(option: Any, path: str, errors: dict[str, str]) -> None:
    if not isinstance(option, dict) or option.get("type") not in OPTION_TYPES:
        errors[path] = "MODEL_TYPE_CONVERT"
        return
    _check_named(option, path, errors)


def _check_named(thing: dict[str, Any], path: str, errors: dict[str, str]) -> None:
    if not _is_name(thing.get("name")):
        errors[f"{path}.name"] = "APPLICATION_COMMAND_INVALID_NAME"
    if not _is_description(thing.get("description")):
        errors[f"{path}.description"] = "BASE_TYPE_BAD_LENGTH"
    for key, check in (("name_localizations", _is_name), ("description_localizations", _is_description)):
        localized = thing.get(key) or {}
        if not isinstance(localized, dict):
            errors[f"{path}.{key}"] = "MODEL_TYPE_CONVERT"
            continue
        for locale, value in localized.items():
            if locale not in LOCALES:
                errors[f"{path}.{key}.{locale}"] = "LOCALE_INVALID"
            elif not check(value):
                errors[f"{path}.{key}.{locale}"] = "BASE_TYPE_BAD_LENGTH"


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(_NAME.match(value)) and value == value.lower()


def _is_description(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_DESCRIPTION
