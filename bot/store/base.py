"""The store interface shared by the sqlite, redis and memory backends."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
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
    async def subscribe(self, subscription: Subscription) -> None:
        """Add or replace the subscription of (platform, chat)."""

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
