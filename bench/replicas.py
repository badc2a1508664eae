"""Replicas on one Redis: do 1 and 3 `digestbot run` processes together reach Telegram's ceiling, never past it?

    python bench/replicas.py [--chats 3000] [--scale 4] [--redis redis://127.0.0.1:6379/15] [--skip-paid | --paid-only]
                             [--in-flight N] [--poll-interval SECONDS]

Each run starts the fake Bot API in a process of its own (limits sped up `--scale` times), then 1 or 3
`digestbot run` replicas sharing one Redis (a fresh key prefix, removed afterwards), every one configured
with the same `--chats` Telegram chats (30 % groups) on a schedule that has just passed, so they start
the fan-out of a 3-part digest at once and compete for its deliveries. The run ends when the fake has
every part.

- 429s: flood-control answers the fake gave (it counts arrivals, as Telegram does).
- exactly once: chats whose parts arrived each once and in order, out of all.
- achieved ÷ allowed: messages per second between the first and the last arrival, divided by the
  overall ceiling (30 × scale a second; with `paid_broadcast` 1,000 × scale).
- paid rows: the same fan-out with `telegram.paid_broadcast: true`; the ceiling is then far above what
  the processes can send, so their rate shows what CPU and the deliveries in flight allow.
- first: seconds from the first replica's start to the first arrival (start-up, claims, first grant).
- under each row, every replica: the deliveries it made, the CPU seconds it spent between the first
  arrival and the last, and its messages per CPU second. Flat from 1 to 3 replicas means the work
  spreads and nothing serialises them; the rate of three is then what the cores left over by the
  fake and Redis allow.

The replicas poll for digests (and so sweep every channel for corrections) at the service's default
interval, 5 minutes: at the tests' one second, each of 3 replicas spent two thirds of its CPU
re-checking 3,000 delivered channels every second. `--poll-interval 1` brings that back.

The fake skips its tdlib check of each message's formatting here (the render tests do that): its own
CPU must not be what limits the rate. It freezes its heap as it grows (every message it keeps is live),
so no full garbage collection of it pauses its event loop: a pause of 80 ms stamped the requests that
had waited meanwhile all at once, and a fake counting arrivals then answered 429 to a bot that had
spaced them evenly. Replicas, fake and Redis share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fakes_process import TELEGRAM_TOKEN as TOKEN  # noqa: E402
from bench.fakes_process import ServerProcess  # noqa: E402
from bot.digest.parse import parse_file  # noqa: E402
from bot.digest.sources import DigestSettings  # noqa: E402
from bot.platforms.telegram.html import render_digest  # noqa: E402
from tests.digests import write_digest  # noqa: E402
from tests.procs import BotGroup, BotProcess, bot_config, drop_keys, schedule_just_passed, write_config  # noqa: E402

GROUP_SHARE = 0.3
PARTS = 3
SERVICE_POLL_INTERVAL = DigestSettings().poll_interval


# -- the fake Bot API, in its own process --------------------------------------------------------

def serve_fake(scale: float, expected: list[str], conn: Connection) -> None:
    asyncio.run(_serve_fake(scale, expected, conn))


async def _serve_fake(scale: float, expected: list[str], conn: Connection) -> None:
    from tests.fakes.fake_telegram import FakeLimits, FakeTelegram

    fake = FakeTelegram(TOKEN, limits=FakeLimits(scale=scale), check_send_message=lambda params: None)
    async with fake:
        conn.send(fake.base_url)
        loop = asyncio.get_running_loop()
        while (request := await loop.run_in_executor(None, conn.recv)) != "stop":
            gc.freeze()
            conn.send(_stats(fake, expected) if request == "final" else {"sent": fake.total_sent()})
    conn.close()


def _stats(fake: Any, expected: list[str]) -> dict[str, Any]:
    arrivals = sorted(message.at for messages in fake.sent.values() for message in messages)
    exact = sum(1 for messages in fake.sent.values()
                if [str(message.params.get("text")) for message in messages] == expected)
    return {"sent": len(arrivals), "first": arrivals[0] if arrivals else 0.0,
            "last": arrivals[-1] if arrivals else 0.0, "exact": exact, "chats": len(fake.sent),
            "429": len(fake.rate_limited), "429_kinds": dict(Counter(kind for _, kind in fake.rate_limited))}


class FakeProcess(ServerProcess):
    def __init__(self, scale: float, expected: list[str]) -> None:
        super().__init__(serve_fake, scale, expected)
        self.base_url: str = self.served_at


# -- one run ------------------------------------------------------------------------------------------

def chats_for(count: int) -> list[str]:
    groups = round(count * GROUP_SHARE)
    return [str(-1_001_000_000_000 - n) for n in range(groups)] + [str(10_000 + n) for n in range(count - groups)]


def three_part_digest(folder: Path, schedule_date: Any) -> list[str]:
    """Writes a digest that Telegram gets in exactly three messages; their texts."""
    for items in range(20, 80, 2):
        path = write_digest(folder, schedule_date, items=items, summary_sentences=5)
        texts = [str(payload["text"]) for payload in render_digest(parse_file(path))]
        if len(texts) == PARTS:
            return texts
    raise SystemExit("no digest size renders to three Telegram messages")


def replica_config(workdir: Path, chats: list[str], base_url: str, *, redis: str, prefix: str, scale: float,
                   paid: bool, schedule: str, in_flight: int | None = None,
                   poll_interval: float = SERVICE_POLL_INTERVAL) -> dict[str, Any]:
    config = bot_config(workdir, store=redis, channels=[], schedule=schedule, store_prefix=prefix, lease_ttl=30.0,
                        poll_interval=poll_interval)
    if in_flight is not None:
        config["delivery"]["in_flight"] = in_flight
    config["channels"] = [{"name": f"tg-{index:05d}", "platform": "telegram", "chat": chat, "schedule": schedule}
                          for index, chat in enumerate(chats)]
    config["telegram"] = {"token": TOKEN, "base_url": base_url, "updates": "off", "rate_limit_scale": scale,
                          "paid_broadcast": paid}
    return config


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a running process so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_for_every_part(fake: FakeProcess, total: int, processes: list[BotProcess],
                              within: float) -> list[float]:
    """Waits until the fake has `total` parts; each replica's CPU seconds from the first arrival on."""
    deadline = time.monotonic() + within
    at_first: list[float] | None = None
    while (sent := fake.ask("sent")["sent"]) < total:
        if at_first is None and sent:
            at_first = [cpu_seconds(process.pid) for process in processes]
        if time.monotonic() > deadline:
            raise SystemExit(f"the fan-out did not finish within {within:.0f} s")
        if any(process.returncode is not None for process in processes):
            raise SystemExit("a replica exited:\n" + next(p.tail() for p in processes if p.returncode is not None))
        await asyncio.sleep(0.25)
    at_last = [cpu_seconds(process.pid) for process in processes]
    return [last - first for first, last in zip(at_first or [0.0] * len(processes), at_last, strict=True)]


