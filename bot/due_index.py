"""The due index: every channel the scheduler serves, grouped by schedule, and which of them fall due when.

Channels on the same schedule in the same time zone form a group. A group's schedule is parsed once and
asked for due times once, when the group's turn comes in a heap ordered by next due time; only a due
group turns its members into targets. A subscribed chat is kept as its chat id packed with its
platform's others and a slot number (what it shares with the chats that post alike), some 25 bytes, and
becomes a target only when it is due.

The subscriptions come from the store, and are read again only when the store's subscriptions version
changed. The version is looked at every REFRESH_SECONDS, and at once after this process changed them;
the index is then rebuilt on a worker thread and swapped in.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import heapq
import itertools
import logging
from array import array
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.outcomes import Target
from bot.render.options import PostOptions
from bot.schedule import Schedule
from bot.settings import ChannelSettings
from bot.store.base import Store, Subscription

log = logging.getLogger(__name__)

# Subscriptions made with /subscribe on another replica show up within this many seconds.
REFRESH_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class ScheduledChannel:
    target: Target
    schedule: Schedule
    timezone: ZoneInfo
    # A /subscribe'd chat: its ledger name is made from its chat id, which a migration changes.
    subscribed: bool = False


def channel_target(channel: ChannelSettings) -> Target:
    """Where a configured channel's deliveries go, and what of the digest they carry."""
    return Target(channel.name, channel.platform, channel.chat, channel.categories,
                  PostOptions(silent=channel.silent, topic=channel.topic, thread=channel.thread))


class _Table:
    """One platform's subscribed chats, sorted, packed into one string with their end offsets: a chat
    costs its characters and a few bytes, where a str object of its own would cost some 50 bytes more
    and leave the allocator's arenas pinned after a reload."""

    __slots__ = ("_ends", "_text", "slots")

    def __init__(self, chats: list[str], slots: array[int]) -> None:
        self._text = "".join(chats)
        self._ends = array("I", itertools.accumulate(map(len, chats)))
        self.slots = slots          # the number of each chat's slot

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, at: int) -> str:
        return self._text[self._ends[at - 1] if at else 0:self._ends[at]]

    def position(self, chat: str) -> int | None:
        at = bisect.bisect_left(self, chat)
        return at if at < len(self) and self[at] == chat else None


class _Slot:
    """The subscribed chats of one group that post alike: same platform, categories and topic."""

    __slots__ = ("categories", "group", "number", "options", "platform", "positions")

    def __init__(self, number: int, group: _Group, platform: str, categories: tuple[str, ...],
                 topic: str | None) -> None:
        self.number = number
        self.group = group
        self.platform = platform
        self.categories = categories
        self.options = PostOptions(topic=topic)
        self.positions = array("I")     # where its chats are in the platform's table

    def channel(self, chat: str) -> ScheduledChannel:
        target = Target(Subscription.name_of(self.platform, chat), self.platform, chat, self.categories,
                        self.options)
        return ScheduledChannel(target, self.group.schedule, self.group.schedule.tz, subscribed=True)


class _Group:
    """Every channel on one schedule in one time zone."""

    __slots__ = ("configured", "next_due", "schedule", "slots")

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.configured: list[ScheduledChannel] = []
        self.slots: dict[tuple[str, tuple[str, ...], str | None], _Slot] = {}
        self.next_due: dt.datetime | None = None


@dataclass(slots=True)
class _Built:
    """What a load makes, apart from the index it goes into, so it can be made off the event loop."""

    groups: dict[tuple[str, str], _Group] = field(default_factory=dict)
    by_name: dict[str, ScheduledChannel] = field(default_factory=dict)      # the configured channels
    slots: list[_Slot] = field(default_factory=list)
    tables: dict[str, _Table] = field(default_factory=dict)


def _in_order(subscriptions: Sequence[Subscription]) -> Sequence[Subscription]:
    """The subscriptions by (platform, chat), as the store promises them; sorted here if they are not."""
    keys = ((subscription.platform, subscription.chat) for subscription in subscriptions)
    if all(earlier < later for earlier, later in itertools.pairwise(keys)):
        return subscriptions
    return sorted(subscriptions, key=lambda subscription: (subscription.platform, subscription.chat))


