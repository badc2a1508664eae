"""Parsing speed: time per KB for a normal digest and for inputs built to make a parser quadratic.

    python bench/parse.py [--seconds 0.2] [--rounds 5] [--sizes 1,32,1024]

Each pathological input is one summary paragraph repeating a short pattern (`a* `, `[a](`, …) inside
an otherwise ordinary digest of the same size in bytes. Both are timed in the same run, side by side;
the ratio is pathological time per KB ÷ normal time per KB at that size. Times are CPU time, the
best of several rounds, and the rounds interleave the inputs, so that other work on the machine
disturbs them little and slows both alike. A ratio that stays flat as the size grows means the
pattern costs no more than ordinary text does; one that grows with the size means something is
quadratic.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.digest.parse import parse_digest

FRONT = ["---", 'title: "Parser benchmark"', "date: 2025-10-01T08:30:00+08:00",
         "categories: [Hardware, Large Models]", "---", "",
         "基准测试用的摘要：一段介绍，随后是编号条目和点评。", "", "---", ""]
COMMENTARY = ["---", "", "### 点评", "", "这一段点评只为让文件的结构完整。", ""]


def _nested_brackets(size: int) -> str:
    depth = size // 22
    return "[" * depth + "a" + "](https://u.example)" * depth


def _backtick_runs(size: int) -> str:
    parts: list[str] = []
    total, length = 0, 1
    while total < size:
        parts.append("`" * length + "x")
        total += length + 1
        length = length + 1 if length < 400 else 1
    return "".join(parts)


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda size: unit * max(1, size // len(unit.encode("utf-8")))


PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    "a* ": _repeat("a* "),
    "[a](": _repeat("[a]("),
    "[a](b (x ": _repeat("[a](b (x "),
    "x <!-- ": _repeat("x <!-- "),
    "***a": _repeat("***a"),
    "nested [": _nested_brackets,
    "`…` runs": _backtick_runs,
    "< runs": _repeat("<"),
    "a_ intraword": _repeat("a_"),
}


def normal_digest(size: int) -> str:
    """A digest shaped like a real one, of about `size` bytes: CJK and Latin text, bold spans,
    inline links and code, category markers."""
    lines = list(FRONT)
    number = 0
    while len("\n".join(lines + COMMENTARY).encode("utf-8")) < size:
        number += 1
        lines += [
            f"{number}.  [第{number}条：推理芯片与大模型的新进展](https://news.example.com/2025/10/01/{number}?ref=bench)",
            "",
            "    <!-- categories: Hardware, 大模型 -->",
            "",
            f"    一家厂商发布了第 **{number}** 代推理芯片，宣称能效提升 **2.6 倍**，并开源了 `sdk_{number}` 工具包。"
            f"The notes at [the changelog](https://docs.example.com/{number}) mention *faster* kernels and a new",
            "    memory layout for long context windows, with support for more quantisation formats.",
            "",
        ]
    return "\n".join(lines + COMMENTARY)


def pathological_digest(build: Callable[[int], str], size: int) -> str:
    """An ordinary digest whose only summary paragraph is the pathological text, `size` bytes in all."""
    head = [*FRONT, "1.  [An item](https://news.example.com/1)", ""]
    frame = len("\n".join([*head, "    ", "", *COMMENTARY]).encode("utf-8"))
    return "\n".join([*head, "    " + build(max(1, size - frame)), "", *COMMENTARY])


def calls_for(call: Callable[[], object], budget: float) -> int:
    """How many calls in a row take at least `budget` seconds, so that the clock is precise."""
    calls = 1
    while True:
        start = time.process_time()
        for _ in range(calls):
            call()
        elapsed = time.process_time() - start
        if elapsed >= budget:
            return calls
        calls = max(calls * 2, int(calls * budget / max(elapsed, 1e-9)))


def measure(texts: dict[str, str], budget: float, rounds: int) -> dict[str, float]:
    """µs per KB of each text, the best of `rounds`; every round times every text once, in turn, so
    that a busy machine slows normal and pathological inputs alike."""
    calls = {}
    for name, text in texts.items():
        parse_digest(text)   # a pathological input must still be a valid digest
        calls[name] = calls_for(functools.partial(parse_digest, text), budget)
    best = dict.fromkeys(texts, float("inf"))
    for _ in range(rounds):
        for name, text in texts.items():
            start = time.process_time()
            for _ in range(calls[name]):
                parse_digest(text)
            best[name] = min(best[name], (time.process_time() - start) / calls[name])
    return {name: best[name] / (len(text.encode("utf-8")) / 1024) * 1e6 for name, text in texts.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=0.2, help="minimum length of one timing")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds (the best one counts)")
    parser.add_argument("--sizes", default="1,32,1024", help="input sizes in KB, comma-separated")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    results: dict[int, dict[str, float]] = {}
    for size in sizes:
        print(f"measuring {size} KB inputs…", file=sys.stderr, flush=True)
        texts = {"normal digest": normal_digest(size * 1024)}
        texts.update((name, pathological_digest(build, size * 1024)) for name, build in PATHOLOGICAL.items())
        results[size] = measure(texts, args.seconds, args.rounds)

    print(f"{'input':<16}" + "".join(f"{f'{size} KB µs/KB':>16}{'ratio':>7}" for size in sizes))
    worst = 0.0
    for name in results[sizes[0]]:
        row = f"{name:<16}"
        for size in sizes:
            cost = results[size][name]
            ratio = cost / results[size]["normal digest"]
            if name != "normal digest":
                worst = max(worst, ratio)
            row += f"{cost:>16.1f}{ratio:>7.2f}"
        print(row)
    print(f"worst ratio pathological ÷ normal: {worst:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
