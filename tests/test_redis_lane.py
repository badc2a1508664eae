"""The script lane: answers as the client would give them, and every failure handed to the client's own path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.store.redis_lane import ScriptLane
from tests.conftest import RedisServer

pytestmark = pytest.mark.redis

ECHO = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}"
# Busy for a while on the server, then answers: long enough to cancel a caller between send and reply.
SLOW = """
local n = 0
for i = 1, tonumber(ARGV[1]) do n = n + 1 end
return 'slow'
"""
FAILS = "return redis.error_reply('the script says no')"
ARGUMENTS = "local out = {KEYS[1]} for i, value in ipairs(ARGV) do out[i + 1] = value end return out"


@pytest.fixture
async def client(private_redis: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(private_redis.url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def test_a_lane_call_answers_as_the_client_does(client: Redis) -> None:
    lane = ScriptLane(client)
    script = lane.script(ECHO)
    assert await script(keys=["k"], args=["a", 41]) == ["k", "a", 42]
    assert await client.register_script(ECHO)(keys=["k"], args=["a", 41]) == ["k", "a", 42]
    await lane.close()


async def test_the_lane_writes_every_argument_as_the_client_does(client: Redis) -> None:
    lane = ScriptLane(client)
    arguments = ["今日の要点 é", 7, -3, 1765060000.123456, 0.1, 1e-07, 1e20, "", "with space"]
    via_lane = await lane.script(ARGUMENTS)(keys=["键"], args=arguments)
    via_client = await client.register_script(ARGUMENTS)(keys=["键"], args=arguments)
    assert via_lane == via_client == ["键", "今日の要点 é", "7", "-3", "1765060000.123456", "0.1", "1e-07", "1e+20",
                                      "", "with space"]
    await lane.close()


async def test_a_script_the_server_forgot_is_loaded_again_and_answers(client: Redis) -> None:
    lane = ScriptLane(client)
    script = lane.script(ECHO)
    assert await script(keys=["k"], args=["a", 1]) == ["k", "a", 2]
    await client.script_flush()
    assert await script(keys=["k"], args=["b", 2]) == ["k", "b", 3]
    # Loaded again by the fallback: the lane's own connection finds it from now on.
    assert await script(keys=["k"], args=["c", 3]) == ["k", "c", 4]
    await lane.close()


async def test_a_script_error_reaches_the_caller_and_the_connection_stays_in_the_lane(client: Redis) -> None:
    lane = ScriptLane(client, size=1)
    failing, echo = lane.script(FAILS), lane.script(ECHO)
    await echo(keys=["k"], args=["warm", 0])
    with pytest.raises(ResponseError, match="the script says no"):
        await failing(keys=[], args=[])
    assert await echo(keys=["k"], args=["after", 0]) == ["k", "after", 1]
    await lane.close()


async def test_a_killed_connection_is_replaced_and_the_call_still_answers(client: Redis) -> None:
    lane = ScriptLane(client, size=1)
    echo = lane.script(ECHO)
    await echo(keys=["k"], args=["before", 0])
    killed = await client.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    assert await echo(keys=["k"], args=["after", 0]) == ["k", "after", 1]
    assert await echo(keys=["k"], args=["again", 0]) == ["k", "again", 1]
    await lane.close()


async def test_a_call_cancelled_before_its_reply_leaves_no_reply_for_the_next_caller(client: Redis) -> None:
    lane = ScriptLane(client, size=1)
    slow, echo = lane.script(SLOW), lane.script(ECHO)
    await slow(keys=[], args=[1])
    call = asyncio.ensure_future(slow(keys=[], args=[50_000_000]))
    await asyncio.sleep(0.05)        # sent; the server is still counting
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    # Had the connection gone back to the lane, this call would read 'slow' as its answer.
    assert await echo(keys=["k"], args=["next", 0]) == ["k", "next", 1]
    await lane.close()


async def test_calls_beyond_the_lanes_connections_wait_for_one(client: Redis) -> None:
    lane = ScriptLane(client, size=2)
    echo = lane.script(ECHO)
    await client.script_load(ECHO)
    before = len(await client.client_list())
    answers = await asyncio.gather(*(echo(keys=["k"], args=[str(n), n]) for n in range(20)))
    assert answers == [["k", str(n), n + 1] for n in range(20)]
    assert len(await client.client_list()) - before == 2
    await lane.close()
    assert len(await client.client_list()) == before


async def test_after_close_calls_go_through_the_client(client: Redis) -> None:
    lane = ScriptLane(client)
    echo = lane.script(ECHO)
    await echo(keys=["k"], args=["open", 0])
    await lane.close()
    assert await echo(keys=["k"], args=["closed", 0]) == ["k", "closed", 1]


async def test_a_reply_later_than_the_clients_socket_timeout_is_a_timeout_and_the_lane_goes_on(
        private_redis: RedisServer) -> None:
    client = Redis.from_url(private_redis.url, decode_responses=True, socket_timeout=0.2)
    lane = ScriptLane(client, size=1)
    slow, echo = lane.script(SLOW), lane.script(ECHO)
    try:
        await slow(keys=[], args=[1])
        await echo(keys=["k"], args=["warm", 0])
        # Past the deadline on the lane, then on the client's own path (which has the same timeout).
        with pytest.raises(RedisTimeoutError):
            await slow(keys=[], args=[200_000_000])
        await asyncio.sleep(1.5)        # the server finishes the script it was running
        assert await echo(keys=["k"], args=["after", 0]) == ["k", "after", 1]
    finally:
        await lane.close()
        await client.aclose()
