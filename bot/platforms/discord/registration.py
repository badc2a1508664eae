"""The slash commands Discord shows, in English with zh-CN localizations, and registering them at start-up."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from bot.commands import COMMANDS
from bot.i18n import text
from bot.platforms.base import RateLimited, TransientError, Unauthorized
from bot.platforms.discord.errors import DiscordStartError, answer_error, transport_error
from bot.platforms.discord.interactions import CONFIG_COMMANDS, PUBLIC_OPTION
from bot.platforms.discord.limits import MAX_COMMAND_DESCRIPTION, MAX_COMMAND_NAME
from bot.platforms.http_client import REQUEST_FAILURES

log = logging.getLogger(__name__)

CHAT_INPUT = 1
STRING, INTEGER, BOOLEAN = 3, 4, 5
# Discord's locale for the bot's "zh" words; English is the default every client falls back to.
CHINESE = "zh-CN"
# Each command's one argument, where it takes one: (option name, zh-CN name, type, words key).
ARGUMENTS: dict[str, tuple[str, str, int, str]] = {
    "item": ("number", "编号", INTEGER, "option_number"),
    "category": ("name", "分类", STRING, "option_category"),
    "date": ("date", "日期", STRING, "option_date"),
}
# Commands whose answer may be shared with the channel; the others answer only the asker.
SHAREABLE = frozenset({"today", "item", "category", "categories", "date", "help"})


def _words(key: str, **values: object) -> tuple[str, str]:
    """(English, Chinese) of a catalogue entry, each cut to what a description may hold."""
    return (text("en", key, **values)[:MAX_COMMAND_DESCRIPTION], text("zh", key, **values)[:MAX_COMMAND_DESCRIPTION])


def _option(name: str, chinese_name: str, kind: int, key: str, *, required: bool) -> dict[str, Any]:
    english, chinese = _words(key)
    option: dict[str, Any] = {"type": kind, "name": name, "name_localizations": {CHINESE: chinese_name},
                              "description": english, "description_localizations": {CHINESE: chinese},
                              "required": required}
    if kind == INTEGER:
        option["min_value"] = 1
    return option


def command_definitions(default_time: str = "09:30") -> list[dict[str, Any]]:
    """The body of PUT /applications/{id}/commands: every command of the shared logic, in its order."""
    definitions: list[dict[str, Any]] = []
    for command in COMMANDS:
        key = f"describe_{command.name}_by_config" if command.name in CONFIG_COMMANDS else f"describe_{command.name}"
        english, chinese = _words(key, time=default_time)
        options = []
        if command.name in ARGUMENTS:
            options.append(_option(*ARGUMENTS[command.name], required=True))
        if command.name in SHAREABLE:
            options.append(_option(PUBLIC_OPTION, "公开", BOOLEAN, "option_public", required=False))
        definition: dict[str, Any] = {"type": CHAT_INPUT, "name": command.name[:MAX_COMMAND_NAME],
                                      "description": english, "description_localizations": {CHINESE: chinese}}
        if options:
            definition["options"] = options
        definitions.append(definition)
    return definitions


async def register_commands(session: aiohttp.ClientSession, base_url: str, application_id: str, token: str,
                            default_time: str = "09:30") -> int:
    """Overwrite the application's global commands with ours; the number registered.

    Raises DiscordStartError when Discord refuses the bot token or the commands; a Discord that
    cannot be reached is only logged (the commands registered last time still work).
    """
    url = f"{base_url.rstrip('/')}/applications/{application_id}/commands"
    definitions = command_definitions(default_time)
    try:
        async with session.put(url, json=definitions, headers={"Authorization": f"Bot {token}"}) as response:
            answer = await response.json(content_type=None) if response.status != 204 else None
            if response.status < 400:
                count = len(answer) if isinstance(answer, list) else len(definitions)
                log.info("discord: %d slash commands registered for application %s", count, application_id)
                return count
            refusal = answer_error(response.status, answer, response.headers)
    except (*REQUEST_FAILURES, ValueError) as error:
        reason = transport_error(error).reason if not isinstance(error, ValueError) else "an answer that is not JSON"
        log.warning("discord: could not register the slash commands (%s); the ones registered before stay", reason)
        return 0
    if isinstance(refusal, RateLimited | TransientError):
        log.warning("discord: could not register the slash commands now (%s); the ones registered before stay",
                    refusal.reason)
        return 0
    if isinstance(refusal, Unauthorized):
        raise DiscordStartError(f"Discord refused the bot token (discord.token): {refusal.reason}")
    if response.status == 404:
        raise DiscordStartError(f"Discord does not know discord.application_id {application_id}: {refusal.reason}")
    raise DiscordStartError(f"Discord refused the slash commands: {refusal.reason}")
