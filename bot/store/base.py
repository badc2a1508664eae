"""The store interface shared by the sqlite, redis and memory backends."""

from __future__ import annotations

import datetime as dt
import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.errors import DigestBotError

# The message id recorded for a part that counts as sent although no answer ever confirmed it (every
# request for it timed out after going out).
UNCONFIRMED_MESSAGE_ID = ""


class StoreError(DigestBotError):
    """The store's backend failed or stayed unreachable after its own retries (message has no secrets)."""


@dataclass(frozen=True, slots=True)
class DeliveryKey:
    """One scheduled delivery: one digest (by date) to one channel (by its stable name)."""

    digest_date: dt.date
    channel: str

    def __str__(self) -> str:
        return f"{self.digest_date.isoformat()}/{self.channel}"


@dataclass(slots=True)
class LedgerEntry:
    """What the ledger knows about one delivery."""

    # part index (0-based) -> the platform's message id, for every part confirmed sent
    sent: dict[int, str] = field(default_factory=dict)
    # parts recorded as "about to send" but never confirmed: a crash happened in flight
    in_flight: set[int] = field(default_factory=set)
    parts_total: int | None = None
    finished: bool = False
    # parts whose send timed out after the request went out (they may have arrived): each such part
    # is resent at most once, ever; the mark stays after the part is recorded as sent
    maybe_sent: set[int] = field(default_factory=set)

    def first_unsent(self) -> int:
        part = 0
        while part in self.sent:
            part += 1
        return part


class Plan(enum.Enum):
    """Whether the opening also claimed the chat and recorded the plan (see Store.open_delivery)."""

    NOT_TRIED = enum.auto()     # nothing to send, or the chat moved: plan under its new id's lock
    PLANNED = enum.auto()
    CHAT_TAKEN = enum.auto()    # someone else is posting in the chat


@dataclass(frozen=True, slots=True)
class Opening:
    """What a delivery learns as it claims its lease: everything it reads before sending."""

    claimed: bool                   # False: another owner holds the delivery, nothing else was read
    entry: LedgerEntry
    chat: str                       # the chat's current id, after recorded migrations
    inactive: str | None = None     # why the chat gets nothing more; None while it is active
    plan: Plan = Plan.NOT_TRIED


def part_to_plan(entry: LedgerEntry, parts_total: int) -> int:
    """The part a plan marks as about to go: the first unsent one (the last part, already sent and so
    left unmarked, when every part is out)."""
    return min(entry.first_unsent(), parts_total - 1)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A chat that asked for scheduled delivery with /subscribe."""

    platform: str
    chat: str
    schedule: str | None = None     # "HH:MM" or a cron expression; None: the default schedule
    timezone: str | None = None     # None: the config's time zone
    subscribed_by: str = ""
    categories: tuple[str, ...] = ()     # only these categories' items; empty: the whole digest
    topic: str | None = None             # the forum topic /subscribe was typed in; None: the chat itself

    @property
    def channel_name(self) -> str:
        return self.name_of(self.platform, self.chat)

    @staticmethod
    def name_of(platform: str, chat: str) -> str:
        """The stable name a subscribed chat's deliveries are recorded under."""
        return f"{platform}:{chat}"


