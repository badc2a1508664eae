"""Fan-out cost: the bot's delivery path (ledger on SQLite or Redis) against bare client loops, per message.

    python bench/fanout.py [--channels 1000] [--parts 3] [--scale 4] [--rounds 3] [--redis redis://127.0.0.1:6379/15]
                           [--platforms telegram,slack,discord,feishu,wecom,dingtalk]

Every run sends `--parts` messages to each of `--channels` chats of one platform through the fake
Telegram, Slack, Discord, Feishu, WeCom or DingTalk server (a robot platform's chat is a robot of its
own), whose limits (and the bot's own client-side limits) are sped up `--scale` times. Each run
happens in a fresh worker process, and the fake servers in a process of their own
(bench/fakes_process.py), so the worker's CPU time (getrusage) and peak RSS are the sender's alone.

- bot:    bot.app.App built from a config (rate_limit_scale, store), deliveries through its Deliverer:
          lease, ledger writes before and after every part, per-chat order, retries; up to 64
          deliveries at once, as the scheduler runs them.
- bare:   python-telegram-bot's Bot.send_message (or slack-sdk's chat_postMessage, or an aiohttp POST to
          the webhook) in a loop with the same client-side rate limiter and concurrency, no store at all.

"allowed" is the most the platform's limits let through in the elapsed time T: for Telegram the
overall window, L × (⌊T⌋ + 1) messages with L = 30 × scale per second (what a sender bursting a whole
window at each second could do; the bot spaces messages evenly, and "pace" shows its rate ÷ L);
Slack has no overall limit, so for it the bound comes from the per-channel window: a delivery sends
its `parts` messages one window apart, 64 of them at once, so the channels take at least
⌈channels ÷ 64⌉ × (parts − 1) windows; Discord's per-webhook window (5 posts per 2 s) spaces a
delivery only when it has more parts than that, so its rows need `--parts` above 5 to mean anything;
the robots likewise by their narrowest window (bench/robots.py).
The store's overhead shows as the CPU-per-message ratio of a bot run to the bare run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import robots  # noqa: E402
from bench.fakes_process import SLACK_TOKEN, TELEGRAM_TOKEN, FakesProcess  # noqa: E402

# As many deliveries at once as the scheduler runs (Scheduler's max_concurrency).
CONCURRENCY = 64
GROUP_SHARE = 0.3
KNOWN = ("telegram", "slack", "discord", *robots.ROBOTS)


# -- what is sent ----------------------------------------------------------------------------------

def chats_for(platform: str, count: int, urls: dict[str, str]) -> list[str]:
    if platform in robots.ROBOTS:
        return robots.chats(urls[platform], count)
    if platform == "discord":
        from bench.fanout_discord import webhook_chats

        return webhook_chats(urls["discord"], count)
    if platform == "slack":
        return [f"C{n:08d}" for n in range(count)]
    groups = round(count * GROUP_SHARE)
    return [str(-1_001_000_000_000 - n) for n in range(groups)] + [str(10_000 + n) for n in range(count - groups)]


def payloads_for(platform: str, parts: int) -> list[dict[str, Any]]:
    """`parts` real rendered messages of a test digest (repeated if it renders to fewer)."""
    import datetime as dt

    from bot.digest.parse import parse_digest
    from bot.platforms import registry
    from tests.digests import digest_text

    digest = parse_digest(digest_text(dt.date(2026, 1, 15), items=30, summary_sentences=5))
    rendered = registry.load_renderer(registry.by_name(platform)).render_digest(digest)
    return [rendered[n % len(rendered)] for n in range(parts)]


# -- one measured run (in a worker process) --------------------------------------------------------

def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    # Linux reports kibibytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


Measure = Callable[[Callable[[], Awaitable[list[Any]]]], Awaitable[dict[str, Any]]]


async def bounded(jobs: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
    slots = asyncio.Semaphore(CONCURRENCY)

    async def run(job: Callable[[], Awaitable[Any]]) -> Any:
        async with slots:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs))


def bench_config(platform: str, store_kind: str, options: dict[str, Any], urls: dict[str, str], folder: str,
                 prefix: str) -> dict[str, Any]:
    """The config a bot run loads: every platform pointed at its fake, its limits scaled."""
    store = "sqlite:///./bench.db" if store_kind == "sqlite" else options["redis"]
    config: dict[str, Any] = {
        "version": 1, "timezone": "UTC", "language": "en",
        "digests": {"source": folder}, "store": store, "store_prefix": prefix,
        "telegram": {"token": TELEGRAM_TOKEN, "base_url": urls["telegram"], "updates": "off",
                     "rate_limit_scale": options["scale"]},
        "slack": {"token": SLACK_TOKEN, "signing_secret": "bench-signing-secret", "base_url": urls["slack"],
                  "rate_limit_scale": options["scale"]},
        "discord": {"base_url": f"{urls['discord']}/api/v10", "rate_limit_scale": options["scale"]},
        "server": {"listen": "127.0.0.1:1"},
        "delivery": {"lease_ttl": 60},
        "channels": [],
    }
    if platform in robots.ROBOTS:
        # A robot is a channel of the config: the app opens the platform and knows each robot.
        config.update(robots.config(platform, urls[platform], options["channels"], options["scale"]))
    return config


async def run_bot(platform: str, store_kind: str, options: dict[str, Any], urls: dict[str, str],
                  measure: Measure) -> dict[str, Any]:
    import datetime as dt

    import yaml

    from bot.app import App
    from bot.config import load_config
    from bot.delivery import Target
    from bot.store.base import DeliveryKey

    with tempfile.TemporaryDirectory() as folder:
        prefix = f"digestbot-bench-{uuid.uuid4().hex[:10]}:"
        config = bench_config(platform, store_kind, options, urls, folder, prefix)
        path = Path(folder) / "bench.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        app = App(load_config(path))
        await app.open(platforms=(platform,), receive_commands=False)
        try:
            channel = app.channels[platform]
            await channel.start()     # type: ignore[attr-defined]
            deliverer = app.deliverer
            assert deliverer is not None
            payloads = payloads_for(platform, options["parts"])
            chats = chats_for(platform, options["channels"], urls)
            today = dt.date(2026, 1, 15)
            warmup = {"slack": "C0WARMUP", "discord": f"{urls['discord']}/api/webhooks/1/warm"}.get(platform, "99")
            if platform in robots.ROBOTS:
                warmup = chats[0].replace("000000", "warmup")
            await deliverer.send_parts(platform, warmup, payloads[:1])
            await asyncio.sleep(2 / options["scale"])

            def job(chat: str) -> Callable[[], Awaitable[Any]]:
                name = f"bench-{chat}"
                return lambda: deliverer.deliver(DeliveryKey(today, name), Target(name, platform, chat), payloads)

            result = await measure(lambda: bounded([job(chat) for chat in chats]))
            result["outcomes"] = sorted({r.outcome.value for r in result.pop("returned")})
            if store_kind == "redis":
                from tests.procs import drop_keys

                await drop_keys(options["redis"], prefix)
            return result
        finally:
            for receiver in list(app.channels.values()):
                stop = getattr(receiver, "stop", None)
                if stop is not None:
                    await stop()
            await app.close()


async def run_bare(platform: str, options: dict[str, Any], urls: dict[str, str],
                   measure: Measure) -> dict[str, Any]:
    payloads = payloads_for(platform, options["parts"])
    chats = chats_for(platform, options["channels"], urls)
    if platform in robots.ROBOTS:
        return await robots.bare(platform, payloads, chats, options["scale"],
                                 lambda send, warmup: _bare_fanout(send, warmup, payloads, chats, options, measure))
    if platform == "discord":
        from bench.fanout_discord import bare_discord

        return await bare_discord(payloads, chats, options,
                                  lambda send, warmup: _bare_fanout(send, warmup, payloads, chats, options, measure))
    if platform == "telegram":
        return await _bare_telegram(payloads, chats, options, urls["telegram"], measure)
    return await _bare_slack(payloads, chats, options, urls["slack"], measure)


async def _bare_fanout(send: Callable[[str, dict[str, Any]], Awaitable[None]], warmup_chat: str,
                       payloads: list[dict[str, Any]], chats: list[str], options: dict[str, Any],
                       measure: Measure) -> dict[str, Any]:
    """The bare loop's fan-out: every part to every chat in order, timed like the bot's."""
    async def deliver(chat: str) -> str:
        for payload in payloads:
            await send(chat, payload)
        return "delivered"

    await send(warmup_chat, payloads[0])
    await asyncio.sleep(2 / options["scale"])
    result = await measure(lambda: bounded([partial(deliver, chat) for chat in chats]))
    result["outcomes"] = sorted(set(result.pop("returned")))
    return result


async def _bare_telegram(payloads: list[dict[str, Any]], chats: list[str], options: dict[str, Any], base_url: str,
                         measure: Measure) -> dict[str, Any]:
    from telegram import Bot, LinkPreviewOptions
    from telegram.error import RetryAfter

    from bot.platforms.telegram import TelegramRateLimits

    limiter = TelegramRateLimits().scaled(options["scale"]).chain()
    bot = Bot(TELEGRAM_TOKEN, base_url=base_url)
    no_preview = LinkPreviewOptions(is_disabled=True)
    async with bot:
        async def send(chat: str, payload: dict[str, Any]) -> None:
            while True:
                await limiter.acquire(chat)
                try:
                    await bot.send_message(chat_id=int(chat), text=payload["text"], parse_mode=payload["parse_mode"],
                                           link_preview_options=no_preview)
                    return
                except RetryAfter as error:
                    wait = error.retry_after
                    await asyncio.sleep(wait if isinstance(wait, (int, float)) else wait.total_seconds())

        return await _bare_fanout(send, "99", payloads, chats, options, measure)


async def _bare_slack(payloads: list[dict[str, Any]], chats: list[str], options: dict[str, Any], base_url: str,
                      measure: Measure) -> dict[str, Any]:
    import aiohttp
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.platforms.slack import SlackRateLimit

    limiter = SlackRateLimit().scaled(options["scale"]).chain()
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=SLACK_TOKEN, base_url=base_url, session=session, retry_handlers=[])

        async def send(chat: str, payload: dict[str, Any]) -> None:
            while True:
                await limiter.acquire(chat)
                try:
                    await client.chat_postMessage(channel=chat, **payload)
                    return
                except SlackApiError as error:
                    if error.response.status_code != 429:
                        raise
                    await asyncio.sleep(float(error.response.headers.get("Retry-After", "1")))

        return await _bare_fanout(send, "C0WARMUP", payloads, chats, options, measure)


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One run: fakes in a child process, the sender here; returns the measurements."""
    warnings.simplefilter("ignore")
    fakes = FakesProcess(spec["scale"])
    try:
        async def measure(fanout: Callable[[], Awaitable[list[Any]]]) -> dict[str, Any]:
            before = fakes.stats()
            cpu_before = cpu_seconds()
            started = time.monotonic()
            returned = await fanout()
            elapsed = time.monotonic() - started
            cpu = cpu_seconds() - cpu_before
            after = fakes.stats()
            platform = spec["platform"]
            return {"returned": returned, "elapsed": elapsed, "cpu": cpu,
                    "sent": after[f"{platform}_sent"] - before[f"{platform}_sent"],
                    "refused_429": after[f"{platform}_429"] - before[f"{platform}_429"]}

        if spec["sender"] == "bot":
            result = asyncio.run(run_bot(spec["platform"], spec["store"], spec, fakes.urls, measure))
        else:
            result = asyncio.run(run_bare(spec["platform"], spec, fakes.urls, measure))
    finally:
        fakes.stop()
    result["peak_rss_mib"] = peak_rss_mib()
    return result


