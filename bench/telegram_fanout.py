"""Telegram fan-out: how close the bot's pacing gets to Telegram's flood limits without a single 429.

    python bench/telegram_fanout.py [--chats 200] [--scale 2] [--groups 0.3] [--digest PATH]
                                    [--busy-groups 0] [--busy-parts 45]

Starts the fake Bot API server with Telegram's limits sped up `--scale` times (30 msg/s overall,
20 msg/min per group, about 1 msg/s per chat, all multiplied), then sends one digest to every chat
through TelegramChannel and the Deliverer (memory store), all chats at once, as a scheduled post does.

"achieved ÷ allowed" divides the achieved rate (messages ÷ seconds from the first delivery call to
the last arrival) by the overall limit's rate. A stricter figure is printed beside it: the messages
sent ÷ the most a sliding window of L per second admits within T seconds, L × (⌊T⌋ + 1), which
counts an initial full-second burst the bot deliberately never sends.
The client and the fake share one process: keep `scale` low enough that the machine, not the limit,
is not the bottleneck (about 130 sends per second fit on two cores, parsing included).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram.warnings import PTBDeprecationWarning  # noqa: E402

from bot.config import DeliverySettings, TelegramSettings  # noqa: E402
from bot.delivery import Deliverer, DeliveryResult, Outcome, SendEvent, Target  # noqa: E402
from bot.digest.parse import parse_file  # noqa: E402
from bot.platforms.telegram import TelegramChannel, TelegramRateLimits  # noqa: E402
from bot.platforms.telegram.html import render_digest  # noqa: E402
from bot.store import open_store  # noqa: E402
from bot.store.base import DeliveryKey  # noqa: E402
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram  # noqa: E402

TOKEN = "424242424:AAH-benchmark-token-not-a-real-one-xyz"


def chats_for(count: int, group_share: float) -> list[str]:
    groups = round(count * group_share)
    return [str(-1_001_000_000_000 - n) for n in range(groups)] + [str(10_000 + n) for n in range(count - groups)]


async def run(chat_count: int, scale: float, group_share: float, digest_path: Path,
              busy_group_count: int = 0, busy_parts: int = 45) -> int:
    digest = parse_file(digest_path)
    payloads = render_digest(digest)
    chats = chats_for(chat_count, group_share)
    # Groups that get many messages (replies, several posts) while the fan-out saturates the
    # overall limit: their per-group window is where a limiter that records grants early shows.
    busy_groups = [str(-1_009_000_000_000 - n) for n in range(busy_group_count)]
    limits = TelegramRateLimits().scaled(scale)
    events: Counter[str] = Counter()

    def count(event: SendEvent) -> None:
        events[event.kind] += 1

    with tempfile.TemporaryDirectory() as folder:
        store = open_store("memory://", Path(folder))
        async with FakeTelegram(TOKEN, limits=FakeLimits(scale=scale)) as fake:
            channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, updates="off"),
                                      rate_limits=limits)
            deliverer = Deliverer(store, {"telegram": channel}, DeliverySettings(), on_event=count)
            await channel.send(chats[0], {"text": "warming up the connection", "parse_mode": "HTML"})
            await asyncio.sleep(limits.chat_period)
            fake.sent.clear()
            started = time.monotonic()
            busy = [deliverer.send_parts("telegram", group, [
                        {"text": f"busy group message {n}", "parse_mode": "HTML"} for n in range(busy_parts)])
                    for group in busy_groups]
            gathered = await asyncio.gather(*(
                deliverer.deliver(DeliveryKey(digest.date, f"bench-{chat}"), Target(f"bench-{chat}", "telegram", chat),
                                  payloads)
                for chat in chats), *busy)
            results = [result for result in gathered if isinstance(result, DeliveryResult)]
            # The fan-out's own pace; the busy groups' messages are paced by their group limit.
            arrivals = [message.at for chat in chats for message in fake.sent.get(chat, [])]
            busy_sent = sum(len(fake.sent.get(group, [])) for group in busy_groups)
            await channel.stop()
        await store.close()

    sent = len(arrivals)
    first, last = min(arrivals), max(arrivals)
    elapsed = last - started
    span = last - first
    overall_rate = limits.overall_limit / limits.overall_period
    allowed_in_elapsed = limits.overall_limit * (math.floor(elapsed / limits.overall_period) + 1)
    # Per-chat spacing: the parts of one chat cannot go out faster than one per chat window.
    per_chat_floor = (len(payloads) - 1) * limits.chat_period
    allowed = allowed_in_elapsed if elapsed >= per_chat_floor else 0
    outcomes = Counter(result.outcome for result in results)
    flood_refusals = Counter(kind for _, kind in fake.rate_limited)

    print(f"digest      {digest_path.name}: {len(payloads)} message(s) per chat")
    print(f"chats       {len(chats)} ({round(len(chats) * group_share)} groups)"
          + f", {sent} messages sent"
          + (f"; {len(busy_groups)} busy groups got {busy_sent} of {len(busy_groups) * busy_parts}" if busy_groups
             else ""))
    print(f"limits ×{scale:g}   {overall_rate:g} msg/s overall, 1 msg per {limits.chat_period:.3g} s per chat, "
          f"{limits.group_limit} msg per {limits.group_period:.3g} s per group")
    print(f"elapsed     {elapsed:.2f} s from the first delivery call to the last arrival "
          f"(arrivals span {span:.2f} s)")
    print(f"achieved    {sent / elapsed:.1f} msg/s of {overall_rate:g} allowed")
    strict = sent / allowed if allowed else float("nan")
    print(f"achieved ÷ allowed  {sent / elapsed / overall_rate:.3f}   "
          f"(strict bound: {sent} sent ÷ at most {allowed} admitted in {elapsed:.2f} s = {strict:.3f})")
    print(f"429s        {events['rate_limited']} received by the bot; "
          f"fake refused {sum(flood_refusals.values())} for flood control {dict(flood_refusals) or ''}")
    print(f"outcomes    {', '.join(f'{outcome.value} {n}' for outcome, n in outcomes.items())}")
    complete = outcomes[Outcome.DELIVERED] == len(chats) and busy_sent == len(busy_groups) * busy_parts
    return 0 if complete and not flood_refusals else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chats", type=int, default=200, help="how many chats get the digest (default 200)")
    parser.add_argument("--scale", type=float, default=2.0, help="speed-up of Telegram's limits (default 2)")
    parser.add_argument("--groups", type=float, default=0.3, help="share of the chats that are groups (default 0.3)")
    parser.add_argument("--digest", type=Path, default=ROOT / "examples" / "2025-10-01.md",
                        help="the digest to send (default: the long example)")
    parser.add_argument("--busy-groups", type=int, default=0,
                        help="groups that also get --busy-parts messages during the fan-out (default 0)")
    parser.add_argument("--busy-parts", type=int, default=45, help="messages per busy group (default 45)")
    args = parser.parse_args()
    if args.chats < 1 or args.scale <= 0 or not 0 <= args.groups <= 1 or args.busy_groups < 0 or args.busy_parts < 1:
        parser.error("--chats must be >= 1, --scale > 0, --groups between 0 and 1, --busy-groups >= 0, "
                     "--busy-parts >= 1")
    if not args.digest.is_file():
        parser.error(f"{args.digest}: no such digest")
    # PTB warns about its own retry_after type on every 429; that is not the benchmark's business.
    warnings.simplefilter("ignore", PTBDeprecationWarning)
    return asyncio.run(run(args.chats, args.scale, args.groups, args.digest, args.busy_groups, args.busy_parts))


if __name__ == "__main__":
    sys.exit(main())