@dataclass(frozen=True, slots=True)
class Failure:
    """The latest failed attempt at a delivery: why, and when (Unix seconds)."""

    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class DeliveryHistory:
    """When a delivery's parts and the delivery itself were done, and its latest failure: what
    operators ask about; sending never reads it."""

    part_times: Mapping[int, float] = field(default_factory=dict)   # part -> recorded sent at (Unix s)
    finished_at: float | None = None
    # Kept after a later success: `finished_at` tells a recovered delivery from a failed one.
    failure: Failure | None = None


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds a live lease, since when and until when (Unix seconds)."""

    owner: str
    since: float | None      # None: claimed by a version that did not record it
    expires_at: float


@dataclass(frozen=True, slots=True)
class InactiveChat:
    """Why a chat gets nothing more, and since when (Unix seconds; None where it was not recorded)."""

    reason: str
    since: float | None


class Store(ABC):
    """Every method is atomic on its own; leases make multi-step work safe across replicas.

    Backend failures surface as StoreError; the backends' own exception types never leak out.
    """

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the backend is unreachable."""

    @abstractmethod
    async def close(self) -> None: ...

    # -- leases -------------------------------------------------------------------------------
    @abstractmethod
    async def claim(self, name: str, owner: str, ttl: float) -> bool:
        """Take the lease `name` for `ttl` seconds if it is free, expired, or already ours."""

    @abstractmethod
    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        """Extend our lease to `ttl` seconds from now; False if it expired or someone else holds it."""

    @abstractmethod
    async def release(self, name: str, owner: str) -> None:
        """Give up our lease; a lease held by someone else is left alone."""

    # -- delivery ledger ----------------------------------------------------------------------
    @abstractmethod
    async def ledger(self, key: DeliveryKey) -> LedgerEntry: ...

    @abstractmethod
    async def begin_part(self, key: DeliveryKey, part: int, parts_total: int) -> None:
        """Record that `part` is about to be sent (before the network call).

        A part already recorded as sent stays sent (it is not put back in flight).
        """

    @abstractmethod
    async def record_part(self, key: DeliveryKey, part: int, message_id: str) -> None:
        """Record that `part` was sent and got `message_id`."""

    @abstractmethod
    async def mark_maybe_sent(self, key: DeliveryKey, part: int) -> bool:
        """Record that a send of `part` timed out after the request went out; it may have arrived.

        True only for the call that made the mark: the part's one resend belongs to that caller.
        Every later call answers False (so a second timeout never leads to a third copy), except a
        backend's own retry of the same call after a lost reply, which still answers True. The mark
        is kept when the part is later recorded as sent.
        """

    @abstractmethod
    async def finish(self, key: DeliveryKey) -> None:
        """Mark the delivery complete."""

    @abstractmethod
    async def finished_deliveries(self, digest_date: dt.date) -> set[str]:
        """Channel names whose delivery of that digest is complete."""

    # -- one delivery, in as few steps as the backend allows ------------------------------------
    # A delivery of n parts makes n + 3 store calls: open, plan, one per part, close. The shared
    # stores answer each in one round trip (the steps below, composed, are the reference meaning),
    # because at the platforms' ceilings the store's share of each message is what is left to cut.
    async def open_delivery(self, key: DeliveryKey, lease: str, owner: str, ttl: float, platform: str,
                            chat: str, chat_lease: str, parts_total: int) -> Opening:
        """Claim the delivery's `lease`; once won, read its ledger, the chat's current id and whether the
        chat is inactive (the last two are skipped for a finished delivery). If there is something to
        send and the chat has not moved, go on as plan_delivery does with `chat_lease`: the entry read
        is the ledger as it was before the plan."""
        if not await self.claim(lease, owner, ttl):
            return Opening(False, LedgerEntry(), chat)
        entry = await self.ledger(key)
        if entry.finished:
            return Opening(True, entry, chat)
        current = await self.resolve_chat(platform, chat)
        reason = await self.inactive_reason(platform, current)
        if reason is not None or current != chat:
            return Opening(True, entry, current, reason)
        planned = await self.plan_delivery(key, chat_lease, owner, ttl, parts_total,
                                           part_to_plan(entry, parts_total))
        return Opening(True, entry, current, None, Plan.PLANNED if planned else Plan.CHAT_TAKEN)

    async def plan_delivery(self, key: DeliveryKey, chat_lease: str, owner: str, ttl: float, parts_total: int,
                            first_part: int) -> bool:
        """Claim the chat's lease and, once won, record the plan: `parts_total`, and `first_part` as
        about to go (unless it is sent already). False, with nothing recorded, if someone else holds
        the chat."""
        if not await self.claim(chat_lease, owner, ttl):
            return False
        await self.begin_part(key, first_part, parts_total)
        return True

    async def record_sent(self, key: DeliveryKey, part: int, message_id: str, next_part: int | None) -> None:
        """Record `part` as sent and, in the same step, `next_part` (None: it was the last) as about to
        go: one write per part instead of one before and one after."""
        await self.record_part(key, part, message_id)
        if next_part is not None:
            entry = await self.ledger(key)
            await self.begin_part(key, next_part, entry.parts_total or next_part + 1)

    async def close_delivery(self, key: DeliveryKey, owner: str, leases: Sequence[str], finished: bool,
                             never_sent: int | None = None, last_sent: tuple[int, str] | None = None,
                             fingerprint: str = "") -> None:
        """Record the `last_sent` (part, message id) if any, mark the delivery finished (if `finished`)
        and give back those of `leases` still ours: the last part's record and the end are one step.
        `never_sent`: a part the plan marked as about to go that was never handed to the platform
        (the delivery stopped first), so a later resume does not warn about it. `fingerprint`: what
        the chat now shows, kept for corrections (as swap_fingerprint from "") when finishing."""
        if last_sent is not None:
            await self.record_part(key, *last_sent)
        if finished:
            await self.finish(key)
            if fingerprint:
                await self.swap_fingerprint(key, "", fingerprint)
        elif never_sent is not None:
            await self.unmark_in_flight(key, never_sent)
        for lease in leases:
            await self.release(lease, owner)

    @abstractmethod
    async def unmark_in_flight(self, key: DeliveryKey, part: int) -> None:
        """Drop `part`'s "about to go" mark; a part recorded as sent is left as it is."""

    # -- corrections --------------------------------------------------------------------------
    @abstractmethod
    async def fingerprint(self, key: DeliveryKey) -> str:
        """What the chat shows of a finished delivery, as corrections recorded it ("" if never)."""

    @abstractmethod
    async def swap_fingerprint(self, key: DeliveryKey, expected: str, new: str) -> bool:
        """Set the fingerprint to `new` if it is still `expected`; False (and nothing changed) otherwise.

        Every edit or notice is recorded this way, so of two processes correcting the same delivery
        only one records each step, and a restart sees what was done.
        """

    # -- what operators ask (digestbot status) -------------------------------------------------
    @abstractmethod
    async def record_failure(self, key: DeliveryKey, reason: str) -> None:
        """Remember that an attempt at the delivery failed, and why; the latest failure wins."""

    @abstractmethod
    async def delivery_history(self, key: DeliveryKey) -> DeliveryHistory:
        """When each sent part was recorded, when the delivery finished, and its latest failure."""

    @abstractmethod
    async def lease_holder(self, name: str) -> LeaseHolder | None:
        """The owner of the lease `name` while it is live; None when it is free or expired."""

    @abstractmethod
    async def inactive_details(self) -> dict[tuple[str, str], InactiveChat]:
        """Every inactive chat with its reason and since when."""

    # -- chat state ---------------------------------------------------------------------------
    @abstractmethod
    async def mark_inactive(self, platform: str, chat: str, reason: str) -> None: ...

    @abstractmethod
    async def reactivate(self, platform: str, chat: str) -> None: ...

    @abstractmethod
    async def inactive_reason(self, platform: str, chat: str) -> str | None: ...

    @abstractmethod
    async def inactive_chats(self) -> dict[tuple[str, str], str]: ...

    @abstractmethod
    async def move_chat(self, platform: str, old_chat: str, new_chat: str) -> None:
        """Remember a migration; subscriptions of the old chat move to the new one.

        The subscription lands on the chat the new id resolves to; if that chat already has its own
        subscription, that one is kept. Moving a chat back to an id it came from is allowed: the
        latest move wins and resolving never loops.
        """

    @abstractmethod
    async def resolve_chat(self, platform: str, chat: str) -> str:
        """Follow recorded migrations to the chat's current id (itself if it never moved)."""

    # -- subscriptions ------------------------------------------------------------------------
    @abstractmethod
    async def subscribe(self, subscription: Subscription) -> bool:
        """Add or replace the subscription of (platform, chat); True if the chat had none."""

    @abstractmethod
    async def unsubscribe(self, platform: str, chat: str) -> bool:
        """Remove it; False if there was none."""

    @abstractmethod
    async def subscriptions(self) -> list[Subscription]:
        """Every subscription, ordered by (platform, chat)."""

    @abstractmethod
    async def subscriptions_version(self) -> str:
        """A token that changes with every change to the subscriptions, made through any handle on the
        same data (subscribe, an unsubscribe that removed one, a move that carried or dropped one).

        Equal tokens mean the subscriptions are as they were, so a reader re-reads them only when the
        token changed. Read it before the subscriptions: a change in between then shows next time.
        """

    # -- deduplication ------------------------------------------------------------------------
    @abstractmethod
    async def first_seen(self, token: str, ttl: float) -> bool:
        """True the first time `token` is offered within `ttl` seconds (e.g. Slack event ids)."""


# A chat that moved more often than this is treated as a broken record rather than followed forever.
MAX_CHAT_MOVES = 32


def chat_moves(next_chat: Callable[[str], str | None], chat: str) -> list[str]:
    """The ids `chat` went through, itself first and its current id last; `next_chat` gives one move.

    Stops at a loop (a corrupt record) instead of following it forever.
    """
    path = [chat]
    for _ in range(MAX_CHAT_MOVES):
        moved_to = next_chat(path[-1])
        if moved_to is None or moved_to in path:
            break
        path.append(moved_to)
    return path
