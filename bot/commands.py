"""What every command means, once for all platforms: (command, arguments, chat) → a Reply model.

Adapters parse the platform's message (stripping "/cmd@BotName", Slack's "/digest cmd"), build a
CommandContext with their ContextBuilder, call Commands.handle and render the Reply. Nothing here
knows a platform library.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot import metrics, paging
from bot.command_model import (
    AdminCheck,
    CommandContext,
    ContextBuilder,
    Reply,
    always_admin,
    echo,
)
from bot.digest.model import Digest, Item
from bot.digest.sources import DigestSource
from bot.errors import DigestError
from bot.i18n import join_list, normalize_language, text
from bot.ratelimit import CommandThrottle, Verdict
from bot.schedule import DEFAULT_SCHEDULE, digest_date_for, parse_daily_time
from bot.store.base import Store
from bot.subscribing import SubscriptionCommands

# The context and reply types live in bot.command_model; adapters keep importing them from here.
__all__ = ["COMMANDS", "AdminCheck", "CategoryLookup", "CommandContext", "Commands", "ContextBuilder", "Reply",
           "always_admin", "echo", "menu", "parse_day", "split_public"]

log = logging.getLogger(__name__)

# Words that ask for an answer visible to the whole channel (Slack answers privately otherwise).
PUBLIC_WORDS = frozenset({"public", "公开"})
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
# The parser reads item numbers of at most 9 digits, so a longer number is out of range without
# converting it (int() refuses one of thousands of digits outright).
MAX_ITEM_DIGITS = 9
# The operator's own terminal: never throttled.
UNTHROTTLED_PLATFORMS = frozenset({"console"})


class CategoryLookup(Protocol):
    def resolve(self, name: str, digest: Digest | None = None) -> str | None: ...

    def known(self, digest: Digest | None = None) -> list[str]: ...

    def items_in(self, category: str, digest: Digest) -> list[Item]: ...


@dataclass(frozen=True)
class _Command:
    name: str
    argument: str | None        # catalogue key of the argument placeholder, if it takes one


# In the order help and the Telegram menu list them.
COMMANDS = (
    _Command("today", None),
    _Command("item", "arg_item"),
    _Command("category", "arg_category"),
    _Command("categories", None),
    _Command("date", "arg_date"),
    _Command("subscribe", "arg_subscribe"),
    _Command("unsubscribe", None),
    _Command("help", None),
)
_ALIASES = {"start": "help"}


def menu(language: str, default_time: str = DEFAULT_SCHEDULE) -> list[tuple[str, str]]:
    """(command, description) pairs for Telegram's setMyCommands, in `language`."""
    return [(command.name, text(language, f"describe_{command.name}", time=default_time))
            for command in COMMANDS]


def split_public(args: str) -> tuple[list[str], bool]:
    """The argument words, and whether the last one asked for a public answer."""
    words = args.split()
    if words and words[-1].lower() in PUBLIC_WORDS:
        return words[:-1], True
    return words, False


def parse_day(word: str) -> dt.date | None:
    """2025-09-25 (also 2025/9/25, 2025.09.25) → date; None when it is not a real calendar day."""
    match = _DATE.fullmatch(word)
    if match is None:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


class _Unreadable(Exception):
    """The source failed for `day`; handled once, in Commands.handle."""

    def __init__(self, day: dt.date, error: DigestError) -> None:
        super().__init__(str(error))
        self.day = day
        self.error = error


@dataclass(frozen=True, slots=True)
class _Readable:
    """The digest a command answers from, and the day it was asked on."""

    digest: Digest
    today: dt.date

    def dated(self, words: str, language: str) -> str:
        """`words`, saying that they come from the latest digest when today's is not out yet."""
        if self.digest.date == self.today:
            return words
        return text(language, "from_latest", text=words, today=self.today.isoformat())


Handler = Callable[[list[str], bool, CommandContext, str], Awaitable[Reply]]