async def run(replicas: int, chats: list[str], *, redis: str, scale: float, paid: bool,
              in_flight: int | None = None, poll_interval: float = SERVICE_POLL_INTERVAL) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="digestbot-replicas-") as folder:
        workdir = Path(folder)
        schedule, digest_date = schedule_just_passed("UTC")
        expected = three_part_digest(workdir / "digests", digest_date)
        prefix = f"digestbot-bench-{uuid.uuid4().hex[:12]}:"
        fake = FakeProcess(scale, expected)
        try:
            async with BotGroup(workdir) as bots:
                processes = []
                for replica in range(replicas):
                    config = write_config(workdir / f"replica-{replica}.yaml", replica_config(
                        workdir, chats, fake.base_url, redis=redis, prefix=prefix, scale=scale, paid=paid,
                        schedule=schedule, in_flight=in_flight, poll_interval=poll_interval))
                    processes.append(await bots.start("run", config, log_name=f"replica-{replica}.log"))
                cpu = await wait_for_every_part(fake, len(chats) * PARTS, processes, within=1800)
            result: dict[str, Any] = fake.ask("final")
            result["started"] = processes[0].started
            result["replicas"] = [(len(process.delivered_channels()), seconds)
                                  for process, seconds in zip(processes, cpu, strict=True)]
            return result
        finally:
            fake.stop()
            await drop_keys(redis, prefix)


# -- the driver -----------------------------------------------------------------------------------

def report(label: str, result: dict[str, Any], ceiling: float) -> None:
    elapsed = max(result["last"] - result["first"], 1e-9)
    rate = (result["sent"] - 1) / elapsed
    print(f"{label:<22} {result['sent']:>6} {elapsed:>7.1f} {rate:>8.1f} {ceiling:>8.0f} {rate / ceiling:>9.3f} "
          f"{result['429']:>5} {result['exact']:>6}/{result['chats']:<6} {result['first'] - result['started']:>5.1f}"
          + (f" 429s by window: {result['429_kinds']}" if result["429"] else ""), flush=True)
    for index, (deliveries, cpu) in enumerate(result["replicas"]):
        per_cpu = f"{deliveries * PARTS / cpu:>6.0f} msg/cpu-s" if cpu > 0 else ""
        print(f"    replica {index}: {deliveries:>6} deliveries {cpu:>6.1f} cpu-s {per_cpu}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--chats", type=int, default=3000, help="Telegram chats (default 3000)")
    parser.add_argument("--scale", type=float, default=4.0, help="speed-up of Telegram's limits (default 4)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15", help="the Redis the replicas share")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--skip-paid", action="store_true", help="leave out the paid_broadcast runs")
    which.add_argument("--paid-only", action="store_true", help="only the paid_broadcast runs")
    parser.add_argument("--in-flight", type=int, default=None,
                        help="delivery.in_flight of every replica (default: the bot's own sizing)")
    parser.add_argument("--poll-interval", type=float, default=SERVICE_POLL_INTERVAL,
                        help="digests.poll_interval of every replica, seconds (default: the service's 300)")
    args = parser.parse_args(argv)
    chats = chats_for(args.chats)
    print(f"{args.chats} Telegram chats × {PARTS} parts, limits ×{args.scale:g}; replicas on one Redis\n")
    header = (f"{'run':<22} {'msgs':>6} {'secs':>7} {'msg/s':>8} {'ceiling':>8} {'ach÷allow':>9} {'429s':>5} "
              f"{'exactly once':>13} {'first':>5}")
    print(header)
    print("-" * len(header))
    runs = ([] if args.paid_only else [(1, False), (3, False)]) + ([] if args.skip_paid else [(1, True), (3, True)])
    for replicas, paid in runs:
        result = asyncio.run(run(replicas, chats, redis=args.redis, scale=args.scale, paid=paid,
                                 in_flight=args.in_flight, poll_interval=args.poll_interval))
        ceiling = (1000 if paid else 30) * args.scale
        report(f"{replicas} replica{'s' if replicas > 1 else ''}{' paid' if paid else ''}", result, ceiling)
    print("\nmsg/s: (messages - 1) ÷ seconds from the first arrival to the last; ceiling: Telegram's overall limit "
          "scaled (paid broadcasts: 1,000/s scaled).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
