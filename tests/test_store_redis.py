"""The redis store beyond the contract: riding out restarts, its key layout and expiry, no leaked secrets."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
import redis

from bot.store import DeliveryKey, StoreError, Subscription, open_store
from bot.store.redis import RedisStore
from tests.conftest import RedisServer, free_port

pytestmark = pytest.mark.redis

DAY = dt.date(2025, 9, 25)


async def test_same_store_keeps_working_after_redis_restarts(private_redis: RedisServer,
                                                              tmp_path: Path) -> None:
    store = open_store(private_redis.url, tmp_path, prefix="digestbot-restart:")
    try:
        await store.subscribe(Subscription("telegram", "-100", "09:30"))
        assert await store.claim("lease:a", "alpha", 30)

        private_redis.stop()
        private_redis.start()

        # Nothing is kept on disk, so the data is gone; the point is that no error reaches us.
        await store.ping()
        assert await store.claim("lease:a", "alpha", 30)        # a script the new server never saw
        await store.begin_part(DeliveryKey(DAY, "ai-news"), 0, 2)
        await store.record_part(DeliveryKey(DAY, "ai-news"), 0, "m-0")
        assert (await store.ledger(DeliveryKey(DAY, "ai-news"))).sent == {0: "m-0"}   # a transaction
        await store.subscribe(Subscription("slack", "C01"))
        assert Subscription("slack", "C01") in await store.subscriptions()
    finally:
        await store.close()


async def test_call_made_while_redis_is_down_completes_when_it_is_back(private_redis: RedisServer,
                                                                        tmp_path: Path) -> None:
    store = open_store(private_redis.url, tmp_path, prefix="digestbot-outage:")
    try:
        await store.subscribe(Subscription("telegram", "-100"))
        private_redis.stop()

        pending = asyncio.create_task(store.subscribe(Subscription("telegram", "-200", "07:00")))
        await asyncio.sleep(0.3)
        assert not pending.done(), "the call should be waiting for Redis, not failing"

        await asyncio.to_thread(private_redis.start)
        await asyncio.wait_for(pending, 60)
        assert await store.subscriptions() == [Subscription("telegram", "-200", "07:00")]
    finally:
        await store.close()


async def test_unreachable_redis_raises_store_error_without_the_password() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    store = RedisStore(url, prefix="digestbot-down:", retries=1, backoff_base=0.01, backoff_cap=0.02)
    try:
        with pytest.raises(StoreError) as raised:
            await store.claim("lease:a", "alpha", 30)
        message = str(raised.value)
        assert "hunter2" not in message
        assert "\n" not in message
        assert "redis://:***@127.0.0.1" in message
        assert "hunter2" not in repr(store)
        with pytest.raises(StoreError):
            await store.ping()
    finally:
        await store.close()


async def test_every_key_lives_under_the_prefix_and_ledger_keys_expire(private_redis: RedisServer,
                                                                       tmp_path: Path) -> None:
    prefix = "digestbot-layout:"
    retention = 3600
    store = RedisStore(private_redis.url, prefix=prefix, retention=retention)
    key = DeliveryKey(DAY, "telegram:-100")
    try:
        assert await store.claim("lease:2025-09-25/telegram:-100", "alpha", 30)
        await store.begin_part(key, 0, 2)
        await store.record_part(key, 0, "m-0")
        await store.begin_part(key, 1, 2)
        assert await store.mark_maybe_sent(key, 1)
        assert await store.mark_maybe_sent(DeliveryKey(DAY, "slack:C02"), 0)   # a mark alone
        await store.finish(key)
        await store.mark_inactive("slack", "C01", "archived")
        await store.move_chat("telegram", "-100", "-200")
        await store.subscribe(Subscription("telegram", "-300"))
        assert await store.first_seen("Ev01", 30)
    finally:
        await store.close()

    inspector = redis.Redis.from_url(private_redis.url, decode_responses=True)
    try:
        keys = set(inspector.scan_iter(count=1000))
        assert keys == {
            f"{prefix}lease:lease:2025-09-25/telegram:-100",
            f"{prefix}lease-since:lease:2025-09-25/telegram:-100",
            f"{prefix}delivery:2025-09-25/telegram:-100",
            f"{prefix}delivery:2025-09-25/slack:C02",
            f"{prefix}in-flight:2025-09-25/telegram:-100",
            f"{prefix}finished:2025-09-25",
            f"{prefix}inactive",
            f"{prefix}inactive-since",
            f"{prefix}moved",
            f"{prefix}subscriptions",
            f"{prefix}subscriptions-version",
            f"{prefix}seen:Ev01",
        }
        for ledger_key in (f"{prefix}delivery:2025-09-25/telegram:-100",
                           f"{prefix}delivery:2025-09-25/slack:C02",
                           f"{prefix}in-flight:2025-09-25/telegram:-100",
                           f"{prefix}finished:2025-09-25"):
            assert 0 < inspector.ttl(ledger_key) <= retention, ledger_key
        for lasting in ("inactive", "inactive-since", "moved", "subscriptions", "subscriptions-version"):
            assert inspector.ttl(f"{prefix}{lasting}") == -1, "chat state and subscriptions never expire"
    finally:
        inspector.close()


async def test_platform_names_with_a_colon_are_refused() -> None:
    # Hash fields are "platform:chat"; no connection is needed to refuse an ambiguous one.
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", prefix="digestbot-unused:")
    try:
        with pytest.raises(ValueError, match="must not contain ':'"):
            await store.subscribe(Subscription("tele:gram", "-100"))
    finally:
        await store.close()


async def test_ping_gives_up_within_its_timeout_while_other_calls_keep_retrying(
        private_redis: RedisServer) -> None:
    store = RedisStore(private_redis.url, prefix="digestbot-probe:", ping_timeout=0.3)
    try:
        await store.ping()
        private_redis.stop()
        pending = asyncio.create_task(store.first_seen("Ev01", 30))
        with pytest.raises(StoreError, match=r"no answer within 0\.3s"):
            await store.ping()
        assert not pending.done(), "a readiness probe must not cut other calls short"
        await asyncio.to_thread(private_redis.start)
        assert await asyncio.wait_for(pending, 60)
        await store.ping()
    finally:
        await store.close()


async def test_more_concurrent_operations_than_connections_wait_their_turn(redis_url: str, redis_prefix: str) -> None:
    # A burst of deliveries with their lease keepers once exhausted redis-py's default pool, which
    # raises "Too many connections" instead of waiting; every operation here must succeed.
    from bot.store.redis import MAX_CONNECTIONS

    store = RedisStore(redis_url, prefix=redis_prefix)
    try:
        names = [f"lease:burst-{index}" for index in range(MAX_CONNECTIONS * 5)]
        claimed = await asyncio.gather(*(store.claim(name, "alpha", 30) for name in names))
        assert all(claimed)
        renewed = await asyncio.gather(*(store.renew(name, "alpha", 30) for name in names))
        assert all(renewed)
        await asyncio.gather(*(store.release(name, "alpha") for name in names))
    finally:
        await store.close()
