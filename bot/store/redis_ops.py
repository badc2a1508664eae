"""The Redis side of what operators ask (`digestbot status`): failures, part times, lease holders, inactive-since."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from bot.store.base import DeliveryHistory, Failure, InactiveChat, LeaseHolder

# Fields of a delivery's ledger hash beside its `sent:N` ones (which `RedisStore.ledger` reads).
SENT_AT = "sent_at:"
FINISHED_AT = "finished_at"
FAILED = "failed"
FAILED_AT = "failed_at"
FINGERPRINT = "fingerprint"


async def record_failure(client: Redis, delivery_key: str, reason: str, retention: int) -> None:
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(delivery_key, mapping={FAILED: reason, FAILED_AT: time.time()})
        pipe.expire(delivery_key, retention)
        await pipe.execute()


async def delivery_history(client: Redis, delivery_key: str) -> DeliveryHistory:
    fields = {str(name): str(value) for name, value in (await client.hgetall(delivery_key)).items()}
    times = {int(name.removeprefix(SENT_AT)): float(value) for name, value in fields.items()
             if name.startswith(SENT_AT)}
    finished_at = fields.get(FINISHED_AT)
    failure = Failure(fields[FAILED], float(fields[FAILED_AT])) if FAILED in fields else None
    return DeliveryHistory(times, float(finished_at) if finished_at else None, failure)


async def lease_holder(client: Redis, lease_key: str, since_key: str) -> LeaseHolder | None:
    async with client.pipeline(transaction=True) as pipe:
        pipe.get(lease_key)
        pipe.get(since_key)
        pipe.pttl(lease_key)
        owner, since, ttl_ms = await pipe.execute()
    if owner is None or ttl_ms < 0:
        return None
    return LeaseHolder(str(owner), float(since) if since else None, time.time() + ttl_ms / 1000)


async def inactive_details(client: Redis, inactive_key: str, since_key: str) -> dict[str, InactiveChat]:
    """Hash field ("platform:chat") -> reason and since."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.hgetall(inactive_key)
        pipe.hgetall(since_key)
        reasons, since = await pipe.execute()
    return {field: InactiveChat(reason, float(since[field]) if field in since else None)
            for field, reason in reasons.items()}


async def mark_inactive(client: Redis, inactive_key: str, since_key: str, field: str, reason: str) -> None:
    # The first marking's time stays: a chat refused again is inactive since it was first refused.
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(inactive_key, field, reason)
        pipe.hsetnx(since_key, field, time.time())
        await pipe.execute()


async def reactivate(client: Redis, inactive_key: str, since_key: str, field: str) -> None:
    async with client.pipeline(transaction=True) as pipe:
        pipe.hdel(inactive_key, field)
        pipe.hdel(since_key, field)
        await pipe.execute()