# -- the driver -----------------------------------------------------------------------------------

def allowed_messages(platform: str, elapsed: float, scale: float, channels: int, parts: int) -> float:
    if platform in robots.ROBOTS:
        return robots.allowed(platform, elapsed, scale, channels, parts, CONCURRENCY)
    if platform == "discord":
        from bench.fanout_discord import allowed_discord

        return allowed_discord(elapsed, scale, channels, parts, CONCURRENCY)
    if platform == "telegram":
        from bot.platforms.telegram import TelegramRateLimits

        limits = TelegramRateLimits().scaled(scale)
        return limits.overall_limit * (math.floor(elapsed / limits.overall_period) + 1)
    from bot.platforms.slack import SlackRateLimit

    pace = SlackRateLimit().scaled(scale).windows[0]
    if parts < 2:
        return math.inf      # one message per channel: nothing spaces them out
    # A delivery's parts go out one channel window apart, so a delivery takes at least (parts - 1)
    # windows, and with CONCURRENCY of them at once the channels need ⌈channels / CONCURRENCY⌉ such
    # turns: the last turn takes as long with 40 deliveries as with 64.
    shortest = math.ceil(channels / CONCURRENCY) * (parts - 1) * pace.per_seconds / pace.count
    return channels * parts * elapsed / shortest


