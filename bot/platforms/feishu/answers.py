"""Answering a command sent to the Feishu app bot: read the message, run the command, reply with cards."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.commands import Commands, ContextBuilder
from bot.i18n import text as words
from bot.platforms.base import MaybeSent, RateLimited, SendError, TransientError
from bot.platforms.feishu.api import FeishuApi
from bot.platforms.feishu.limits import PLATFORM, REPLY_ATTEMPTS
from bot.render import Payload, Renderer, render_reply

log = logging.getLogger(__name__)

# How the commands are typed here, for the hints in replies.
COMMAND_PREFIX = "/"
# "@_user_1": how a mention appears in a message's text; `mentions` says whom it names.
_MENTION_KEY = re.compile(r"@_user_\d+")


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A text message for the bot: in a group it mentioned the bot, in a private chat it is just there."""

    message_id: str
    chat: str
    user: str
    is_group: bool
    text: str           # without the mentions


def incoming_message(event: Mapping[str, Any]) -> IncomingMessage | None:
    """The command in an im.message.receive_v1 event, or None for anything the bot does not answer."""
    message, sender = event.get("message"), event.get("sender")
    if not isinstance(message, dict) or not isinstance(sender, dict) or sender.get("sender_type") != "user":
        return None     # other bots' and the app's own messages never start a conversation
    if message.get("message_type") != "text":
        return None
    try:
        content = json.loads(str(message.get("content", "")))
    except ValueError:
        return None
    text = content.get("text") if isinstance(content, dict) else None
    is_group = message.get("chat_type") != "p2p"
    if not isinstance(text, str) or (is_group and not message.get("mentions")):
        return None     # in a group the bot answers only when it is mentioned
    user_id = sender.get("sender_id")
    user = str(user_id.get("open_id", "")) if isinstance(user_id, dict) else ""
    return IncomingMessage(message_id=str(message.get("message_id", "")), chat=str(message.get("chat_id", "")),
                           user=user, is_group=is_group, text=" ".join(_MENTION_KEY.sub(" ", text).split()))


def parse_command(text: str) -> tuple[str, str]:
    """("item", "3") from "/item 3" or "item 3"; a bare mention asks for help."""
    parts = text.removeprefix("/").split(maxsplit=1)
    return (parts[0].lower() if parts else "help"), (parts[1].strip() if len(parts) > 1 else "")


class FeishuResponder:
    """Runs commands and replies to the message that asked, part by part, in order."""

    def __init__(self, api: FeishuApi, commands: Commands | None, renderer: Renderer, *, language: str,
                 timezone: ZoneInfo, now: Callable[[], dt.datetime], retry_wait: float = 1.0) -> None:
        self.api = api
        self.commands = commands
        self.renderer = renderer
        self._contexts = ContextBuilder(PLATFORM, language, timezone, now, command_prefix=COMMAND_PREFIX)
        self._retry_wait = retry_wait

    async def answer(self, message: IncomingMessage) -> None:
        """Run the command and post the reply; never raises (failures are logged)."""
        try:
            payloads = await self._reply_payloads(message)
            for payload in payloads:
                await self._reply(message, payload)
        except SendError as error:
            log.warning("feishu: the answer in %s could not be sent: %s", message.chat, error.reason)
        except Exception:
            log.exception("feishu: answering in %s failed", message.chat)

    async def _reply_payloads(self, message: IncomingMessage) -> list[Payload]:
        if self.commands is None:
            return []
        name, args = parse_command(message.text)
        context = self._contexts.build(message.chat, message.user, is_group=message.is_group,
                                       is_admin=_private if not message.is_group else _not_granted)
        try:
            reply = await self.commands.handle(name, args, context)
        except Exception:
            log.exception("feishu: command %r in %s failed", name, message.chat)
            return self.renderer.render_notice(words(self._contexts.language, "failure"))
        return [] if reply.silent else render_reply(self.renderer, reply)

    async def _reply(self, message: IncomingMessage, payload: Payload) -> None:
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                await self.api.reply(message.chat, message.message_id, payload)
                return
            except MaybeSent:
                return      # it may be in the chat already: a second copy is worse than none
            except RateLimited as error:
                await asyncio.sleep(error.retry_after)
            except TransientError:
                if attempt == REPLY_ATTEMPTS:
                    raise
                await asyncio.sleep(self._retry_wait * attempt)


# A private chat is its one member's to subscribe. A group's owners and admins are not visible to
# the app without extra permissions, so a group is subscribed through the config, not from the chat.
async def _private() -> bool:
    return True


async def _not_granted() -> bool:
    return False
