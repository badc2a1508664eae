"""The /subscribe and /unsubscribe commands: a chat's own schedule, kept in the store."""

from __future__ import annotations

import logging

from bot.command_model import CommandContext, Reply, echo
from bot.i18n import text
from bot.schedule import parse_daily_time
from bot.store.base import Store, Subscription

log = logging.getLogger("bot.commands")


class SubscriptionCommands:
    """Subscribing a chat (admins only in groups) and undoing it."""

    def __init__(self, store: Store, default_time: str) -> None:
        self.store = store
        self.default_time = default_time

    async def subscribe(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
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

    async def unsubscribe(self, words: list[str], public: bool, ctx: CommandContext, language: str) -> Reply:
        if ctx.is_group and not await ctx.is_admin():
            return Reply(notice=text(language, "admins_only"), ok=False)
        removed = await self.store.unsubscribe(ctx.platform, ctx.chat)
        if removed:
            log.info("%s:%s unsubscribed by %s", ctx.platform, ctx.chat, ctx.user)
            return Reply(notice=text(language, "unsubscribed"), public=True)
        return Reply(notice=text(language, "not_subscribed"))
