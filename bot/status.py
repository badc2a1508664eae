"""What `digestbot status` knows: one row per channel (configured or subscribed) with its schedule and
that date's delivery state from the ledger; gathered from settings and store, never printed here."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.corrections import corrections_made
from bot.leases import delivery_lease_name
from bot.platforms import registry
from bot.schedule import Schedule
from bot.secrets import redact, shown_chat
from bot.settings import Settings
from bot.store.base import DeliveryKey, Failure, InactiveChat, LeaseHolder, Store


class State(enum.StrEnum):
    DELIVERED = "delivered"          # every part is out (finished in the ledger)
    IN_PROGRESS = "in_progress"      # a process holds the delivery's lease right now
    WAITING = "waiting"              # nothing sent and nothing failed yet: due later, or the digest is late
    FAILED = "failed"                # the latest attempt failed; the scheduler tries again if it can
    INACTIVE = "inactive"            # the chat is marked gone: nothing goes there until it is reactivated
    SKIPPED = "skipped"              # its platform is not configured here, so `send` skips it too


# Channels in these states do not count against "every active channel has the digest".
NOT_ACTIVE = frozenset({State.INACTIVE, State.SKIPPED})


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel as configured or subscribed: where it goes and when."""

    name: str
    platform: str
    chat: str
    schedule: str
    timezone: str
    subscribed: bool


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    channel: Channel
    chat_shown: str                  # the chat with any credential in it masked
    next_due: dt.datetime | None     # in the channel's own time zone; None for a schedule that no longer parses
    state: State
    parts_total: int | None = None
    parts_sent: int = 0
    delivered_at: dt.datetime | None = None
    lease: LeaseHolder | None = None
    failure: Failure | None = None
    inactive: InactiveChat | None = None
    # Corrections made to the delivered digest after it changed (edits in place, notices).
    corrections: int = 0

    @property
    def active(self) -> bool:
        return self.state not in NOT_ACTIVE

    def local(self, moment: float | None) -> dt.datetime | None:
        return _local(self.channel.timezone, moment)


@dataclass(frozen=True, slots=True)
class StatusReport:
    digest_date: dt.date
    generated_at: dt.datetime
    channels: tuple[ChannelStatus, ...]

    @property
    def ok(self) -> bool:
        """Every active channel has the digest: what the exit status says."""
        return all(row.state is State.DELIVERED for row in self.channels if row.active)

    @property
    def holders(self) -> list[str]:
        """The processes (any replica) delivering right now."""
        return sorted({row.lease.owner for row in self.channels if row.lease is not None})

    def counts(self) -> dict[str, int]:
        return {state.value: sum(row.state is state for row in self.channels) for state in State}


def configured_platforms(settings: Settings) -> set[str]:
    """Platforms `send` can deliver to with these settings, decided as App does: no settings section of
    their own, or a section that is configured (has its token)."""
    found = set()
    for platform in registry.PLATFORMS:
        section = registry.section(platform)
        own = None if section is None else settings.platforms[section.key]
        if own is None or own.configured:
            found.add(platform.name)
    return found


async def list_channels(settings: Settings, store: Store) -> list[Channel]:
    """Configured channels, then /subscribe'd chats that no configured channel already covers."""
    channels = [Channel(c.name, c.platform, c.chat, c.schedule, c.timezone or settings.timezone, False)
                for c in settings.channels]
    seen = {(c.platform, c.chat) for c in channels}
    for subscription in await store.subscriptions():
        if (subscription.platform, subscription.chat) in seen:
            continue
        channels.append(Channel(subscription.channel_name, subscription.platform, subscription.chat,
                                subscription.schedule or settings.delivery.subscription_schedule,
                                subscription.timezone or settings.timezone, True))
    return channels


async def gather_status(settings: Settings, store: Store, *, now: dt.datetime,
                        digest_date: dt.date | None = None) -> StatusReport:
    """Every channel's state for `digest_date` (default: today in the config's time zone)."""
    date = digest_date or now.astimezone(ZoneInfo(settings.timezone)).date()
    platforms = configured_platforms(settings)
    inactive = await store.inactive_details()
    rows = []
    for channel in await list_channels(settings, store):
        chat = await store.resolve_chat(channel.platform, channel.chat)
        rows.append(await _channel_status(store, channel, date, now, inactive.get((channel.platform, chat)),
                                          configured=channel.platform in platforms))
    return StatusReport(date, now, tuple(rows))


async def _channel_status(store: Store, channel: Channel, date: dt.date, now: dt.datetime,
                          inactive: InactiveChat | None, *, configured: bool) -> ChannelStatus:
    key = DeliveryKey(date, channel.name)
    entry = await store.ledger(key)
    history = await store.delivery_history(key)
    lease = await store.lease_holder(delivery_lease_name(key))
    if entry.finished:
        state = State.DELIVERED
    elif inactive is not None:
        state = State.INACTIVE
    elif lease is not None:
        state = State.IN_PROGRESS
    elif not configured:
        state = State.SKIPPED
    elif history.failure is not None:
        state = State.FAILED
    else:
        state = State.WAITING
    corrections = corrections_made(await store.fingerprint(key)) if entry.finished else 0
    return ChannelStatus(channel, shown_chat(channel.chat), _next_due(channel, now), state, entry.parts_total,
                         len(entry.sent), _local(channel.timezone, history.finished_at), lease, history.failure,
                         inactive, corrections)


def _local(timezone: str, moment: float | None) -> dt.datetime | None:
    """A stored Unix time in a channel's own time zone."""
    return None if moment is None else dt.datetime.fromtimestamp(moment, ZoneInfo(timezone))


def _next_due(channel: Channel, now: dt.datetime) -> dt.datetime | None:
    try:
        return Schedule.parse(channel.schedule, ZoneInfo(channel.timezone)).next_after(now)
    except (ValueError, KeyError):
        return None     # a subscription saved by another version; the scheduler skips it as well


def as_json(report: StatusReport) -> dict[str, Any]:
    """The report as one JSON object, for scripts and monitoring."""
    return {
        "date": report.digest_date.isoformat(),
        "generated_at": report.generated_at.isoformat(),
        "ok": report.ok,
        "counts": report.counts(),
        "holders": report.holders,
        "channels": [_row_json(row) for row in report.channels],
    }


def _row_json(row: ChannelStatus) -> dict[str, Any]:
    channel = row.channel
    return {
        "name": channel.name, "platform": channel.platform, "chat": row.chat_shown,
        "subscribed": channel.subscribed, "schedule": channel.schedule, "timezone": channel.timezone,
        "next_due": _iso(row.next_due), "state": row.state.value, "active": row.active,
        "parts_total": row.parts_total, "parts_sent": row.parts_sent, "delivered_at": _iso(row.delivered_at),
        "lease": None if row.lease is None else {
            "owner": row.lease.owner, "since": _iso(row.local(row.lease.since)),
            "expires_at": _iso(row.local(row.lease.expires_at))},
        "failure": None if row.failure is None else {
            "reason": redact(row.failure.reason), "at": _iso(row.local(row.failure.at))},
        "inactive": None if row.inactive is None else {
            "reason": redact(row.inactive.reason), "since": _iso(row.local(row.inactive.since))},
        "corrections": row.corrections,
    }


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")
