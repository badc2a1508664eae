"""`digestbot reactivate`: putting chats marked gone back into delivery, saying what each was marked for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.secrets import redact
from bot.settings import Settings
from bot.status import Channel, list_channels
from bot.store.base import InactiveChat, Store


class UnknownChannels(ValueError):
    """Names that are neither a configured channel nor a subscription; nothing was changed."""

    def __init__(self, names: Sequence[str], known: Sequence[str]) -> None:
        super().__init__(", ".join(names))
        self.names = list(names)
        self.known = list(known)


@dataclass(frozen=True, slots=True)
class Reactivation:
    name: str
    chat: str                       # the chat's current id (after any migration)
    was: InactiveChat | None        # None: it was not marked inactive, so nothing changed

    def describe(self, timezone: str) -> str:
        if self.was is None:
            return f"{self.name}: not marked inactive; nothing to do"
        since = ""
        if self.was.since is not None:
            moment = dt.datetime.fromtimestamp(self.was.since, ZoneInfo(timezone))
            since = f" since {moment:%Y-%m-%d %H:%M %Z}"
        return f"{self.name}: reactivated (was marked inactive{since}: {redact(self.was.reason)})"


async def reactivate(settings: Settings, store: Store, names: Sequence[str]) -> list[Reactivation]:
    """Reactivate each named channel's chat; every name is checked before anything changes."""
    channels = {channel.name: channel for channel in await list_channels(settings, store)}
    unknown = [name for name in names if name not in channels]
    if unknown:
        raise UnknownChannels(unknown, list(channels))
    inactive = await store.inactive_details()
    done: list[Reactivation] = []
    for name in dict.fromkeys(names):
        done.append(await _reactivate_one(store, channels[name], inactive))
    return done


async def _reactivate_one(store: Store, channel: Channel,
                          inactive: dict[tuple[str, str], InactiveChat]) -> Reactivation:
    chat = await store.resolve_chat(channel.platform, channel.chat)
    was = inactive.get((channel.platform, chat))
    if was is not None:
        await store.reactivate(channel.platform, chat)
    return Reactivation(channel.name, chat, was)
