"""Rendering speed: digests per second for a 10-item and a 500-item digest on each platform.

    python bench/render.py [--seconds 0.3] [--rounds 5]

The per-item ratio is (500-item time / 10-item time) / 50: about 1.0 means rendering grows linearly
with the digest; well above 1.0 means something grows faster than the text does. A third digest of
20 items whose summaries are each longer than a message times the budget scan that cuts paragraphs.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.digest.model import Digest
from bot.digest.parse import parse_digest
from bot.platforms import registry

PLATFORMS = ("telegram", "slack", "text")
SIZES = (10, 500)
# Items and sentence repeats of the digest whose every summary must be cut inside.
LONG = (20, 40)


def generated_digest(items: int, repeats: int = 1) -> Digest:
    """A digest shaped like a real one: CJK and Latin text, bold spans, inline links and code."""
    lines = ["---", f'title: "Benchmark digest with {items} items"', "date: 2025-10-01T08:30:00+08:00",
             "categories: [Hardware, Large Models]", "---", "",
             "今天的基准测试摘要包含大量条目，用来观察渲染时间是否随条目数量线性增长。", "", "---", ""]
    for number in range(1, items + 1):
        lines += [
            f"{number}.  [第{number}条：芯片与大模型的新进展 & <updates>](https://news.example.com/{number}?a=1&b=2)",
            "",
            "    " + " ".join([
                f"某公司发布了第 **{number}** 代推理芯片，宣称能效提升 **2.6倍**，并开源了 `sdk_{number}` 工具包。"
                f"The release notes at [the changelog](https://docs.example.com/{number}) mention *faster* kernels, "
                "a new memory layout and support for longer context windows in production deployments."] * repeats),
            "",
            "    分析人士认为，推理成本的下降将推动更多应用落地，但软件生态仍需时间成熟。",
            "",
        ]
    lines += ["---", "", "### 点评", "", "成本、可靠性与生态，是下一阶段竞争的关键。", ""]
    return parse_digest("\n".join(lines), source=f"<generated {items} items>")


def seconds_per_call(call: Callable[[], object], budget: float, rounds: int) -> float:
    """The best of several rounds, each long enough for the clock to be precise."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            call()
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            break
        calls = max(calls * 2, int(calls * budget / max(elapsed, 1e-9)))
    best = elapsed / calls
    for _ in range(rounds - 1):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=0.3, help="minimum length of one timing round")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds per case (the best one counts)")
    args = parser.parse_args()

    digests = {size: generated_digest(size) for size in SIZES}
    long_digest = generated_digest(*LONG)
    print(f"{'platform':<10}{'items':>7}{'messages':>10}{'renders/s':>12}{'ms/render':>12}")
    for platform in PLATFORMS:
        module = registry.load_renderer(registry.by_render_name(platform))
        timings: dict[int, float] = {}
        for size, digest in digests.items():
            messages = len(module.render_digest(digest))
            render = functools.partial(module.render_digest, digest)
            timings[size] = seconds_per_call(render, args.seconds, args.rounds)
            print(f"{platform:<10}{size:>7}{messages:>10}{1 / timings[size]:>12.1f}{timings[size] * 1000:>12.3f}")
        small, large = SIZES
        ratio = timings[large] / timings[small] / (large / small)
        print(f"{platform:<10} per-item cost ratio ({large}-item / {small}-item / {large // small}): {ratio:.2f}")
        messages = len(module.render_digest(long_digest))
        elapsed = seconds_per_call(functools.partial(module.render_digest, long_digest), args.seconds, args.rounds)
        print(f"{platform + ' long':<10}{LONG[0]:>7}{messages:>10}{1 / elapsed:>12.1f}{elapsed * 1000:>12.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
