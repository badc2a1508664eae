"""The shared store for several replicas: Redis, every key under one prefix, every change atomic."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.secrets import mask_url
from bot.store import base, redis_ledger
from bot.store import redis_ops as ops
from bot.store import redis_scripts as scripts
from bot.store.base import MAX_CHAT_MOVES, DeliveryKey, LedgerEntry, Opening, Store, StoreError, Subscription
from bot.store.redis_lane import ScriptLane

T = TypeVar("T")

# Connections one process keeps to Redis at most; operations beyond it wait for a free one.
MAX_CONNECTIONS = 64
# How long an operation waits for a free connection before it fails as a store error.
POOL_WAIT_SECONDS = 20.0

# Ledger entries and finished-delivery sets live this long after their last change: long enough for
# any re-run of a recent digest to see them, short enough that keys do not pile up for ever.
DEFAULT_RETENTION = 14 * 24 * 3600

def _text(value: bytes | str) -> str:
    # Replies are decoded by the client already; the type stubs cannot know that.
    return value.decode() if isinstance(value, bytes) else value


def _version_token() -> str:
    return uuid.uuid4().hex


def _millis(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisStore(Store):
    """Redis through redis.asyncio, with retries that ride out a restart or a failover.

    Connection errors and timeouts are retried with exponential backoff (about 13 s in all by
    default) on fresh connections, and idle connections are checked before use, so a Redis that
    comes back within that time is never noticed by callers. Every script is written so that
    running it twice (a retry after a lost reply) gives the same answer as running it once.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "digestbot:",
        retention: float = DEFAULT_RETENTION,
        retries: int = 10,
        backoff_base: float = 0.05,
        backoff_cap: float = 2.0,
        health_check_interval: int = 10,
        ping_timeout: float = 3.0,
    ) -> None:
        self.prefix = prefix
        self.display_url = mask_url(url)
        self._retention = int(retention)
        self._ping_timeout = ping_timeout
        retry = Retry(ExponentialBackoff(cap=backoff_cap, base=backoff_base), retries)
        try:
            # A burst of deliveries (each with its lease keepers) can want more connections at once
            # than the pool holds; a blocking pool makes them wait their turn instead of failing
            # with "Too many connections" (redis-py's default pool raises at 100).
            pool = BlockingConnectionPool.from_url(
                url,
                max_connections=MAX_CONNECTIONS,
                timeout=POOL_WAIT_SECONDS,
                decode_responses=True,
                retry=retry,
                retry_on_error=[RedisConnectionError, RedisTimeoutError],
                health_check_interval=health_check_interval,
                socket_connect_timeout=5,
                socket_timeout=10,
            )
            self._client: Redis = Redis.from_pool(pool)
        except ValueError as error:
            # The parser's message may quote parts of the URL, the password among them.
            raise ValueError(f"invalid redis store URL {self.display_url!r}") from error
        # The scripts every delivery runs go through the lane; the rest through the client.
        self.lane = ScriptLane(self._client)
        self._claim = self._client.register_script(scripts.CLAIM)
        self._renew = self.lane.script(scripts.RENEW)
        self._release = self._client.register_script(scripts.RELEASE)
        self._begin_part = self._client.register_script(scripts.BEGIN_PART)
        self._mark_maybe_sent = self._client.register_script(scripts.MARK_MAYBE_SENT)
        self._resolve = self._client.register_script(scripts.RESOLVE)
        self._move = self._client.register_script(scripts.MOVE)
        self._unsubscribe = self._client.register_script(scripts.UNSUBSCRIBE)
        self._first_seen = self._client.register_script(scripts.FIRST_SEEN)
        self._swap_fingerprint = self._client.register_script(scripts.SWAP_FINGERPRINT)
        self._open_delivery = self.lane.script(scripts.OPEN_DELIVERY)
        self._plan_delivery = self.lane.script(scripts.PLAN_DELIVERY)
        self._record_sent = self.lane.script(scripts.RECORD_SENT)
        self._close_delivery = self.lane.script(scripts.CLOSE_DELIVERY)

    def __repr__(self) -> str:
        return f"RedisStore({self.display_url!r}, prefix={self.prefix!r})"

    async def _call(self, operation: Awaitable[T]) -> T:
        try:
            return await operation
        except RedisError as error:
            raise StoreError(f"redis store {self.display_url}: {error}") from error

    # -- key layout ---------------------------------------------------------------------------
    def _lease_key(self, name: str) -> str:
        return f"{self.prefix}lease:{name}"

    def _lease_keys(self, name: str) -> list[str]:
        return [self._lease_key(name), f"{self.prefix}lease-since:{name}"]

    def _delivery_key(self, key: DeliveryKey) -> str:
        return f"{self.prefix}delivery:{key}"

    def _in_flight_key(self, key: DeliveryKey) -> str:
        return f"{self.prefix}in-flight:{key}"

    def _finished_key(self, digest_date: dt.date) -> str:
        return f"{self.prefix}finished:{digest_date.isoformat()}"

    def _seen_key(self, token: str) -> str:
        return f"{self.prefix}seen:{token}"

    @property
    def _subscriptions_key(self) -> str:
        return f"{self.prefix}subscriptions"

    @property
    def _subscriptions_version_key(self) -> str:
        return f"{self.prefix}subscriptions-version"

    @property
    def _inactive_key(self) -> str:
        return f"{self.prefix}inactive"

    @property
    def _inactive_since_key(self) -> str:
        return f"{self.prefix}inactive-since"

    @property
    def _moved_key(self) -> str:
        return f"{self.prefix}moved"

    @staticmethod
    def _chat_field(platform: str, chat: str) -> str:
        # Hash fields are "platform:chat"; a platform name with a colon would make them ambiguous.
        if ":" in platform:
            raise ValueError(f"platform name {platform!r} must not contain ':'")
        return f"{platform}:{chat}"

    @staticmethod
    def _split_field(field: str) -> tuple[str, str]:
        platform, _, chat = field.partition(":")
        return platform, chat

    # -- lifecycle ----------------------------------------------------------------------------
    async def ping(self) -> None:
        # Readiness probes call this: answer within a bound instead of waiting out every retry.
        try:
            async with asyncio.timeout(self._ping_timeout):
                await self._call(self._client.ping())
        except TimeoutError as error:
            raise StoreError(f"redis store {self.display_url}: no answer within {self._ping_timeout:g}s") \
                from error

    async def close(self) -> None:
        await self._call(self.lane.close())
        await self._call(self._client.aclose())

    # -- leases -------------------------------------------------------------------------------
    async def claim(self, name: str, owner: str, ttl: float) -> bool:
        won = await self._call(self._claim(keys=self._lease_keys(name), args=[owner, _millis(ttl), time.time()]))
        return bool(won)

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        renewed = await self._call(self._renew(keys=self._lease_keys(name), args=[owner, _millis(ttl)]))
        return bool(renewed)

    async def release(self, name: str, owner: str) -> None:
        await self._call(self._release(keys=self._lease_keys(name), args=[owner]))

    # -- delivery ledger ----------------------------------------------------------------------
    async def ledger(self, key: DeliveryKey) -> LedgerEntry:
        async def read() -> tuple[dict[str, str], set[str]]:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hgetall(self._delivery_key(key))
                pipe.smembers(self._in_flight_key(key))
                fields, in_flight = await pipe.execute()
            return fields, in_flight

        fields, in_flight = await self._call(read())
        return redis_ledger.ledger_entry(fields, in_flight)

    async def begin_part(self, key: DeliveryKey, part: int, parts_total: int) -> None:
        await self._call(self._begin_part(
            keys=[self._delivery_key(key), self._in_flight_key(key)],
            args=[part, parts_total, self._retention]))

    async def record_part(self, key: DeliveryKey, part: int, message_id: str) -> None:
        async def record() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(self._delivery_key(key), mapping={f"sent:{part}": message_id,
                                                          f"{ops.SENT_AT}{part}": time.time()})
                pipe.expire(self._delivery_key(key), self._retention)
                pipe.srem(self._in_flight_key(key), str(part))
                await pipe.execute()

        await self._call(record())

    async def unmark_in_flight(self, key: DeliveryKey, part: int) -> None:
        await self._call(self._client.srem(self._in_flight_key(key), str(part)))

    # One script per step of a delivery: one round trip where the steps composed would take four.
    async def open_delivery(self, key: DeliveryKey, lease: str, owner: str, ttl: float, platform: str,
                            chat: str, chat_lease: str, parts_total: int) -> Opening:
        self._chat_field(platform, chat)
        keys = [*self._lease_keys(lease), self._delivery_key(key), self._in_flight_key(key), self._moved_key,
                self._inactive_key, *self._lease_keys(chat_lease)]
        answer = await self._call(self._open_delivery(
            keys=keys, args=[owner, _millis(ttl), time.time(), platform, chat, MAX_CHAT_MOVES, parts_total,
                             self._retention]))
        return redis_ledger.opening(answer, chat)

    async def plan_delivery(self, key: DeliveryKey, chat_lease: str, owner: str, ttl: float, parts_total: int,
                            first_part: int) -> bool:
        won = await self._call(self._plan_delivery(
            keys=[*self._lease_keys(chat_lease), self._delivery_key(key), self._in_flight_key(key)],
            args=[owner, _millis(ttl), time.time(), parts_total, first_part, self._retention]))
        return bool(won)

    async def record_sent(self, key: DeliveryKey, part: int, message_id: str, next_part: int | None) -> None:
        await self._call(self._record_sent(
            keys=[self._delivery_key(key), self._in_flight_key(key)],
            args=[part, message_id, time.time(), "" if next_part is None else next_part, self._retention]))

    async def close_delivery(self, key: DeliveryKey, owner: str, leases: Sequence[str], finished: bool,
                             never_sent: int | None = None, last_sent: tuple[int, str] | None = None,
                             fingerprint: str = "") -> None:
        keys = [self._delivery_key(key), self._in_flight_key(key), self._finished_key(key.digest_date)]
        for lease in leases:
            keys.extend(self._lease_keys(lease))
        await self._call(self._close_delivery(
            keys=keys, args=[owner, "1" if finished else "0", time.time(), self._retention, key.channel,
                             "" if never_sent is None else never_sent,
                             *(("", "") if last_sent is None else last_sent), fingerprint]))

    async def mark_maybe_sent(self, key: DeliveryKey, part: int) -> bool:
        marked = await self._call(self._mark_maybe_sent(
            keys=[self._delivery_key(key)], args=[part, uuid.uuid4().hex, self._retention]))
        return bool(marked)

    async def finish(self, key: DeliveryKey) -> None:
        async def finish() -> None:
            finished = self._finished_key(key.digest_date)
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(self._delivery_key(key), "finished", "1")
                pipe.hsetnx(self._delivery_key(key), ops.FINISHED_AT, time.time())
                pipe.expire(self._delivery_key(key), self._retention)
                pipe.sadd(finished, key.channel)
                pipe.expire(finished, self._retention)
                await pipe.execute()

        await self._call(finish())

    async def fingerprint(self, key: DeliveryKey) -> str:
        return str(await self._call(self._client.hget(self._delivery_key(key), ops.FINGERPRINT)) or "")

    async def swap_fingerprint(self, key: DeliveryKey, expected: str, new: str) -> bool:
        swapped = await self._call(self._swap_fingerprint(keys=[self._delivery_key(key)], args=[expected, new]))
        return bool(swapped)

    async def finished_deliveries(self, digest_date: dt.date) -> set[str]:
        channels = await self._call(self._client.smembers(self._finished_key(digest_date)))
        return {_text(channel) for channel in channels}

    # -- what operators ask -----------------------------------------------------------------------
    async def record_failure(self, key: DeliveryKey, reason: str) -> None:
        await self._call(ops.record_failure(self._client, self._delivery_key(key), reason, self._retention))

    async def delivery_history(self, key: DeliveryKey) -> base.DeliveryHistory:
        return await self._call(ops.delivery_history(self._client, self._delivery_key(key)))

    async def lease_holder(self, name: str) -> base.LeaseHolder | None:
        return await self._call(ops.lease_holder(self._client, *self._lease_keys(name)))

    async def inactive_details(self) -> dict[tuple[str, str], base.InactiveChat]:
        found = await self._call(ops.inactive_details(self._client, self._inactive_key, self._inactive_since_key))
        return {self._split_field(field): details for field, details in found.items()}

    # -- chat state ---------------------------------------------------------------------------
    async def mark_inactive(self, platform: str, chat: str, reason: str) -> None:
        await self._call(ops.mark_inactive(self._client, self._inactive_key, self._inactive_since_key,
                                           self._chat_field(platform, chat), reason))

    async def reactivate(self, platform: str, chat: str) -> None:
        await self._call(ops.reactivate(self._client, self._inactive_key, self._inactive_since_key,
                                        self._chat_field(platform, chat)))

    async def inactive_reason(self, platform: str, chat: str) -> str | None:
        reason = await self._call(self._client.hget(self._inactive_key, self._chat_field(platform, chat)))
        return None if reason is None else _text(reason)

    async def inactive_chats(self) -> dict[tuple[str, str], str]:
        fields = await self._call(self._client.hgetall(self._inactive_key))
        return {self._split_field(_text(field)): _text(reason) for field, reason in fields.items()}

    async def move_chat(self, platform: str, old_chat: str, new_chat: str) -> None:
        self._chat_field(platform, old_chat)
        if old_chat == new_chat:
            return
        await self._call(self._move(keys=[self._moved_key, self._subscriptions_key, self._subscriptions_version_key],
                                    args=[platform, old_chat, new_chat, MAX_CHAT_MOVES, _version_token()]))

    async def resolve_chat(self, platform: str, chat: str) -> str:
        self._chat_field(platform, chat)
        resolved = await self._call(self._resolve(keys=[self._moved_key], args=[platform, chat, MAX_CHAT_MOVES]))
        return str(resolved)

    # -- subscriptions ------------------------------------------------------------------------
    # The version is a fresh random token rather than a counter: a Redis that lost its data and counted
    # up again could otherwise repeat a version a replica has seen, with other subscriptions behind it.
    async def subscribe(self, subscription: Subscription) -> bool:
        # The (platform, chat) pair is the hash field; the value holds the rest.
        value = json.dumps({"schedule": subscription.schedule, "timezone": subscription.timezone,
                            "subscribed_by": subscription.subscribed_by, "categories": subscription.categories,
                            "topic": subscription.topic})
        field = self._chat_field(subscription.platform, subscription.chat)

        async def subscribe() -> bool:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(self._subscriptions_key, field, value)
                pipe.set(self._subscriptions_version_key, _version_token())
                added, _ = await pipe.execute()
            return bool(added)      # HSET counts the fields it added, not those it replaced

        return await self._call(subscribe())

    async def unsubscribe(self, platform: str, chat: str) -> bool:
        removed = await self._call(self._unsubscribe(
            keys=[self._subscriptions_key, self._subscriptions_version_key],
            args=[self._chat_field(platform, chat), _version_token()]))
        return bool(removed)

    async def subscriptions(self) -> list[Subscription]:
        fields = await self._call(self._client.hgetall(self._subscriptions_key))
        # Subscriptions made alike have the same value: each distinct one is parsed once and shared.
        details_of: dict[str, tuple[str | None, str | None, str, tuple[str, ...], str | None]] = {}
        platforms: dict[str, str] = {}
        found = []
        for field, raw in fields.items():
            platform, chat = self._split_field(_text(field))
            platform = platforms.setdefault(platform, platform)
            value = _text(raw)
            if value not in details_of:
                details: dict[str, Any] = json.loads(value)
                details_of[value] = (details.get("schedule"), details.get("timezone"),
                                     details.get("subscribed_by") or "", tuple(details.get("categories") or ()),
                                     details.get("topic"))
            found.append(Subscription(platform, chat, *details_of[value]))
        return sorted(found, key=lambda subscription: (subscription.platform, subscription.chat))

    async def subscriptions_version(self) -> str:
        return str(await self._call(self._client.get(self._subscriptions_version_key)) or "")

    # -- deduplication ------------------------------------------------------------------------
    async def first_seen(self, token: str, ttl: float) -> bool:
        fresh = await self._call(self._first_seen(keys=[self._seen_key(token)],
                                                  args=[uuid.uuid4().hex, _millis(ttl)]))
        return bool(fresh)
