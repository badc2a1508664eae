"""The in-process store for tests and one-off runs: plain dicts, gone when the process ends."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace

from bot.store.base import (
    DeliveryHistory,
    DeliveryKey,
    Failure,
    InactiveChat,
    LeaseHolder,
    LedgerEntry,
    Store,
    Subscription,
    chat_moves,
)


class MemoryStore(Store):
    """Each method body runs without awaiting, so on one event loop every call is atomic by itself."""

    def __init__(self) -> None:
        self._leases: dict[str, tuple[str, float]] = {}             # name -> (owner, monotonic expiry)
        self._ledger: dict[DeliveryKey, LedgerEntry] = {}
        self._inactive: dict[tuple[str, str], str] = {}
        self._moved: dict[tuple[str, str], str] = {}                # (platform, old) -> new
        self._subscriptions: dict[tuple[str, str], Subscription] = {}
        self._subscriptions_version = 0
        self._seen: dict[str, float] = {}                           # token -> monotonic expiry
        self._prune_seen_at = 1024
        # What operators ask about, in wall-clock seconds like the shared stores keep it.
        self._lease_since: dict[str, float] = {}
        self._part_times: dict[DeliveryKey, dict[int, float]] = {}
        self._finished_at: dict[DeliveryKey, float] = {}
        self._fingerprints: dict[DeliveryKey, str] = {}
        self._failures: dict[DeliveryKey, Failure] = {}
        self._inactive_since: dict[tuple[str, str], float] = {}

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # -- leases -------------------------------------------------------------------------------
    async def claim(self, name: str, owner: str, ttl: float) -> bool:
        now = time.monotonic()
        holder = self._leases.get(name)
        if holder is not None and holder[0] != owner and holder[1] > now:
            return False
        if holder is None or holder[0] != owner or holder[1] <= now:
            self._lease_since[name] = time.time()
        self._leases[name] = (owner, now + ttl)
        return True

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        now = time.monotonic()
        holder = self._leases.get(name)
        if holder is None or holder[0] != owner or holder[1] <= now:
            return False
        self._leases[name] = (owner, now + ttl)
        return True

    async def release(self, name: str, owner: str) -> None:
        holder = self._leases.get(name)
        if holder is not None and holder[0] == owner:
            del self._leases[name]

    # -- delivery ledger ----------------------------------------------------------------------
    async def ledger(self, key: DeliveryKey) -> LedgerEntry:
        entry = self._ledger.get(key)
        if entry is None:
            return LedgerEntry()
        # A copy, so callers cannot change the record by mutating what they were given.
        return LedgerEntry(dict(entry.sent), set(entry.in_flight), entry.parts_total, entry.finished,
                           set(entry.maybe_sent))

    async def begin_part(self, key: DeliveryKey, part: int, parts_total: int) -> None:
        entry = self._ledger.setdefault(key, LedgerEntry())
        entry.parts_total = parts_total
        if part not in entry.sent:
            entry.in_flight.add(part)

    async def record_part(self, key: DeliveryKey, part: int, message_id: str) -> None:
        entry = self._ledger.setdefault(key, LedgerEntry())
        entry.sent[part] = message_id
        entry.in_flight.discard(part)
        self._part_times.setdefault(key, {})[part] = time.time()

    async def unmark_in_flight(self, key: DeliveryKey, part: int) -> None:
        entry = self._ledger.get(key)
        if entry is not None:
            entry.in_flight.discard(part)

    async def mark_maybe_sent(self, key: DeliveryKey, part: int) -> bool:
        entry = self._ledger.setdefault(key, LedgerEntry())
        if part in entry.maybe_sent:
            return False
        entry.maybe_sent.add(part)
        return True

    async def finish(self, key: DeliveryKey) -> None:
        self._ledger.setdefault(key, LedgerEntry()).finished = True
        self._finished_at.setdefault(key, time.time())

    async def fingerprint(self, key: DeliveryKey) -> str:
        return self._fingerprints.get(key, "")

    async def swap_fingerprint(self, key: DeliveryKey, expected: str, new: str) -> bool:
        if key not in self._ledger or self._fingerprints.get(key, "") != expected:
            return False
        self._fingerprints[key] = new
        return True

    async def finished_deliveries(self, digest_date: dt.date) -> set[str]:
        return {key.channel for key, entry in self._ledger.items()
                if key.digest_date == digest_date and entry.finished}

    # -- what operators ask ---------------------------------------------------------------------
    async def record_failure(self, key: DeliveryKey, reason: str) -> None:
        self._failures[key] = Failure(reason, time.time())

    async def delivery_history(self, key: DeliveryKey) -> DeliveryHistory:
        return DeliveryHistory(dict(self._part_times.get(key, {})), self._finished_at.get(key),
                               self._failures.get(key))

    async def lease_holder(self, name: str) -> LeaseHolder | None:
        holder = self._leases.get(name)
        now = time.monotonic()
        if holder is None or holder[1] <= now:
            return None
        return LeaseHolder(holder[0], self._lease_since.get(name), time.time() + holder[1] - now)

    async def inactive_details(self) -> dict[tuple[str, str], InactiveChat]:
        return {chat: InactiveChat(reason, self._inactive_since.get(chat)) for chat, reason in self._inactive.items()}

    # -- chat state ---------------------------------------------------------------------------
    async def mark_inactive(self, platform: str, chat: str, reason: str) -> None:
        self._inactive[(platform, chat)] = reason
        self._inactive_since.setdefault((platform, chat), time.time())

    async def reactivate(self, platform: str, chat: str) -> None:
        self._inactive.pop((platform, chat), None)
        self._inactive_since.pop((platform, chat), None)

    async def inactive_reason(self, platform: str, chat: str) -> str | None:
        return self._inactive.get((platform, chat))

    async def inactive_chats(self) -> dict[tuple[str, str], str]:
        return dict(self._inactive)

    async def move_chat(self, platform: str, old_chat: str, new_chat: str) -> None:
        if old_chat == new_chat:
            return
        path = chat_moves(lambda chat: self._moved.get((platform, chat)), new_chat)
        if old_chat in path:
            # Moving back to an id the chat came from: the new id is current again, not a hop.
            self._moved.pop((platform, new_chat), None)
            target = new_chat
        else:
            target = path[-1]
        self._moved[(platform, old_chat)] = new_chat
        subscription = self._subscriptions.pop((platform, old_chat), None)
        if subscription is not None:
            self._subscriptions_version += 1
            if (platform, target) not in self._subscriptions:
                self._subscriptions[(platform, target)] = replace(subscription, chat=target)

    async def resolve_chat(self, platform: str, chat: str) -> str:
        return chat_moves(lambda current: self._moved.get((platform, current)), chat)[-1]

    # -- subscriptions ------------------------------------------------------------------------
    async def subscribe(self, subscription: Subscription) -> bool:
        key = (subscription.platform, subscription.chat)
        new = key not in self._subscriptions
        self._subscriptions[key] = subscription
        self._subscriptions_version += 1
        return new

    async def unsubscribe(self, platform: str, chat: str) -> bool:
        removed = self._subscriptions.pop((platform, chat), None) is not None
        self._subscriptions_version += removed
        return removed

    async def subscriptions(self) -> list[Subscription]:
        return [self._subscriptions[key] for key in sorted(self._subscriptions)]

    async def subscriptions_version(self) -> str:
        return str(self._subscriptions_version)

    # -- deduplication ------------------------------------------------------------------------
    async def first_seen(self, token: str, ttl: float) -> bool:
        now = time.monotonic()
        expiry = self._seen.get(token)
        if expiry is not None and expiry > now:
            return False
        if len(self._seen) >= self._prune_seen_at:
            # Forget expired tokens now and then so a long-lived process does not grow without end.
            self._seen = {seen: until for seen, until in self._seen.items() if until > now}
            self._prune_seen_at = max(1024, 2 * len(self._seen))
        self._seen[token] = now + ttl
        return True