class DueIndex:
    """Configured channels and subscribed chats by schedule; configured channels win over a subscription
    of the same (platform, chat). Only channels of the given platforms are served."""

    def __init__(self, configured: Iterable[ChannelSettings], default_tz: ZoneInfo, default_schedule: str,
                 platforms: Collection[str]) -> None:
        self._default_tz = default_tz
        self._default_schedule = default_schedule
        self._platforms = platforms
        self._configured = [(channel, channel_target(channel)) for channel in configured
                            if channel.platform in platforms]
        self._taken = {(channel.platform, channel.chat) for channel, _ in self._configured}
        self._groups: dict[tuple[str, str], _Group] = {}
        self._by_name: dict[str, ScheduledChannel] = {}      # the configured channels
        self._slots: list[_Slot] = []
        self._tables: dict[str, _Table] = {}
        self._heap: list[tuple[float, int, _Group]] = []     # (next due as a timestamp, tie-break, group)
        self._order = itertools.count()
        self._checked: dt.datetime | None = None            # due times up to here have been handed out
        self._version: str | None = None
        self._refreshed_at: dt.datetime | None = None
        self._stale = True
        self.load(())

    # -- what it holds ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._by_name) + sum(len(table) for table in self._tables.values())

    @property
    def groups(self) -> int:
        """How many distinct schedules (with their time zones) the channels are on."""
        return len(self._groups)

    def channels(self) -> Iterator[ScheduledChannel]:
        """Every channel, made one at a time: the configured ones in config order, then subscribed chats
        by platform and chat."""
        yield from self._by_name.values()
        for platform in sorted(self._tables):
            table = self._tables[platform]
            for at, number in enumerate(table.slots):
                yield self._slots[number].channel(table[at])

    def _members(self, group: _Group) -> Iterator[ScheduledChannel]:
        yield from group.configured
        for slot in group.slots.values():
            table = self._tables[slot.platform]
            for at in slot.positions:
                yield slot.channel(table[at])

    def find(self, name: str) -> ScheduledChannel | None:
        """The channel whose deliveries are recorded under `name`, if it is served."""
        configured = self._by_name.get(name)
        if configured is not None:
            return configured
        platform, _, chat = name.partition(":")
        table = self._tables.get(platform)
        at = None if table is None else table.position(chat)
        return None if table is None or at is None else self._slots[table.slots[at]].channel(chat)

    def timezones(self) -> set[ZoneInfo]:
        return {group.schedule.tz for group in self._groups.values()}

    # -- loading ------------------------------------------------------------------------------
    def load(self, subscriptions: Sequence[Subscription]) -> None:
        """Rebuild with these subscriptions; due times already handed out are not handed out again."""
        self._adopt(self._build(subscriptions))

    def _adopt(self, built: _Built) -> None:
        self._groups, self._by_name, self._slots, self._tables = built.groups, built.by_name, built.slots, built.tables
        self._schedule_groups()

    def _build(self, subscriptions: Sequence[Subscription]) -> _Built:
        """The groups, slots and tables for these subscriptions, touching nothing the index serves from:
        a reload makes them on a worker thread while the loop goes on with the index as it was."""
        built = _Built()
        parsed: dict[tuple[str, str], _Group | ValueError] = {}
        for channel, target in self._configured:
            group = self._group(built, parsed, channel.schedule, channel.timezone)
            if isinstance(group, ValueError):
                raise group
            scheduled = ScheduledChannel(target, group.schedule, group.schedule.tz)
            group.configured.append(scheduled)
            built.by_name[channel.name] = scheduled
        chats: dict[str, tuple[list[str], array[int]]] = {}       # by platform: its chats, their slots
        rejected: dict[tuple[str, str], tuple[int, str]] = {}     # how many, and one of them
        previous = ("", "")
        for subscription in _in_order(subscriptions):
            key = (subscription.platform, subscription.chat)
            if subscription.platform not in self._platforms or key in self._taken or key == previous:
                continue
            previous = key
            group = self._group(built, parsed, subscription.schedule or self._default_schedule,
                                subscription.timezone)
            if isinstance(group, ValueError):
                bad = self._key(subscription.schedule, subscription.timezone)
                count, example = rejected.get(bad, (0, subscription.channel_name))
                rejected[bad] = (count + 1, example)
                continue
            slot = _slot(built, group, subscription)
            platform_chats, slot_numbers = chats.setdefault(subscription.platform, ([], array("I")))
            slot.positions.append(len(platform_chats))
            platform_chats.append(subscription.chat)
            slot_numbers.append(slot.number)
        self._warn(rejected, parsed)
        built.tables = {platform: _Table(*columns) for platform, columns in chats.items()}
        return built

    def _key(self, expr: str | None, tz_name: str | None) -> tuple[str, str]:
        return (expr or self._default_schedule, tz_name or self._default_tz.key)

    def _group(self, built: _Built, parsed: dict[tuple[str, str], _Group | ValueError], expr: str,
               tz_name: str | None) -> _Group | ValueError:
        """The group for a schedule as written, parsed once per load however many channels name it."""
        key = self._key(expr, tz_name)
        found = parsed.get(key)
        if found is None:
            try:
                tz = ZoneInfo(tz_name) if tz_name else self._default_tz
            except (ValueError, KeyError, OSError):
                # A name that is no zone may be a folder of zones ("Asia"): the OSError of reading it.
                found = ValueError(f"unknown time zone {tz_name!r}")
            else:
                found = _parsed_group(built, expr, tz)
            parsed[key] = found
        return found

    @staticmethod
    def _warn(rejected: dict[tuple[str, str], tuple[int, str]],
              parsed: dict[tuple[str, str], _Group | ValueError]) -> None:
        for key, (count, example) in rejected.items():
            log.warning("ignoring %d subscription(s), e.g. %s: %s", count, example, parsed[key])

    def _schedule_groups(self) -> None:
        self._heap = []
        if self._checked is None:
            return      # the first advance() catches up, then schedules every group
        for group in self._groups.values():
            self._push(group, group.schedule.next_after(self._checked))

    def _push(self, group: _Group, due: dt.datetime) -> None:
        group.next_due = due
        heapq.heappush(self._heap, (due.timestamp(), next(self._order), group))

    # -- due times ----------------------------------------------------------------------------
    def advance(self, now: dt.datetime, catch_up: dt.timedelta) -> list[tuple[ScheduledChannel, dt.datetime]]:
        """Each channel with each time it fell due since the last call, up to `now`.

        The first call is the start-up: each channel whose latest due time is at most `catch_up` ago,
        with that time. A clock that went back hands out nothing until it passes where it was.
        """
        if self._checked is None:
            return self._catch_up(now, catch_up)
        if now <= self._checked:
            return []
        due: list[tuple[ScheduledChannel, dt.datetime]] = []
        moment = now.timestamp()
        while self._heap and self._heap[0][0] <= moment:
            group = heapq.heappop(self._heap)[2]
            for instant in group.schedule.due_between(self._checked, now):
                due.extend((channel, instant) for channel in self._members(group))
            self._push(group, group.schedule.next_after(now))
        self._checked = now
        return due

    def _catch_up(self, now: dt.datetime, window: dt.timedelta) -> list[tuple[ScheduledChannel, dt.datetime]]:
        due: list[tuple[ScheduledChannel, dt.datetime]] = []
        for group in self._groups.values():
            latest = group.schedule.latest_at_or_before(now)
            if latest is not None and now - latest <= window:
                due.extend((channel, latest) for channel in self._members(group))
        self._checked = now
        self._schedule_groups()
        return due

    def next_due(self) -> dt.datetime | None:
        """When the next channel falls due; None before the first advance() or with no channel."""
        return self._heap[0][2].next_due if self._heap else None

    # -- keeping up with the store ------------------------------------------------------------
    def invalidate(self) -> None:
        """This process changed the subscriptions: look at the store again on the next refresh."""
        self._stale = True

    async def refresh(self, store: Store, now: dt.datetime) -> None:
        """Load the subscriptions again if they changed, looking at most every REFRESH_SECONDS unless
        invalidated. A store that cannot be read keeps the subscriptions last loaded."""
        since = self._refreshed_at
        fresh = since is not None and since <= now and (now - since).total_seconds() < REFRESH_SECONDS
        if fresh and not self._stale:
            return
        self._refreshed_at, self._stale = now, False
        try:
            # The version first: a change made while the list is read then shows as a newer version.
            version = await store.subscriptions_version()
            if version == self._version:
                return
            subscriptions = await store.subscriptions()
        except Exception:
            # An unreadable subscription list must not stop the configured channels as well.
            log.warning("cannot read subscriptions; keeping the %d known", len(self) - len(self._by_name),
                        exc_info=True)
            return
        # Some 0.3 s of Python at 100,000 subscriptions: made on a thread, the loop keeps sending
        # meanwhile (it waits at most the interpreter's switch interval, 5 ms, for its turn).
        self._adopt(await asyncio.to_thread(self._build, subscriptions))
        self._version = version


def _parsed_group(built: _Built, expr: str, tz: ZoneInfo) -> _Group | ValueError:
    try:
        schedule = Schedule.parse(expr, tz)
    except ValueError as error:
        return error
    # "9:30" and "09:30" are one schedule: groups go by the schedule as parsed.
    canonical = (schedule.expr, tz.key)
    found = built.groups.get(canonical)
    if found is None:
        found = built.groups[canonical] = _Group(schedule)
    return found


def _slot(built: _Built, group: _Group, subscription: Subscription) -> _Slot:
    key = (subscription.platform, subscription.categories, subscription.topic)
    found = group.slots.get(key)
    if found is None:
        found = group.slots[key] = _Slot(len(built.slots), group, *key)
        built.slots.append(found)
    return found
