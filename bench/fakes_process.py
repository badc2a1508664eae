"""The fake servers of bench/fanout.py in a process of their own, so a worker's CPU time is the sender's alone."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from bench import robots

TELEGRAM_TOKEN = "424242424:AAH-benchmark-token-not-a-real-one-xyz"
SLACK_TOKEN = "xoxb-bench-0000-not-a-real-token"


def serve_fakes(scale: float, conn: Connection) -> None:
    """Runs in a child process: both fakes, then answers "stats" and "stop" over `conn`."""
    asyncio.run(_serve_fakes(scale, conn))


async def _serve_fakes(scale: float, conn: Connection) -> None:
    from tests.fakes.fake_discord import FakeDiscord
    from tests.fakes.fake_slack import FakeSlack
    from tests.fakes.fake_telegram import FakeLimits, FakeTelegram

    telegram = FakeTelegram(TELEGRAM_TOKEN, limits=FakeLimits(scale=scale))
    slack = FakeSlack(token=SLACK_TOKEN)
    slack.scale(scale)
    discord = FakeDiscord(accept_any=True)
    discord.scale(scale)
    async with telegram, slack, discord, contextlib.AsyncExitStack() as stack:
        robot_fakes = await robots.start_fakes(stack, scale)
        conn.send({"telegram": telegram.base_url, "slack": slack.base_url, "discord": discord.url,
                   **robots.urls(robot_fakes)})
        loop = asyncio.get_running_loop()
        while True:
            request = await loop.run_in_executor(None, conn.recv)
            if request == "stop":
                break
            conn.send({
                "telegram_sent": telegram.total_sent(),
                "telegram_429": len(telegram.rate_limited),
                "slack_sent": len(slack.all_posts()),
                "slack_429": sum(slack.rate_limited.values()),
                "discord_sent": discord.total_posted(),
                "discord_429": sum(discord.rate_limited.values()),
                **robots.stats(robot_fakes),
            })
    conn.close()


class ServerProcess:
    """Runs `target(*args, conn)` in a spawned process that first sends what it serves at, then answers
    each request sent over the pipe until "stop"."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(target=target, args=(*args, child_conn), daemon=True)
        self._process.start()
        if not self._conn.poll(60):
            self._process.kill()
            raise RuntimeError("the fake servers did not start")
        self.served_at: Any = self._conn.recv()

    def ask(self, request: str) -> Any:
        self._conn.send(request)
        return self._conn.recv()

    def stop(self) -> None:
        try:
            self._conn.send("stop")
        except OSError:
            pass
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


class FakesProcess(ServerProcess):
    def __init__(self, scale: float) -> None:
        super().__init__(serve_fakes, scale)
        self.urls: dict[str, str] = self.served_at

    def stats(self) -> dict[str, int]:
        result: dict[str, int] = self.ask("stats")
        return result
