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
from zoneinfo import ZoneInfo

from bot import metrics
from bot.digest.model import Digest, Item
from bot.digest.sources import DigestSource
from bot.errors import DigestError
from bot.i18n import join_list, normalize_language, text
from bot.ratelimit import CommandThrottle, Verdict
from bot.schedule import DEFAULT_SCHEDULE, digest_date_for, parse_daily_time
from bot.store.base import Store, Subscription

log = logging.getLogger(__name__)

# Words that ask for an answer visible to the whole channel (Slack answers privately otherwise).
PUBLIC_WORDS = frozenset({"public", "公开"})
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
# The parser reads item numbers of at most 9 digits, so a longer number is out of range without
# converting it (int() refuses one of thousands of digits outright).
MAX_ITEM_DIGITS = 9
# What a reply quotes back of a person's argument, at most.
MAX_ECHO_CHARS = 40
# The operator's own terminal: never throttled.
UNTHROTTLED_PLATFORMS = frozenset({"console"})


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
              command_prefix: str | None = None) -> CommandContext:
        """A context for one command; `is_admin` is only awaited by the commands that need it."""
        return CommandContext(platform=self.platform, chat=chat, user=user, is_group=is_group,
                              language=self.language, timezone=self.timezone, is_admin=is_admin,
                              now=self.clock(),
                              command_prefix=self.command_prefix if command_prefix is None else command_prefix)


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


def echo(argument: str) -> str:
    """A person's argument as a reply quotes it: cut short, so a reply stays a short reply."""
    return argument if len(argument) <= MAX_ECHO_CHARS else argument[:MAX_ECHO_CHARS] + "…"


class _Unreadable(Exception):
    """The source failed for `day`; handled once, in Commands.handle."""

    def __init__(self, day: dt.date, error: DigestError) -> None:
        super().__init__(str(error))
        self.day = day
        self.error = error


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
        self._handlers: dict[str, Handler] = {
            "help": self._help,
            "today": self._today,
            "item": self._item,
            "category": self._category,
            "categories": self._categories,
            "date": self._date,
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
        }

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
        found = await self._today_or_notice(ctx, language)
        if isinstance(found, Reply):
            return found
        item = found.item(int(digits)) if len(magnitude) <= MAX_ITEM_DIGITS else None
        if item is None:
            return Reply(notice=self._range_notice(found, language), ok=False)
        heading = text(language, "item_heading", number=item.number, date=found.date.isoformat())
        return Reply(items=(item,), heading=heading, digest_of_items=found, public=public)

    @staticmethod
    def _range_notice(digest: Digest, language: str) -> str:
        numbers = sorted(item.number for item in digest.items)
        if not numbers:
            return text(language, "no_items", date=digest.date.isoformat())
        if len(numbers) == 1:
            return text(language, "item_only_one", first=numbers[0])
        return text(language, "item_out_of_range", count=len(numbers), first=numbers[0], last=numbers[-1])

    async def _category(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        today = digest_date_for(ctx.now, ctx.timezone)
        digest = await self._digest(today)
        known = join_list(language, self.categorizer.known(digest))
        if not words:
            return Reply(notice=text(language, "category_usage", p=ctx.command_prefix, categories=known),
                         ok=False)
        name = " ".join(words)
        category = self.categorizer.resolve(name, digest)
        if category is None:
            return Reply(notice=text(language, "category_unknown", name=echo(name), categories=known), ok=False)
        if digest is None:
            return await self._none_today(today, ctx, language)
        items = self.categorizer.items_in(category, digest)
        if not items:
            return Reply(notice=text(language, "category_empty", category=category, date=digest.date.isoformat()))
        heading = text(language, "category_heading", category=category, date=digest.date.isoformat())
        return Reply(items=tuple(items), heading=heading, digest_of_items=digest, public=public)

    async def _categories(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        today = digest_date_for(ctx.now, ctx.timezone)
        digest = await self._digest(today)
        known = self.categorizer.known(digest)
        if not known:
            return Reply(notice=text(language, "categories_none"), public=public)
        if digest is None:
            missing = await self._none_today(today, ctx, language)
            listing = text(language, "categories_known", categories=join_list(language, known))
            return Reply(notice=f"{missing.notice}\n{listing}", public=public)
        lines = [text(language, "categories_today", date=digest.date.isoformat())]
        lines += [text(language, "categories_line", category=category,
                       count=len(self.categorizer.items_in(category, digest))) for category in known]
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

    async def _subscribe(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        if ctx.is_group and not await ctx.is_admin():
            return Reply(notice=text(language, "admins_only"), ok=False)
        if len(words) > 1:
            return Reply(notice=text(language, "subscribe_bad_time", arg=echo(" ".join(words)),
                                     p=ctx.command_prefix), ok=False)
        if words:
            try:
                at = parse_daily_time(words[0])
            except ValueError:
                return Reply(notice=text(language, "subscribe_bad_time", arg=echo(words[0]),
                                         p=ctx.command_prefix), ok=False)
            time_of_day = f"{at.hour:02d}:{at.minute:02d}"
        else:
            time_of_day = self.default_time
        existing = {(s.platform, s.chat) for s in await self.store.subscriptions()}
        # Asking again is the way back for a chat once marked gone (the bot was re-invited).
        await self.store.reactivate(ctx.platform, ctx.chat)
        await self.store.subscribe(Subscription(platform=ctx.platform, chat=ctx.chat, schedule=time_of_day,
                                                timezone=ctx.timezone.key, subscribed_by=ctx.user))
        log.info("%s:%s subscribed at %s %s by %s", ctx.platform, ctx.chat, time_of_day, ctx.timezone.key,
                 ctx.user)
        key = "subscription_changed" if (ctx.platform, ctx.chat) in existing else "subscribed"
        return Reply(notice=text(language, key, time=time_of_day, timezone=ctx.timezone.key), public=True)

    async def _unsubscribe(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        if ctx.is_group and not await ctx.is_admin():
            return Reply(notice=text(language, "admins_only"), ok=False)
        removed = await self.store.unsubscribe(ctx.platform, ctx.chat)
        if removed:
            log.info("%s:%s unsubscribed by %s", ctx.platform, ctx.chat, ctx.user)
            return Reply(notice=text(language, "unsubscribed"), public=True)
        return Reply(notice=text(language, "not_subscribed"))