def print_row(platform: str, label: str, results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    ranked = sorted(results, key=lambda result: result["cpu_ms"])
    result = ranked[len(ranked) // 2]
    elapsed, sent = result["elapsed"], result["sent"]
    allowed = allowed_messages(platform, elapsed, args.scale, args.channels, args.parts)
    pace = "-"
    if platform == "telegram":
        from bot.platforms.telegram import TelegramRateLimits

        limits = TelegramRateLimits().scaled(args.scale)
        pace = f"{sent / elapsed / (limits.overall_limit / limits.overall_period):.3f}"
    spread = f"{ranked[0]['cpu_ms']:.3f}-{ranked[-1]['cpu_ms']:.3f}"
    refused = sum(run["refused_429"] for run in results)
    print(f"{platform:<9} {label:<12} {sent:>6} {elapsed:>7.2f} {sent / elapsed:>7.1f} "
          f"{allowed / elapsed:>9.1f} {sent / allowed:>9.3f} {pace:>5} {refused:>5} "
          f"{result['cpu_ms']:>10.3f} {spread:>13} {result['peak_rss_mib']:>7.1f} M"
          + ("" if all(run["outcomes"] == ["delivered"] for run in results)
             else f"   outcomes {sorted({o for run in results for o in run['outcomes']})}"))


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True,
                               text=True, check=False, cwd=str(ROOT))
    if completed.returncode != 0:
        raise SystemExit(f"worker {spec['platform']}/{spec['sender']}/{spec.get('store')} failed:\n"
                         f"{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--channels", type=int, default=1000, help="chats per run (default 1000)")
    parser.add_argument("--parts", type=int, default=3, help="messages per chat (default 3)")
    parser.add_argument("--scale", type=float, default=4.0,
                        help="speed-up of the platforms' limits, for the fakes and the bot alike (default 4)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15",
                        help="Redis for the redis runs; keys go under a unique prefix and are removed after")
    parser.add_argument("--platforms", default="telegram,slack,discord",
                        help="comma-separated: " + ", ".join(KNOWN))
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of every sender, interleaved; rows show the median (default 3)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    platforms = [p for p in args.platforms.split(",") if p]
    if args.rounds < 1 or args.channels < 1 or args.parts < 1 or args.scale <= 0 or not set(platforms) <= set(KNOWN):
        parser.error("--channels and --parts must be >= 1, --scale > 0, --platforms among " + ", ".join(KNOWN))

    base = {"channels": args.channels, "parts": args.parts, "scale": args.scale, "redis": args.redis}
    print(f"{args.channels} channels × {args.parts} parts per run, limits ×{args.scale:g}, "
          f"{CONCURRENCY} deliveries at once\n")
    header = (f"{'platform':<9} {'sender':<12} {'msgs':>6} {'secs':>7} {'msg/s':>7} {'allowed/s':>9} "
              f"{'ach÷allow':>9} {'pace':>5} {'429s':>5} {'CPU ms/msg':>10} {'(range)':>13} {'peak RSS':>9}")
    print(header)
    print("-" * len(header))
    senders = (("bot", "sqlite"), ("bot", "redis"), ("bare", None))
    for platform in platforms:
        runs: dict[str, list[dict[str, Any]]] = {}
        ratios: dict[str, list[float]] = {}
        for round_index in range(args.rounds):
            # Each round runs every sender once, in an order that turns from round to round, so a
            # drift of the machine's speed during the bench weighs on all of them alike.
            order = senders[round_index % 3:] + senders[:round_index % 3]
            per_message: dict[str, float] = {}
            for sender, store in order:
                spec = {**base, "platform": platform, "sender": sender, "store": store}
                result = run_worker(spec)
                label = f"{sender}+{store}" if store else "bare loop"
                result["cpu_ms"] = 1000 * result["cpu"] / max(result["sent"], 1)
                per_message[label] = result["cpu_ms"]
                runs.setdefault(label, []).append(result)
            for label, value in per_message.items():
                if label != "bare loop":
                    ratios.setdefault(label, []).append(value / per_message["bare loop"])
        for label in ("bot+sqlite", "bot+redis", "bare loop"):
            print_row(platform, label, runs[label], args)
        print(f"{'':<9} CPU per message vs the bare loop, median of the rounds' ratios (range): "
              + ", ".join(f"{label} ×{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
                          for label, values in ratios.items()))
    print(f"\nEach row: the run of {args.rounds} whose CPU per message is the median, its range beside it. "
          "pace: Telegram's messages a second ÷ its overall ceiling (what an evenly spaced sender keeps "
          "to, as bench/replicas.py measures).")
    print("allowed: Telegram 30×scale msg/s overall (sliding 1 s window); Slack: each delivery sends its parts "
          "one channel window (1 s / scale) apart, 64 at once, ⌈channels ÷ 64⌉ in turn; Discord: each sends at "
          "most 5 parts per webhook window (2 s / scale); robots: one robot's narrowest window apart (inf: every "
          "part fits its robot's first burst).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
