"""Answering a slash command from Discord: run it, render the reply, answer in place or defer and follow up."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from bot.commands import CommandContext, Commands, ContextBuilder
from bot.i18n import LANGUAGES, normalize_language
from bot.i18n import text as words
from bot.platforms.background import Background
from bot.platforms.base import ReplyFailed, ReplySink, SendError
from bot.platforms.discord import embeds as render
from bot.platforms.discord.interactions import (
    ADMINISTRATOR,
    CONFIG_COMMANDS,
    MANAGE_GUILD,
    Invocation,
    message_data,
)
from bot.platforms.discord.limits import PLATFORM
from bot.platforms.discord.sender import DiscordSender
from bot.platforms.discord.settings import DiscordSettings
from bot.render import Payload, render_reply

log = logging.getLogger(__name__)

# How a command is typed on Discord, for the hints in replies.
COMMAND_PREFIX = "/"
# What an asker sees when nothing else is to be said (a throttled command must still be answered).
QUIET_ANSWER = "…"


class Responder(Background):
    """Runs commands and posts their answers as follow-ups; holds the answers under way."""

    platform = PLATFORM

    def __init__(self, sender: DiscordSender, settings: DiscordSettings, commands: Commands | None, *,
                 language: str, timezone: ZoneInfo, now: Callable[[], dt.datetime]) -> None:
        super().__init__()
        self._sender = sender
        self.settings = settings
        self.commands = commands
        self.language = normalize_language(language)
        # The asker's own Discord language picks the words, when the bot speaks it.
        self._contexts = {code: ContextBuilder(PLATFORM, code, timezone, now, command_prefix=COMMAND_PREFIX)
                          for code in LANGUAGES}
        self.sink: ReplySink | None = None

    def language_of(self, invocation: Invocation) -> str:
        locale = invocation.locale.lower()
        return next((code for code in LANGUAGES if locale == code or locale.startswith(f"{code}-")), self.language)

    # -- running a command ----------------------------------------------------------------------
    def _context(self, invocation: Invocation) -> CommandContext:
        async def is_admin() -> bool:
            return bool(invocation.permissions & (ADMINISTRATOR | MANAGE_GUILD))

        builder = self._contexts[self.language_of(invocation)]
        return builder.build(invocation.channel, invocation.user, is_group=invocation.in_guild, is_admin=is_admin)

    async def answer(self, invocation: Invocation) -> list[Payload]:
        """The reply's payloads, never empty and never raising (a failure becomes the failure notice)."""
        language = self.language_of(invocation)
        name = invocation.name.lower()
        if name in CONFIG_COMMANDS:
            return render.render_notice(words(language, "subscribe_by_config", p=COMMAND_PREFIX))
        if self.commands is None:
            return render.render_notice(words(language, "failure"))
        try:
            reply = await self.commands.handle(name, invocation.args, self._context(invocation))
            payloads = [] if reply.silent else render_reply(render, reply)
        except Exception:
            log.exception("discord: answering /%s in %s failed", name, invocation.channel)
            payloads = render.render_notice(words(language, "failure"))
        return payloads or render.render_notice(QUIET_ANSWER)

    # -- posting follow-ups ---------------------------------------------------------------------
    async def follow_up(self, invocation: Invocation, interaction_id: str, payloads: Sequence[Payload]) -> None:
        """Post `payloads` in order as the interaction's follow-ups; failures are logged, never raised."""
        if not payloads:
            return
        chat = self._sender.open_interaction(self.settings.base_url, self.settings.application_id,
                                             interaction_id, invocation.token)
        parts = [message_data(payload, ephemeral=not invocation.public) for payload in payloads]
        try:
            if self.sink is not None:
                await self.sink.send_parts(PLATFORM, chat, parts)
                return
            for part in parts:
                await self._sender.send(chat, part)
        except (ReplyFailed, SendError) as error:
            log.warning("discord: the answer to /%s in %s could not be posted: %s", invocation.name,
                        invocation.channel, error.reason)
        except Exception:
            log.exception("discord: the answer to /%s in %s could not be posted", invocation.name,
                          invocation.channel)

    async def answer_later(self, invocation: Invocation, interaction_id: str,
                           pending: asyncio.Task[list[Payload]]) -> None:
        """The whole answer as follow-ups, once it is ready (the interaction was deferred)."""
        await self.follow_up(invocation, interaction_id, await pending)
