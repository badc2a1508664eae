"""Crashes and stops mid fan-out: SIGKILLs lose no part and repeat only parts in flight; SIGTERM/SIGINT repeat none."""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.procs import (
    BotGroup,
    Fakes,
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

pytestmark = pytest.mark.slow

CHANNELS = 100
KILLS = 10
# Bot and fakes both run Telegram's and Slack's limits this many times faster.
SCALE = 2.0
# Each life of the process sees between 1 and this many new messages arrive before it is killed;
# ten lives then cover well under the fan-out's 250 messages, so every kill lands mid-flow.
MAX_MESSAGES_PER_LIFE = 12


def flowing(fakes: Fakes, more: int) -> Callable[[], bool]:
    """True once `more` messages beyond those received so far have arrived."""
    wanted = fakes.total_received() + more
    return lambda: fakes.total_received() >= wanted


async def crash_repeatedly(tmp_path: Path, store: str, prefix: str, seed: str) -> None:
    rng = random.Random(seed)
    channels = fanout_channels(CHANNELS)
    schedule, digest_date = schedule_just_passed("UTC")
    digest = write_multipart_digest(tmp_path / "digests", digest_date)
    # After each kill: channel -> parts begun but not recorded, as the ledger stood ...
    in_flight_at_kill: list[dict[str, set[int]]] = []
    # ... and channel -> messages it had received by then, which tells which life sent each message.
    received_at_kill: list[dict[str, int]] = []

    async with Fakes(scale=SCALE) as fakes, BotGroup(tmp_path) as bots:
        config = write_config(tmp_path / "digestbot.yaml", bot_config(
            tmp_path, store=store, store_prefix=prefix, channels=channels, schedule=schedule, fakes=fakes,
            scale=SCALE, lease_ttl=2.0))
        for life in range(KILLS):
            bot = await bots.start("run", config)
            await wait_until(flowing(fakes, rng.randint(1, MAX_MESSAGES_PER_LIFE)), within=60,
                             what=f"messages flowing in life {life}", processes=[bot])
            bot.kill()
            assert await bot.wait_exit() == -signal.SIGKILL
            await settled(fakes)
            assert not complete(fakes, digest, channels), f"the fan-out ended before kill {life + 1}"
            in_flight_at_kill.append(await parts_in_flight(store, tmp_path, digest_date, channels, prefix))
            received_at_kill.append({channel.name: len(fakes.received(channel)) for channel in channels})

        last = await bots.start("run", config)
        await wait_until(lambda: complete(fakes, digest, channels), within=120, processes=[last],
                         what=f"every channel complete after {KILLS} kills "
                              f"(still missing: {missing(fakes, digest, channels)})")
        last.terminate()
        assert await last.wait_exit() == 0

    duplicates_per_kill = [0] * KILLS
    for channel in channels:
        expected, received = digest.expected(channel), fakes.received(channel)
        duplicated_parts(expected, received)     # every part, in order, repeats only right after themselves
        for position in range(len(received) - 1):
            if received[position] != received[position + 1]:
                continue
            # The first copy went out in some life and was never recorded: that life must have ended in
            # a kill with this very part in flight, and a life leaves at most one such part per chat.
            kill = next((n for n, counts in enumerate(received_at_kill) if position < counts[channel.name]), None)
            part = expected.index(received[position])
            assert kill is not None, f"{channel.name}: part {part} sent twice by the run that was not killed"
            assert part in in_flight_at_kill[kill].get(channel.name, set()), (
                f"{channel.name}: part {part} sent twice, but it was not in flight at kill {kill + 1}")
            earlier = received_at_kill[kill - 1][channel.name] if kill else 0
            assert sum(received[n] == received[n + 1] for n in range(earlier, position)) == 0, (
                f"{channel.name}: more than one duplicate from kill {kill + 1}")
            duplicates_per_kill[kill] += 1
    for kill, duplicates in enumerate(duplicates_per_kill):
        assert duplicates <= len(in_flight_at_kill[kill])
    print(f"{store.split(':')[0]}: {KILLS} kills; duplicates per kill {duplicates_per_kill} "
          f"(total {sum(duplicates_per_kill)}); chats with a part in flight per kill "
          f"{[len(kill) for kill in in_flight_at_kill]}")


async def settled(fakes: Fakes, quiet: float = 0.3) -> None:
    """Let the fakes finish requests a killed process had already written to its sockets."""
    count = -1
    while count != fakes.total_received():
        count = fakes.total_received()
        await asyncio.sleep(quiet)


async def test_sqlite_fanout_survives_ten_kills(tmp_path: Path) -> None:
    await crash_repeatedly(tmp_path, "sqlite:///./digestbot.db", "digestbot:", seed="sqlite-crash")


@pytest.mark.redis
async def test_redis_fanout_survives_ten_kills(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    try:
        await crash_repeatedly(tmp_path, redis_url, redis_prefix, seed="redis-crash")
    finally:
        await drop_keys(redis_url, redis_prefix)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_mid_fanout_hands_over_without_loss_or_repeat(tmp_path: Path,
                                                                          signum: signal.Signals) -> None:
    channels = fanout_channels(60)
    schedule, digest_date = schedule_just_passed("UTC")
    digest = write_multipart_digest(tmp_path / "digests", digest_date)
    async with Fakes(scale=SCALE) as fakes, BotGroup(tmp_path) as bots:
        # Leases far longer than the test may take: the second run can only proceed at once if the
        # first one released every lease on its way out.
        config = write_config(tmp_path / "digestbot.yaml", bot_config(
            tmp_path, store="sqlite:///./digestbot.db", channels=channels, schedule=schedule, fakes=fakes,
            scale=SCALE, lease_ttl=600))
        first = await bots.start("run", config)
        await wait_until(flowing(fakes, 20), within=60, what="messages flowing", processes=[first])
        first.signal(signum)
        # Documented bound: exit within 10 s of the signal; wait_exit allows 15 s for a noisy machine.
        assert await first.wait_exit() == 0, first.tail()
        assert not complete(fakes, digest, channels), "the fan-out ended before the signal"
        stopped_at = fakes.total_received()

        second = await bots.start("run", config)
        await wait_until(lambda: complete(fakes, digest, channels), within=60, processes=[second],
                         what=f"every channel complete after a restart (still missing: "
                              f"{missing(fakes, digest, channels)})")
        second.terminate()
        assert await second.wait_exit() == 0

    for channel in channels:
        assert duplicated_parts(digest.expected(channel), fakes.received(channel)) == [], channel.name
    print(f"{signum.name} after {stopped_at} of {sum(len(digest.expected(c)) for c in channels)} messages; "
          "no part repeated")
