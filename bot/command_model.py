"""What a command is asked with and answers: the context of one command and the Reply model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.digest.model import Digest, Item
from bot.paging import Rows

# What a reply quotes back of a person's argument, at most.
MAX_ECHO_CHARS = 40


@dataclass(frozen=True)
class CommandContext:
    """Who asked, where, and what "now" is (so tests control the clock)."""

    platform: str
    chat: str
    user: str
    is_group: bool
    language: str                               # "zh" | "en"
    timezone: ZoneInfo
    is_admin: Callable[[], Awaitable[bool]]     # the adapter's platform check, asked only when needed
    now: dt.datetime                            # aware
    command_prefix: str = "/"                   # how a command is typed here, e.g. "/digest " on Slack
    topic: str | None = None                    # the forum topic it was typed in (Telegram)


AdminCheck = Callable[[], Awaitable[bool]]


async def always_admin() -> bool:
    """For places where whoever can type a command may change anything, like the operator's terminal."""
    return True


@dataclass(frozen=True, slots=True)
class ContextBuilder:
    """What one adapter's command contexts share; each command gets its own, with "now" read as it arrives."""

    platform: str
    language: str
    timezone: ZoneInfo
    clock: Callable[[], dt.datetime]     # injected so tests control "now"
    command_prefix: str = "/"

    def build(self, chat: str, user: str, *, is_group: bool, is_admin: AdminCheck,
              command_prefix: str | None = None, topic: str | None = None) -> CommandContext:
        """A context for one command; `is_admin` is only awaited by the commands that need it."""
        return CommandContext(platform=self.platform, chat=chat, user=user, is_group=is_group,
                              language=self.language, timezone=self.timezone, is_admin=is_admin,
                              now=self.clock(),
                              command_prefix=self.command_prefix if command_prefix is None else command_prefix,
                              topic=topic)


@dataclass(frozen=True)
class Reply:
    """What to answer: the bot's own words, a whole digest, or some items under a heading."""

    notice: str | None = None
    digest: Digest | None = None
    items: tuple[Item, ...] = ()
    heading: str | None = None
    digest_of_items: Digest | None = None
    public: bool = False
    ok: bool = True
    silent: bool = False    # throttled: the adapter sends nothing at all
    buttons: Rows = ()      # under the answer's last message, in rows
    replaces: bool = False  # a button's answer: it takes the place of the message whose button was pressed


def echo(argument: str) -> str:
    """A person's argument as a reply quotes it: cut short, so a reply stays a short reply."""
    return argument if len(argument) <= MAX_ECHO_CHARS else argument[:MAX_ECHO_CHARS] + "…"
