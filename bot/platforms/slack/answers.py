"""Answering a command from Slack: run it, render the reply, post it for the channel or for the asker."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.commands import CommandContext, Commands, ContextBuilder, Reply
from bot.i18n import text as words
from bot.platforms.background import Background
from bot.platforms.base import ReplyFailed, ReplySink, SendError
from bot.platforms.slack import blocks as render
from bot.platforms.slack.buttons import Press, with_buttons
from bot.platforms.slack.errors import API_FAILURES, translate_error
from bot.platforms.slack.limits import INLINE_ANSWER_WAIT, RESPONSE_URL_POSTS
from bot.platforms.slack.sender import SlackSender
from bot.platforms.slack.settings import SlackSettings
from bot.render import Payload, render_reply

log = logging.getLogger(__name__)

# How the commands are typed, for the hints in replies (a slash command's own name wins).
COMMAND_PREFIX = "/digest "
# Commands whose answer the public_replies switch posts for the whole channel.
PUBLIC_BY_CONFIG = frozenset({"today", "item", "category"})
# Shown at once when the answer is not ready in time; the answer follows through response_url.
WORKING_ACK: Payload = {"response_type": "ephemeral", "text": "…"}
# Keys of a rendered payload that also mean something in a slash-command or response_url answer.
_MESSAGE_KEYS = ("text", "blocks")


@dataclass(frozen=True, slots=True)
class Invocation:
    """One command as Slack delivered it: by /digest (with a response_url) or by an @-mention."""

    user: str
    channel: str
    text: str                   # what follows "/digest" or the bot's mention
    response_url: str = ""      # empty for mentions
    thread_ts: str = ""         # a mention inside a thread is answered in that thread
    prefix: str = COMMAND_PREFIX    # how this workspace types the command, for the hints in replies


@dataclass(frozen=True, slots=True)
class Answer:
    payloads: list[Payload]
    public: bool


def rendered(reply: Reply) -> list[Payload]:
    """A reply's payloads, its buttons under the last one."""
    payloads = render_reply(render, reply)
    if payloads and reply.buttons:
        payloads[-1] = with_buttons(payloads[-1], reply.buttons)
    return payloads


def parse_command(text: str) -> tuple[str, str]:
    """("item", "3 public") from "item 3 public"; a bare /digest asks for help."""
    words = text.split(maxsplit=1)
    return (words[0] if words else "help"), (words[1].strip() if len(words) > 1 else "")


def message_only(payload: Payload) -> Payload:
    """The message itself (text and blocks), without chat.postMessage's delivery options."""
    return {key: payload[key] for key in _MESSAGE_KEYS if key in payload}


def message_fields(payload: Payload, response_type: str = "ephemeral") -> Payload:
    """A rendered payload as a slash-command or response_url answer."""
    return {"response_type": response_type, **message_only(payload)}


