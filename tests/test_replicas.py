"""Three `digestbot run` replicas on one Redis: exactly once together, takeover after a kill, a Redis restart."""

from __future__ import annotations

import asyncio
import collections
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.procs import (
    BotGroup,
    BotProcess,
    ChannelSpec,
    Fakes,
    MultiPartDigest,
    PersistentRedis,
    bot_config,
    complete,
    drop_keys,
    duplicated_parts,
    fanout_channels,
    missing,
    parts_in_flight,
    schedule_just_passed,
    wait_until,
    write_config,
    write_multipart_digest,
)

pytestmark = [pytest.mark.slow, pytest.mark.redis]

REPLICAS = 3
CHANNELS = 300
# Bot and fakes both run the platforms' limits this many times faster. The replicas keep every
# platform limit once, together, in Redis.
SCALE = 4.0
# Long enough that no live owner loses its lease while the fan-out competes for two cores.
STEADY_LEASE_TTL = 30.0
# Short, so the survivors take over a dead replica's channels within seconds.
TAKEOVER_LEASE_TTL = 3.0


class Fanout:
    """One digest to many channels, and the replicas sending it."""

    def __init__(self, tmp_path: Path, fakes: Fakes, bots: BotGroup, store: str, prefix: str,
                 channels: int = CHANNELS, lease_ttl: float = STEADY_LEASE_TTL) -> None:
        self.tmp_path = tmp_path
        self.fakes = fakes
        self.bots = bots
        self.store = store
        self.prefix = prefix
        self.lease_ttl = lease_ttl
        self.channels: list[ChannelSpec] = fanout_channels(channels)
        schedule, self.digest_date = schedule_just_passed("UTC")
        self.digest: MultiPartDigest = write_multipart_digest(tmp_path / "digests", self.digest_date)
        self.schedule = schedule
        self.messages = sum(len(self.digest.expected(channel)) for channel in self.channels)

    async def start(self, replica: int) -> BotProcess:
        config = write_config(self.tmp_path / f"replica-{replica}.yaml", bot_config(
            self.tmp_path, store=self.store, store_prefix=self.prefix, channels=self.channels,
            schedule=self.schedule, fakes=self.fakes, scale=SCALE, lease_ttl=self.lease_ttl))
        return await self.bots.start("run", config, log_name=f"replica-{replica}.log")

    def complete(self) -> bool:
        return complete(self.fakes, self.digest, self.channels)

    async def wait_complete(self, processes: list[BotProcess], within: float = 120.0) -> None:
        await wait_until(self.complete, within=within, processes=processes,
                         what=f"every channel complete (still missing: "
                              f"{missing(self.fakes, self.digest, self.channels)})")

    def duplicates(self) -> dict[str, list[int]]:
        """Channel -> parts received twice; fails if any channel lacks a part or got them out of order."""
        found: dict[str, list[int]] = {}
        for channel in self.channels:
            try:
                repeats = duplicated_parts(self.digest.expected(channel), self.fakes.received(channel))
            except AssertionError as error:
                raise AssertionError(f"{channel.name} ({channel.platform} {channel.chat}): {error}") from None
            if repeats:
                found[channel.name] = repeats
        return found


