"""The hot scripts' round trip to Redis (a delivery's steps, rate-limit grants) on connections kept aside."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError, ResponseError

# A round trip's deadline when the client sets no socket timeout of its own.
LANE_TIMEOUT = 10.0
# Connections the lane keeps at most. At the rates the bot sends, a few calls at once are the rule (a
# round trip is ~0.2 ms), and 64 deliveries starting together queue only briefly.
LANE_CONNECTIONS = 16


class ScriptLane:
    """EVALSHA over a few connections of its own, without redis-py's per-command machinery.

    A script called through the client costs about 70 µs of CPU here, half of it in the layers
    every command goes through (pool checkout with its condition, a timeout context, the retry
    wrapper, the command's name looked up for the reply's callback); at two scripts per message
    that was as much CPU as a Slack post itself. The lane sends the packed command and reads the
    reply on a connection it holds, about 35 µs. Nothing of the client's guarantees is given up:
    the first failure of any kind (the connection lost or timed out, the script not cached on the
    server) hands the call to the client's own path, which reconnects, retries with backoff and
    loads the script, as it would have from the start. The scripts are written so that running
    one twice (a reply lost with its connection) gives the same answer as running it once.
    """

    def __init__(self, client: Redis, size: int = LANE_CONNECTIONS) -> None:
        self._client = client
        # Calls beyond `size` at once wait for a connection: a round trip frees one in well under a
        # millisecond, sooner than the client's own path would answer.
        self._slots = asyncio.Semaphore(size)
        self._timeout = client.connection_pool.connection_kwargs.get("socket_timeout") or LANE_TIMEOUT
        self._idle: list[AbstractConnection] = []
        self._closed = False

    def script(self, text: str) -> LaneScript:
        return LaneScript(self, self._client.register_script(text))

    async def evalsha(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        if self._closed:
            return await script(keys=keys, args=args)
        try:
            # hiredis writes the command in C: redis-py's own packer encodes each of a delivery
            # step's ~15 arguments in Python, a third of the call's cost. Both write a float as
            # repr() does.
            command = hiredis.pack_command(("EVALSHA", script.sha, len(keys), *keys, *args))
        except TypeError:
            # An argument hiredis cannot write: the client's path says which, as a DataError.
            return await script(keys=keys, args=args)
        async with self._slots:
            connection = self._idle.pop() if self._idle else self._connection()
            try:
                # One deadline for the round trip: a connection with a socket timeout of its own
                # would start a task to time the write (asyncio.wait_for) and a timer for the read.
                async with asyncio.timeout(self._timeout):
                    await connection.send_packed_command(command)
                    answer = await connection.read_response()
            except NoScriptError:
                self._idle.append(connection)
            except ResponseError:
                # The script raised: the connection read the whole error reply and stays usable.
                self._idle.append(connection)
                raise
            except BaseException as error:
                # Lost, timed out, or cancelled between sending and reading: a reply may still be on
                # its way, and whoever read this connection next would take it for theirs.
                await asyncio.shield(connection.disconnect(nowait=True))
                if not isinstance(error, RedisError | OSError):
                    raise
            else:
                self._idle.append(connection)
                return answer
        return await script(keys=keys, args=args)

    def _connection(self) -> AbstractConnection:
        # The pool's settings (address, credentials, health checks, decoding) without its accounting:
        # these connections are the lane's alone. Their round trip is timed by evalsha.
        pool = self._client.connection_pool
        settings = {**pool.connection_kwargs, "socket_timeout": None}
        connection: AbstractConnection = pool.connection_class(**settings)
        return connection

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.disconnect()


class LaneScript:
    """A registered script called through its lane: `await script(keys=[...], args=[...])`."""

    __slots__ = ("_lane", "_script")

    def __init__(self, lane: ScriptLane, script: AsyncScript) -> None:
        self._lane = lane
        self._script = script

    async def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        return await self._lane.evalsha(self._script, keys, args)
