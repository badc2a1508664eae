"""Packing blocks of styled runs into parts within a platform's limits, numbered (k/n) when many.

The generic packer for a platform that writes Markdown-like text (Discord, Feishu, WeCom,
DingTalk): parts break between sections (items) first, then between blocks (paragraphs), then
inside a block at a sentence, word or grapheme cluster, never inside a link, and every piece is
written on its own, so a bold or italic span cut by a part break is closed and reopened.
Telegram and Slack keep packers of their own for budgets this one does not model (entity counts,
blocks per message), built from the same pieces: bot.text.segments.reach and bot.render.parts.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from bot.render import links
from bot.render.markup import Markup, char_costs, run_overhead, write
from bot.render.measure import Limit
from bot.render.parts import number_parts, part_marker
from bot.render.runs import Run, slice_runs
from bot.text.segments import BreakLevel, Reach, break_levels, reach

__all__ = ["Block", "pack"]


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph-like unit of runs; ``separator`` (markup) goes before it after other text in a part."""

    runs: Sequence[Run]
    separator: str = "\n\n"


def pack(sections: Sequence[Sequence[Block]], markup: Markup, limits: Sequence[Limit]) -> list[str]:
    """The text of each part, in order, each within every one of ``limits``; "(k/n)" heads each part
    when there are several. A section (an item, the intro) stays in one part when it can."""

    def attempt(digits: int) -> list[str]:
        widest = part_marker(10 ** digits - 1, 10 ** digits - 1)
        head = markup.text(widest) + "\n"
        room = [Limit(limit.measure, limit.most - limit.measure(head)) for limit in limits]
        if any(limit.most <= 0 for limit in room):
            raise ValueError("limits leave no room for a part's text")
        packer = _Packer(markup, room)
        for blocks in sections:
            packer.add_section(blocks)
        return packer.texts()

    parts = number_parts(attempt)
    if len(parts) < 2:
        return parts
    return [f"{markup.text(part_marker(number, len(parts)))}\n{text}" for number, text in enumerate(parts, start=1)]


class _Packer:
    def __init__(self, markup: Markup, limits: Sequence[Limit]) -> None:
        self.markup = markup
        self.limits = limits
        self.parts: list[list[str]] = [[]]
        self.used = [0] * len(limits)

    def texts(self) -> list[str]:
        return ["".join(part) for part in self.parts if part]

    def room(self, separator: str) -> list[int]:
        """What the current part can still take after ``separator`` (none is written in an empty part)."""
        if not self.parts[-1]:
            return [limit.most for limit in self.limits]
        return [limit.most - used - limit.measure(separator)
                for limit, used in zip(self.limits, self.used, strict=True)]

    def fits(self, text: str, room: Sequence[int]) -> bool:
        return all(limit.measure(text) <= left for limit, left in zip(self.limits, room, strict=True))

    def fits_empty(self, text: str) -> bool:
        return self.fits(text, [limit.most for limit in self.limits])

    def new_part(self) -> None:
        if self.parts[-1]:
            self.parts.append([])
            self.used = [0] * len(self.limits)

    def append(self, text: str, separator: str) -> None:
        if self.parts[-1]:
            text = separator + text
        self.parts[-1].append(text)
        self.used = [used + limit.measure(text) for limit, used in zip(self.limits, self.used, strict=True)]

    def add_section(self, blocks: Sequence[Block]) -> None:
        written = [(block, write(block.runs, self.markup)) for block in blocks]
        written = [(block, text) for block, text in written if text.strip()]
        if not written:
            return
        whole = written[0][1] + "".join(block.separator + text for block, text in written[1:])
        if self.fits(whole, self.room(written[0][0].separator)):
            self.append(whole, written[0][0].separator)
            return
        if self.fits_empty(whole):
            self.new_part()
            self.append(whole, written[0][0].separator)
            return
        for block, text in written:
            if self.fits(text, self.room(block.separator)):
                self.append(text, block.separator)
            elif self.fits_empty(text):
                self.new_part()
                self.append(text, block.separator)
            else:
                self.split(block)

    def split(self, block: Block) -> None:
        """Spread a block that fits no part whole over as many parts as it needs."""
        costs = _Costs(_links_that_fit(block.runs, self.markup, self.limits), self.markup, self.limits)
        start = 0
        while start < costs.size:
            empty = not self.parts[-1]
            # A part that already holds something takes a piece ending at a sentence or better only.
            found = costs.scan(start, self.room(block.separator), BreakLevel.GRAPHEME if empty else BreakLevel.SENTENCE)
            best = found.best()
            if best is None and not empty:
                self.new_part()
                continue
            # Only a grapheme cluster bigger than a whole part has no cut: it is cut between code points.
            cut = best[0] if best is not None else found.end
            if cut <= start:
                raise ValueError("a single character exceeds an empty part's budget")
            self.append(write(costs.slice(start, cut), self.markup), block.separator)
            start = cut
            if start < costs.size:
                self.new_part()


def _links_that_fit(runs: Sequence[Run], markup: Markup, limits: Sequence[Limit]) -> list[Run]:
    """``runs`` with every link that would take over half a part shown as text instead ("label (url)"),
    which may be cut anywhere; a link itself never is."""
    out: list[Run] = []
    for run in runs:
        if run.kind == "link" and any(2 * run_overhead(run, markup, limit.measure) > limit.most for limit in limits):
            out.append(Run("text", links.as_text(run.text, run.url), run.bold, run.italic))
        else:
            out.append(run)
    return out


class _Costs:
    """A block's runs as one text: where each run starts, where it may be cut, and per limit an
    upper bound of what each character and each run's start cost once written."""

    def __init__(self, runs: Sequence[Run], markup: Markup, limits: Sequence[Limit]) -> None:
        # An empty run has no character to carry its cost and would shadow the run starting with it.
        self.runs = runs = [run for run in runs if run.text]
        self.starts: list[int] = []
        position = 0
        for run in runs:
            self.starts.append(position)
            position += len(run.text)
        self.size = position
        self.levels = break_levels("".join(run.text for run in runs))
        for run, start in zip(runs, self.starts, strict=True):
            if run.kind == "link":
                for inner in range(start + 1, start + len(run.text)):
                    self.levels[inner] = BreakLevel.NONE
        self.costs = [[cost for run in runs for cost in char_costs(run, markup, limit.measure)] for limit in limits]
        self.overheads = [[run_overhead(run, markup, limit.measure) for run in runs] for limit in limits]

    def scan(self, start: int, room: Sequence[int], worst: int) -> Reach[None]:
        run_index = bisect.bisect_right(self.starts, start) - 1
        used = [0] * len(room)
        dimensions = range(len(room))

        def take(position: int) -> bool:
            nonlocal run_index
            while run_index + 1 < len(self.starts) and self.starts[run_index + 1] <= position:
                run_index += 1
            opens = position == start or position == self.starts[run_index]
            steps = [self.costs[i][position] + (self.overheads[i][run_index] if opens else 0) for i in dimensions]
            if any(used[i] + steps[i] > room[i] for i in dimensions):
                return False
            for i in dimensions:
                used[i] += steps[i]
            return True

        return reach(self.levels, start, self.size, take, lambda: None, worst)

    def slice(self, start: int, stop: int) -> list[Run]:
        return slice_runs(self.runs, self.starts, start, stop)