class Responder(Background):
    """Runs commands and posts their answers, in place or in the background; holds the answers under way."""

    platform = "slack"

    def __init__(self, sender: SlackSender, settings: SlackSettings, commands: Commands | None, *,
                 language: str, timezone: ZoneInfo, now: Callable[[], dt.datetime],
                 inline_wait: float = INLINE_ANSWER_WAIT) -> None:
        super().__init__()
        self._sender = sender
        self.settings = settings
        self.commands = commands
        self._contexts = ContextBuilder(self.platform, language, timezone, now, command_prefix=COMMAND_PREFIX)
        self._inline_wait = inline_wait
        self.sink: ReplySink | None = None

    @property
    def language(self) -> str:
        return self._contexts.language

    @property
    def timezone(self) -> ZoneInfo:
        return self._contexts.timezone

    # -- running a command ----------------------------------------------------------------------
    def _context(self, invocation: Invocation) -> CommandContext:
        async def is_admin() -> bool:
            return await self.is_admin(invocation.user)

        # Subscriptions in a workspace are for its admins and the configured users everywhere, direct
        # messages included: one member's DM is not theirs alone.
        return self._contexts.build(invocation.channel, invocation.user, is_group=True, is_admin=is_admin,
                                    command_prefix=invocation.prefix)

    async def is_admin(self, user: str) -> bool:
        """Workspace admins and owners, and the users the config names, may change subscriptions."""
        if user in self.settings.admins:
            return True
        try:
            response = await self._sender.client.users_info(user=user)
        except API_FAILURES as error:
            log.warning("slack: could not look up user %s: %s", user, translate_error(error).reason)
            return False
        profile = response.get("user") or {}
        return bool(profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner"))

    async def answer(self, invocation: Invocation) -> Answer:
        """Run the command and render the reply; never raises (a failure becomes the failure notice)."""
        name, args = parse_command(invocation.text)
        if self.commands is None:
            return Answer([], public=False)
        try:
            reply = await self.commands.handle(name, args, self._context(invocation))
            if reply.silent:
                return Answer([], public=False)     # throttled: nothing at all goes back
            public = reply.public or (self.settings.public_replies and reply.ok
                                      and name.lower() in PUBLIC_BY_CONFIG)
            return Answer(rendered(reply), public=public)
        except Exception:
            log.exception("slack: answering %r in %s failed", name, invocation.channel)
            return Answer(render.render_notice(words(self.language, "failure")), public=False)

    async def press(self, press: Press) -> None:
        """A button under an answer: ◀ ▶ replace the answer in place, a category is answered below it."""
        if self.commands is None:
            return
        invocation = Invocation(user=press.user, channel=press.channel, text="", response_url=press.response_url)
        try:
            reply = await self.commands.press(press.value, self._context(invocation))
            payloads = rendered(reply)
            if reply.replaces and len(payloads) == 1:
                await self._sender.post_response_url(press.response_url,
                                                     {"replace_original": True, **message_only(payloads[0])})
            else:
                await self.deliver(invocation, Answer(payloads, public=reply.public))
        except Exception:
            log.exception("slack: a button in %s could not be answered", press.channel)

    async def command_response(self, invocation: Invocation) -> Payload | None:
        """What to answer a slash command with right away (None: an empty ack); the rest follows."""
        task = self.spawn(self.answer(invocation))
        done, _ = await asyncio.wait({task}, timeout=self._inline_wait)
        if not done:
            self.spawn(self._deliver_when_ready(invocation, task))
            return WORKING_ACK
        answer = task.result()
        if not answer.public and len(answer.payloads) == 1:
            return message_fields(answer.payloads[0])
        if answer.payloads:
            self.spawn(self.deliver(invocation, answer))
        return None

    async def answer_mention(self, invocation: Invocation) -> None:
        await self.deliver(invocation, await self.answer(invocation))

    # -- posting an answer ----------------------------------------------------------------------
    async def _deliver_when_ready(self, invocation: Invocation, pending: asyncio.Task[Answer]) -> None:
        await self.deliver(invocation, await pending)

    async def deliver(self, invocation: Invocation, answer: Answer) -> None:
        if not answer.payloads:
            return
        try:
            if answer.public:
                try:
                    await self._post_public(invocation.channel, self._in_thread(invocation, answer.payloads))
                    return
                except ReplyFailed as failed:
                    # Usually the bot is not in the channel: the asker still gets the answer, privately.
                    log.warning("slack: could not post an answer in %s (%s); answering privately",
                                invocation.channel, failed.reason)
            await self._post_private(invocation, answer.payloads)
        except Exception:
            log.exception("slack: the answer in %s could not be sent", invocation.channel)

    @staticmethod
    def _in_thread(invocation: Invocation, payloads: Sequence[Payload]) -> list[Payload]:
        if not invocation.thread_ts:
            return list(payloads)
        return [{**payload, "thread_ts": invocation.thread_ts} for payload in payloads]

    async def _post_public(self, channel: str, payloads: Sequence[Payload]) -> None:
        if self.sink is not None:
            await self.sink.send_parts(self.platform, channel, payloads)
            return
        for payload in payloads:
            try:
                await self._sender.send(channel, payload)
            except SendError as error:
                raise ReplyFailed(error.reason) from error

    async def _post_private(self, invocation: Invocation, payloads: Sequence[Payload]) -> None:
        """Ephemeral parts in order: through response_url while it lasts, then chat.postEphemeral."""
        for number, payload in enumerate(payloads):
            if invocation.response_url and number < RESPONSE_URL_POSTS:
                await self._sender.post_response_url(invocation.response_url, message_fields(payload))
            else:
                fields = message_only(payload)
                if invocation.thread_ts:
                    fields["thread_ts"] = invocation.thread_ts
                await self._sender.post_ephemeral(invocation.channel, invocation.user, fields)