async def stop_cleanly(processes: list[BotProcess]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        assert await process.wait_exit() == 0, process.tail()


@pytest.fixture
async def shared_redis(redis_url: str, redis_prefix: str) -> AsyncIterator[tuple[str, str]]:
    """The shared Redis and a prefix of this test's own, whose keys are deleted afterwards."""
    try:
        yield redis_url, redis_prefix
    finally:
        await drop_keys(redis_url, redis_prefix)


async def test_three_replicas_deliver_and_correct_every_part_exactly_once(tmp_path: Path,
                                                                         shared_redis: tuple[str, str]) -> None:
    redis_url, redis_prefix = shared_redis
    async with Fakes(scale=SCALE) as fakes, BotGroup(tmp_path) as bots:
        fanout = Fanout(tmp_path, fakes, bots, redis_url, redis_prefix)
        replicas = [await fanout.start(replica) for replica in range(REPLICAS)]
        await fanout.wait_complete(replicas)
        assert fanout.duplicates() == {}
        assert fakes.total_received() == fanout.messages
        # The publisher fixes the first headline (same length, so the parts still line up).
        day = fanout.digest_date
        fixed = fanout.digest.corrected(f"[Headline 1 for {day}", f"[HEADLINE 1 for {day}")
        await wait_until(lambda: all(fakes.received(c) == fixed.expected(c) for c in fanout.channels), within=120,
                         processes=replicas, what="every channel corrected in place")
        await stop_cleanly(replicas)

    assert fakes.total_received() == fanout.messages, "corrected in place: no message was added"
    edited = collections.Counter((edit.chat_id, edit.message_id) for edit in fakes.telegram.edits)
    updated = collections.Counter((str(update["channel"]), str(update["ts"])) for update in fakes.slack.updates)
    changed = sum(a != b for c in fanout.channels
                  for a, b in zip(fanout.digest.expected(c), fixed.expected(c), strict=True))
    assert set(edited.values()) | set(updated.values()) == {1}, "a part edited twice"
    assert len(edited) + len(updated) == changed
    # Each delivery was carried out by exactly one replica, as the replicas themselves report it.
    delivered_by = collections.Counter(name for replica in replicas for name in replica.delivered_channels())
    assert delivered_by == collections.Counter(channel.name for channel in fanout.channels)
    print(f"deliveries per replica: {[len(replica.delivered_channels()) for replica in replicas]}, "
          f"429s answered by the fakes: {len(fakes.telegram.rate_limited)} telegram, "
          f"{sum(fakes.slack.rate_limited.values())} slack")


async def test_survivors_finish_the_channels_of_a_killed_replica(tmp_path: Path,
                                                                 shared_redis: tuple[str, str]) -> None:
    redis_url, redis_prefix = shared_redis
    async with Fakes(scale=SCALE) as fakes, BotGroup(tmp_path) as bots:
        fanout = Fanout(tmp_path, fakes, bots, redis_url, redis_prefix, lease_ttl=TAKEOVER_LEASE_TTL)
        replicas = [await fanout.start(replica) for replica in range(REPLICAS)]
        victim, survivors = replicas[0], replicas[1:]
        await wait_until(lambda: victim.delivered_channels() != []
                         and fakes.total_received() >= fanout.messages // 3,
                         within=60, processes=replicas, what="a third of the fan-out, some of it by replica 0")
        victim.kill()
        assert await victim.wait_exit() == -signal.SIGKILL
        # Taken while the survivors go on: a superset of what the dead replica had in flight.
        in_flight = await parts_in_flight(redis_url, tmp_path, fanout.digest_date, fanout.channels, redis_prefix)
        assert not fanout.complete(), "the fan-out ended before the kill"
        await fanout.wait_complete(survivors)
        await stop_cleanly(survivors)

    duplicates = fanout.duplicates()
    for name, parts in duplicates.items():
        assert len(parts) == 1 and parts[0] in in_flight.get(name, set()), (
            f"{name} got parts {parts} twice; the ledger had {sorted(in_flight.get(name, set()))} in flight")
    # Nothing the survivors sent was sent twice by them: every repeat is a part the victim had on the wire.
    assert len(duplicates) <= len(in_flight)
    taken_over = {name for survivor in survivors for name in survivor.delivered_channels()} \
        & {name for name, parts in in_flight.items() if parts}
    print(f"killed replica had delivered {len(victim.delivered_channels())} channels; "
          f"{len(in_flight)} channels in flight at the kill, {len(taken_over)} of them finished by survivors; "
          f"duplicates: {sum(len(parts) for parts in duplicates.values())}")


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[PersistentRedis]:
    server = PersistentRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_fanout_completes_across_a_redis_restart(tmp_path: Path, persistent_redis: PersistentRedis) -> None:
    async with Fakes(scale=SCALE) as fakes, BotGroup(tmp_path) as bots:
        fanout = Fanout(tmp_path, fakes, bots, persistent_redis.url, "digestbot:", channels=100)
        replicas = [await fanout.start(replica) for replica in range(2)]
        await wait_until(lambda: fakes.total_received() >= fanout.messages // 4, within=60, processes=replicas,
                         what="a quarter of the fan-out")
        persistent_redis.stop()
        received_when_stopped = fakes.total_received()
        # An outage of a second or two: the bots' store calls ride it out with their own retries.
        await asyncio.sleep(1.5)
        persistent_redis.start()
        assert not fanout.complete(), "the fan-out ended before Redis went away"
        await fanout.wait_complete(replicas)
        await stop_cleanly(replicas)

    duplicates = fanout.duplicates()
    for name, parts in duplicates.items():
        assert len(parts) == 1, f"{name} got parts {parts} twice across one Redis restart"
    print(f"Redis stopped after {received_when_stopped} of {fanout.messages} messages; "
          f"duplicates after the restart: {sum(len(parts) for parts in duplicates.values())}")


def took_over(replica: BotProcess) -> bool:
    return any(str(record.get("msg", "")).startswith("resuming ") for record in replica.log_records())


async def test_a_paused_replica_does_not_send_after_its_leases_moved_on(tmp_path: Path,
                                                                        shared_redis: tuple[str, str]) -> None:
    """A stall longer than the lease (a frozen VM, a throttled container): the others take over, and the
    stalled replica, once it runs again, must not go on sending parts of deliveries it no longer holds."""
    redis_url, redis_prefix = shared_redis
    async with Fakes(scale=SCALE) as fakes, BotGroup(tmp_path) as bots:
        fanout = Fanout(tmp_path, fakes, bots, redis_url, redis_prefix, channels=100, lease_ttl=TAKEOVER_LEASE_TTL)
        replicas = [await fanout.start(replica) for replica in range(2)]
        paused, other = replicas
        await wait_until(lambda: paused.delivered_channels() != [] and fakes.total_received() >= fanout.messages // 4,
                         within=60, processes=replicas, what="a quarter of the fan-out, some of it by replica 0")
        paused.signal(signal.SIGSTOP)
        try:
            # The stall itself: longer than the lease, so the other replica may take over.
            await asyncio.sleep(TAKEOVER_LEASE_TTL * 1.5)
            await wait_until(lambda: took_over(other), within=60, processes=[other],
                             what="the other replica resuming a delivery of the paused one")
        finally:
            paused.signal(signal.SIGCONT)
        await fanout.wait_complete(replicas)
        # Whatever the resumed replica still had queued must reach no chat.
        await asyncio.sleep(TAKEOVER_LEASE_TTL)
        await stop_cleanly(replicas)

    # The resumed replica checks its lease before every part and again after any rate-limit wait,
    # right before the request goes out. A pause that falls between that last check and the socket
    # write cannot be fenced without the platform's help (Telegram and Slack take no fencing token),
    # so a part that was on its way may still arrive late, once, after the part the new owner sent
    # next. What must hold: every part arrives, first copies in order, at most one extra message per
    # chat, and nothing new from the stalled replica.
    extras = 0
    for channel in fanout.channels:
        expected = fanout.digest.expected(channel)
        received = fakes.received(channel)
        first_copies = list(dict.fromkeys(received))
        assert first_copies == expected, f"{channel.name}: parts out of order or missing: {received}"
        assert len(received) - len(expected) <= 1, f"{channel.name} got {len(received)} messages"
        extras += len(received) - len(expected)
    print(f"extra messages after a pause longer than the lease: {extras}")
