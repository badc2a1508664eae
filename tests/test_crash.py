"""A `digestbot run` SIGKILLed again and again during a fan-out loses no part and repeats at most the one in flight."""

from __future__ import annotations

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
    # channel -> parts begun but not recorded, as the ledger stood after each kill
    in_flight_at_kill: list[dict[str, set[int]]] = []

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
            assert not complete(fakes, digest, channels), f"the fan-out ended before kill {life + 1}"
            in_flight_at_kill.append(await parts_in_flight(store, tmp_path, digest_date, channels, prefix))

        last = await bots.start("run", config)
        await wait_until(lambda: complete(fakes, digest, channels), within=120, processes=[last],
                         what=f"every channel complete after {KILLS} kills "
                              f"(still missing: {missing(fakes, digest, channels)})")
        last.terminate()
        assert await last.wait_exit() == 0

    total_duplicates = 0
    for channel in channels:
        repeats = duplicated_parts(digest.expected(channel), fakes.received(channel))
        kills_in_flight = [kill for kill in in_flight_at_kill if channel.name in kill]
        assert len(repeats) <= len(kills_in_flight), (
            f"{channel.name} got parts {repeats} twice but had a part in flight at only "
            f"{len(kills_in_flight)} kill(s)")
        for part in repeats:
            assert any(part in kill[channel.name] for kill in kills_in_flight), (
                f"{channel.name} got part {part} twice, yet it was never in flight at a kill")
        total_duplicates += len(repeats)
    # A kill cuts off at most the sends on the wire, each of which is a part the ledger shows in flight.
    assert total_duplicates <= sum(len(kill) for kill in in_flight_at_kill)
    print(f"{store.split(':')[0]}: {KILLS} kills, duplicates {total_duplicates}, "
          f"channels in flight per kill {[len(kill) for kill in in_flight_at_kill]}")


async def test_sqlite_fanout_survives_ten_kills(tmp_path: Path) -> None:
    await crash_repeatedly(tmp_path, "sqlite:///./digestbot.db", "digestbot:", seed="sqlite-crash")


@pytest.mark.redis
async def test_redis_fanout_survives_ten_kills(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    await crash_repeatedly(tmp_path, redis_url, redis_prefix, seed="redis-crash")