class Commands:
    """The command logic shared by the Telegram, Slack and console adapters."""

    def __init__(self, source: DigestSource, store: Store, categorizer: CategoryLookup,
                 default_schedule: str = DEFAULT_SCHEDULE, throttle: CommandThrottle | None = None) -> None:
        at = parse_daily_time(default_schedule)
        self.source = source
        self.store = store
        self.categorizer = categorizer
        self.throttle = throttle or CommandThrottle()
        self.default_time = f"{at.hour:02d}:{at.minute:02d}"
        self.subscriptions = SubscriptionCommands(store, self.default_time, categorizer, source)
        self._handlers: dict[str, Handler] = {
            "help": self._help,
            "today": self._today,
            "item": self._item,
            "category": self._category,
            "categories": self._categories,
            "date": self._date,
            "subscribe": self.subscriptions.subscribe,
            "unsubscribe": self.subscriptions.unsubscribe,
        }

    async def press(self, data: str, ctx: CommandContext) -> Reply:
        """The answer to a pressed button: a neighbouring item in place, or a category's items."""
        request = paging.parse(data)
        if isinstance(request, paging.PickCategory):
            found = await self._readable(ctx)
            name = request.name_in(self.categorizer.known(found.digest if found is not None else None))
            if name is not None:
                return await self.handle("category", name, ctx)
        elif isinstance(request, paging.PageTo):
            try:
                digest = await self.source.for_date(request.day)
            except DigestError:
                digest = None
            item = digest.item(request.number) if digest is not None else None
            if digest is not None and item is not None:
                heading = text(ctx.language, "item_heading", number=item.number, date=digest.date.isoformat())
                return Reply(items=(item,), heading=heading, digest_of_items=digest, replaces=True,
                             buttons=paging.pager(digest, item.number))
        return Reply(notice=text(ctx.language, "digest_changed", p=ctx.command_prefix), ok=False)

    async def handle(self, name: str, args: str, ctx: CommandContext) -> Reply:
        command = name.strip().lower()
        command = _ALIASES.get(command, command)
        label = command if command in self._handlers else "unknown"
        throttled = self._throttled(ctx, label)
        if throttled is not None:
            return throttled
        started = time.perf_counter()
        try:
            return await self._handle(command, name, args, ctx)
        finally:
            metrics.COMMANDS.labels(command=label, platform=ctx.platform).inc()
            metrics.COMMAND_LATENCY.labels(command=label, platform=ctx.platform).observe(
                time.perf_counter() - started)

    def _throttled(self, ctx: CommandContext, label: str) -> Reply | None:
        """The reply for a command over its caps (a notice once, then silence), or None to answer it."""
        if ctx.platform in UNTHROTTLED_PLATFORMS:
            return None
        group = (ctx.platform, ctx.chat) if ctx.is_group else None
        verdict, wait = self.throttle.check((ctx.platform, ctx.chat, ctx.user), group, ctx.now.timestamp())
        if verdict is Verdict.ANSWER:
            return None
        metrics.COMMANDS_THROTTLED.labels(platform=ctx.platform, answer=verdict.name.lower()).inc()
        if verdict is Verdict.SILENT:
            return Reply(ok=False, silent=True)
        log.info("/%s in %s:%s by %s: too many commands; answering again in %.0fs", label, ctx.platform,
                 ctx.chat, ctx.user, wait)
        notice = text(normalize_language(ctx.language), "too_fast", seconds=max(1, math.ceil(wait)))
        return Reply(notice=notice, ok=False)

    async def _handle(self, command: str, name: str, args: str, ctx: CommandContext) -> Reply:
        language = normalize_language(ctx.language)
        handler = self._handlers.get(command)
        if handler is None:
            shown = name.strip()[:32]
            return Reply(notice=text(language, "unknown_command", p=ctx.command_prefix, name=shown), ok=False)
        words, public = split_public(args)
        try:
            return await handler(words, public, ctx, language)
        except _Unreadable as problem:
            log.warning("/%s in %s:%s: digest for %s unreadable: %s", command, ctx.platform, ctx.chat,
                        problem.day.isoformat(), problem.error)
            return Reply(notice=text(language, "unreadable", date=problem.day.isoformat()), ok=False)
        except Exception:
            log.exception("/%s in %s:%s failed", command, ctx.platform, ctx.chat)
            return Reply(notice=text(language, "failure"), ok=False)

    # -- digests ------------------------------------------------------------------------------
    async def _digest(self, day: dt.date) -> Digest | None:
        try:
            return await self.source.for_date(day)
        except DigestError as error:
            raise _Unreadable(day, error) from error

    async def _latest(self, on_or_before: dt.date, asked: dt.date) -> Digest | None:
        try:
            return await self.source.latest(on_or_before)
        except DigestError as error:
            raise _Unreadable(asked, error) from error

    async def _none_today(self, today: dt.date, ctx: CommandContext, language: str) -> Reply:
        """Today's digest is not out yet: say so and name the latest one."""
        latest = await self._latest(today, today)
        if latest is None:
            return Reply(notice=text(language, "none_at_all"))
        return Reply(notice=text(language, "none_today", today=today.isoformat(),
                                 latest=latest.date.isoformat(), p=ctx.command_prefix))

    async def _readable(self, ctx: CommandContext) -> _Readable | None:
        """Today's digest, or before it is out the latest one; None when nothing was ever published."""
        today = digest_date_for(ctx.now, ctx.timezone)
        digest = await self._digest(today)
        if digest is None:
            digest = await self._latest(today, today)
        return None if digest is None else _Readable(digest, today)

    async def _today_or_notice(self, ctx: CommandContext, language: str) -> Digest | Reply:
        today = digest_date_for(ctx.now, ctx.timezone)
        digest = await self._digest(today)
        return digest if digest is not None else await self._none_today(today, ctx, language)

    # -- handlers -----------------------------------------------------------------------------
    async def _help(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        lines = [text(language, "help_intro")]
        for command in COMMANDS:
            usage = command.name
            if command.argument is not None:
                usage += " " + text(language, command.argument)
            lines.append(text(language, "help_line", p=ctx.command_prefix, usage=usage,
                              description=text(language, f"describe_{command.name}", time=self.default_time)))
        if ctx.platform == "slack":
            lines.append(text(language, "help_public"))
        return Reply(notice="\n".join(lines), public=public)

    async def _today(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        found = await self._today_or_notice(ctx, language)
        if isinstance(found, Reply):
            return found
        return Reply(digest=found, public=public)

    async def _item(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        p = ctx.command_prefix
        if not words:
            return Reply(notice=text(language, "item_usage", p=p), ok=False)
        word = " ".join(words)
        digits = word.removeprefix("#").removeprefix("＃")
        # isdecimal, not int() alone: int() also takes "1_0" and "+3"; full-width digits stay welcome,
        # and a negative number is a number, answered with the valid range.
        magnitude = digits.removeprefix("-")
        if not magnitude.isdecimal():
            return Reply(notice=text(language, "item_not_number", arg=echo(word), p=p), ok=False)
        found = await self._readable(ctx)
        if found is None:
            return Reply(notice=text(language, "none_at_all"))
        item = found.digest.item(int(digits)) if len(magnitude) <= MAX_ITEM_DIGITS else None
        if item is None:
            return Reply(notice=found.dated(self._range_notice(found.digest, language), language), ok=False)
        heading = text(language, "item_heading", number=item.number, date=found.digest.date.isoformat())
        return Reply(items=(item,), heading=found.dated(heading, language), digest_of_items=found.digest,
                     public=public, buttons=paging.pager(found.digest, item.number))

    @staticmethod
    def _range_notice(digest: Digest, language: str) -> str:
        numbers = sorted(item.number for item in digest.items)
        if not numbers:
            return text(language, "no_items", date=digest.date.isoformat())
        if len(numbers) == 1:
            return text(language, "item_only_one", first=numbers[0])
        return text(language, "item_out_of_range", count=len(numbers), first=numbers[0], last=numbers[-1])

    async def _category(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        found = await self._readable(ctx)
        digest = found.digest if found is not None else None
        names = self.categorizer.known(digest)
        known = join_list(language, names)
        if not words:
            return Reply(notice=text(language, "category_usage", p=ctx.command_prefix, categories=known),
                         ok=False, buttons=paging.category_buttons(names))
        name = " ".join(words)
        category = self.categorizer.resolve(name, digest)
        if category is None:
            return Reply(notice=text(language, "category_unknown", name=echo(name), categories=known), ok=False)
        if found is None:
            return Reply(notice=text(language, "none_at_all"))
        items = self.categorizer.items_in(category, found.digest)
        date = found.digest.date.isoformat()
        if not items:
            return Reply(notice=found.dated(text(language, "category_empty", category=category, date=date), language))
        heading = found.dated(text(language, "category_heading", category=category, date=date), language)
        return Reply(items=tuple(items), heading=heading, digest_of_items=found.digest, public=public)

    async def _categories(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        found = await self._readable(ctx)
        known = self.categorizer.known(found.digest if found is not None else None)
        if not known:
            return Reply(notice=text(language, "categories_none"), public=public)
        if found is None:
            listing = text(language, "categories_known", categories=join_list(language, known))
            return Reply(notice=f"{text(language, 'none_at_all')}\n{listing}", public=public)
        lines = [found.dated(text(language, "categories_today", date=found.digest.date.isoformat()), language)]
        lines += [text(language, "categories_line", category=category,
                       count=len(self.categorizer.items_in(category, found.digest))) for category in known]
        return Reply(notice="\n".join(lines), public=public)

    async def _date(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        p = ctx.command_prefix
        example = (digest_date_for(ctx.now, ctx.timezone) - dt.timedelta(days=1)).isoformat()
        if not words:
            return Reply(notice=text(language, "date_usage", p=p, example=example), ok=False)
        word = " ".join(words)
        day = parse_day(word)
        if day is None:
            return Reply(notice=text(language, "date_invalid", arg=echo(word), p=p, example=example), ok=False)
        digest = await self._digest(day)
        if digest is not None:
            return Reply(digest=digest, public=public)
        earlier = await self._latest(day - dt.timedelta(days=1), day) if day > dt.date.min else None
        if earlier is None:
            return Reply(notice=text(language, "date_none_earlier", date=day.isoformat()))
        return Reply(notice=text(language, "date_none", date=day.isoformat(), latest=earlier.date.isoformat(), p=p))
