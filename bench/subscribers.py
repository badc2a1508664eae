"""Many subscriptions: memory they take in a running scheduler, and what one scheduler tick costs.

    python bench/subscribers.py [--counts 1000,100000] [--due 100] [--store sqlite|memory]

Each count runs in a fresh process: the store gets that many /subscribe'd chats, all but `--due` of
them scheduled for a time that is not reached; the scheduler takes its start-up (catch-up) tick, which
reads every subscription into its index, then the tick at which the `--due` ones become due, then a few
ticks with nothing new due, then one more subscription is made and the tick after it reads them all again.

- RSS: resident memory with the subscriptions in the store and the scheduler past all its ticks, the
  re-read included, minus the same process idle (scheduler built, store open, no subscriptions).
- peak: the most resident memory at any moment of the ticks (a re-read holds the store's whole answer
  for a moment), minus the same idle figure; "-" where the kernel does not let a process reset its peak.
- due tick: the one tick that queues the `--due` deliveries; quiet tick: the mean of ticks that
  queue nothing. Compared across counts with the same number due, they show whether a tick costs
  in proportion to what is due or to every subscription.
- reload tick: a tick after the subscriptions changed, which reads every one of them from the store
  (at most once per change, and per refresh interval for changes made by other replicas).
- loop held: the longest the event loop went without a turn for other tasks during the reload tick
  (what a message being sent meanwhile waits); the index is built on a worker thread.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.delivery import Deliverer  # noqa: E402
from bot.digest.categories import Categorizer  # noqa: E402
from bot.digest.sources import open_source  # noqa: E402
from bot.platforms.console import ConsoleChannel  # noqa: E402
from bot.scheduler import Scheduler  # noqa: E402
from bot.store import open_store  # noqa: E402
from bot.store.base import Subscription  # noqa: E402

START = dt.datetime(2026, 12, 7, 9, 59, tzinfo=dt.UTC)
QUIET_TICKS = 5


def rss_mib() -> float:
    resident_pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def reset_peak() -> bool:
    """Start measuring the peak resident memory afresh (Linux: VmHWM back to the current RSS)."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


async def measure(count: int, due: int, store_kind: str, folder: Path) -> dict[str, Any]:
    (folder / "digests").mkdir()
    config = folder / "config.yaml"
    store_url = "memory://" if store_kind == "memory" else "sqlite:///./bench.db"
    config.write_text(f"version: 1\ntimezone: UTC\ndigests: {{source: ./digests}}\nstore: '{store_url}'\n"
                      "channels: []\n", encoding="utf-8")
    settings = load_config(config, env={})
    store = open_store(settings.store, settings.base_dir)
    deliverer = Deliverer(store, {"console": ConsoleChannel()}, settings.delivery, owner="bench")
    scheduler = Scheduler(settings, open_source(settings, Categorizer(settings.categories)), store, deliverer, {})
    idle = rss_mib()
    for index in range(count):
        schedule = "10:00" if index < due else "22:00"
        await store.subscribe(Subscription("console", f"chat-{index:07d}", schedule, None, "bench"))

    async def tick(moment: dt.datetime) -> float:
        # With the loop run once more, as it is after every tick: what the tick left behind (the list
        # a re-read was answered with) is freed then, and counted with the tick that made it.
        started = time.perf_counter()
        await scheduler.step(moment)
        await asyncio.sleep(0)
        return time.perf_counter() - started

    peak_known = reset_peak()
    await tick(START)
    due_tick = await tick(START + dt.timedelta(minutes=1, seconds=30))
    quiet_tick = sum([await tick(START + dt.timedelta(minutes=2, seconds=n)) for n in range(QUIET_TICKS)]) / QUIET_TICKS
    await store.subscribe(Subscription("console", "chat-late", "22:00", None, "bench"))
    scheduler.subscriptions_changed()
    held = 0.0

    async def watch_loop() -> None:
        # How late a 1 ms timer fires: how long the loop goes without a turn for other tasks (what a
        # send would wait). A timer, not a spin: a task spinning on sleep(0) would take the CPU and
        # the interpreter's lock from the thread that builds the index.
        nonlocal held
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            held = max(held, time.perf_counter() - before - 0.001)

    watcher = asyncio.ensure_future(watch_loop())
    await asyncio.sleep(0)
    reload_tick = await tick(START + dt.timedelta(minutes=3))
    watcher.cancel()
    loaded = rss_mib()
    peak = peak_mib() if peak_known else None
    if len(scheduler.index) != count + 1:
        raise RuntimeError(f"the scheduler holds {len(scheduler.index)} channels, not the {count + 1} subscribed")
    scheduler.stop()
    await scheduler.drain()
    await store.close()
    return {"count": count, "rss_idle": idle, "rss_loaded": loaded, "due_tick": due_tick, "quiet_tick": quiet_tick,
            "reload_tick": reload_tick, "reload_held": held, "rss_peak": peak}


def run_worker(count: int, due: int, store: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", str(count), "--due", str(due), "--store", store]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=str(ROOT))
    if completed.returncode != 0:
        raise SystemExit(f"worker for {count} subscriptions failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--counts", default="1000,100000", help="subscription counts to compare")
    parser.add_argument("--due", type=int, default=100, help="subscriptions due at the measured tick")
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        with tempfile.TemporaryDirectory(prefix="digestbot-subscribers-") as folder:
            os.chdir(folder)
            print(json.dumps(asyncio.run(measure(args.worker, args.due, args.store, Path(folder)))))
        return 0
    counts = [int(count) for count in args.counts.split(",")]
    print(f"{args.due} due at the measured tick; {args.store} store\n")
    header = (f"{'subscriptions':>13} {'RSS idle':>9} {'RSS loaded':>10} {'Δ RSS':>8} {'Δ peak':>8} "
              f"{'due tick':>10} {'quiet tick':>10} {'reload tick':>11} {'loop held':>10}")
    print(header)
    print("-" * len(header))
    results = [run_worker(count, args.due, args.store) for count in counts]
    for result in results:
        peak = "-" if result["rss_peak"] is None else f"{result['rss_peak'] - result['rss_idle']:.1f} M"
        print(f"{result['count']:>13} {result['rss_idle']:>7.1f} M {result['rss_loaded']:>8.1f} M "
              f"{result['rss_loaded'] - result['rss_idle']:>6.1f} M {peak:>8} {1000 * result['due_tick']:>7.1f} ms "
              f"{1000 * result['quiet_tick']:>7.1f} ms {1000 * result['reload_tick']:>8.1f} ms "
              f"{1000 * result['reload_held']:>7.1f} ms", flush=True)
    first, last = results[0], results[-1]
    due_ratio, quiet_ratio = last["due_tick"] / first["due_tick"], last["quiet_tick"] / first["quiet_tick"]
    print(f"\ntick time {last['count']} ÷ {first['count']} subscriptions, {args.due} due: "
          f"due tick ×{due_ratio:.1f}, quiet tick ×{quiet_ratio:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
