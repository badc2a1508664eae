"""The /subscribe and /unsubscribe commands: a chat's own schedule and categories, kept in the store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from bot.command_model import CommandContext, Reply, echo
from bot.digest.model import Digest
from bot.digest.sources import DigestSource
from bot.errors import DigestError
from bot.i18n import join_list, text
from bot.schedule import digest_date_for, parse_daily_time
from bot.store.base import Store, Subscription

log = logging.getLogger("bot.commands")


class NameResolver(Protocol):
    def resolve(self, name: str, digest: Digest | None = None) -> str | None: ...

    def known(self, digest: Digest | None = None) -> list[str]: ...


def _is_time(word: str) -> bool:
    try:
        parse_daily_time(word)
    except ValueError:
        return False
    return True


def read_categories(words: list[str], resolver: NameResolver, digest: Digest | None) -> tuple[str, ...] | str:
    """The canonical names `words` spell, longest names first ("developer tools" is one category);
    the first word that starts no known name when one is unknown."""
    found: dict[str, None] = {}
    start = 0
    while start < len(words):
        for end in range(len(words), start, -1):
            name = resolver.resolve(" ".join(words[start:end]), digest)
            if name is not None:
                found.setdefault(name, None)
                start = end
                break
        else:
            return words[start]
    return tuple(found)


class SubscriptionCommands:
    """Subscribing a chat (admins only in groups), optionally to some categories, and undoing it."""

    def __init__(self, store: Store, default_time: str, categorizer: NameResolver, source: DigestSource) -> None:
        self.store = store
        self.default_time = default_time
        self.categorizer = categorizer
        self.source = source
        # Called after this process changed a subscription, so the scheduler need not wait to notice.
        self.listeners: list[Callable[[], None]] = []

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    async def subscribe(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        if ctx.is_group and not await ctx.is_admin():
            return Reply(notice=text(language, "admins_only"), ok=False)
        time_of_day = self.default_time
        if words:
            if not _is_time(words[0]):
                return self._bad_time(" ".join(words), ctx, language)
            at = parse_daily_time(words[0])
            time_of_day = f"{at.hour:02d}:{at.minute:02d}"
        digest = await self._latest(ctx) if words[1:] else None
        categories = read_categories(words[1:], self.categorizer, digest)
        if isinstance(categories, str):
            if _is_time(categories):
                return self._bad_time(" ".join(words), ctx, language)
            known = join_list(language, self.categorizer.known(digest))
            return Reply(notice=text(language, "category_unknown", name=echo(categories), categories=known),
                         ok=False)
        return await self._save(ctx, language, time_of_day, categories)

    async def _save(self, ctx: CommandContext, language: str, time_of_day: str,
                    categories: tuple[str, ...]) -> Reply:
        # Asking again is the way back for a chat once marked gone (the bot was re-invited).
        await self.store.reactivate(ctx.platform, ctx.chat)
        new = await self.store.subscribe(Subscription(platform=ctx.platform, chat=ctx.chat, schedule=time_of_day,
                                                      timezone=ctx.timezone.key, subscribed_by=ctx.user,
                                                      categories=categories, topic=ctx.topic))
        self._changed()
        log.info("%s:%s subscribed at %s %s by %s%s%s", ctx.platform, ctx.chat, time_of_day, ctx.timezone.key,
                 ctx.user, f" to {', '.join(categories)}" if categories else "",
                 f" in topic {ctx.topic}" if ctx.topic else "")
        key = "subscribed" if new else "subscription_changed"
        notice = text(language, key, time=time_of_day, timezone=ctx.timezone.key)
        if categories:
            notice += text(language, "subscribed_categories", categories=join_list(language, list(categories)))
        return Reply(notice=notice, public=True)

    async def _latest(self, ctx: CommandContext) -> Digest | None:
        """The latest digest, for category names only it uses; a source that fails leaves the config's."""
        try:
            return await self.source.latest(digest_date_for(ctx.now, ctx.timezone))
        except DigestError:
            return None

    @staticmethod
    def _bad_time(argument: str, ctx: CommandContext, language: str) -> Reply:
        return Reply(notice=text(language, "subscribe_bad_time", arg=echo(argument), p=ctx.command_prefix),
                     ok=False)

    async def unsubscribe(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        if ctx.is_group and not await ctx.is_admin():
            return Reply(notice=text(language, "admins_only"), ok=False)
        removed = await self.store.unsubscribe(ctx.platform, ctx.chat)
        if removed:
            self._changed()
            log.info("%s:%s unsubscribed by %s", ctx.platform, ctx.chat, ctx.user)
            return Reply(notice=text(language, "unsubscribed"), public=True)
        return Reply(notice=text(language, "not_subscribed"))
