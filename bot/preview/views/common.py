"""What every view builder shares: reading text into runs while noting links, markdown's block lines,
and a part's plain text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from bot.preview.inline import Syntax, read_line, read_text
from bot.preview.model import Block, Meter, Part, Runs
from bot.preview.runs import RunBuilder, plain

_HEADING = re.compile(r"(#{1,6})[ \t]+(.*)")
_FONT = re.compile(r'<font\s+color="?(info|comment|warning)"?\s*>(.*?)</font>', re.IGNORECASE)


class Collector:
    """Reads the texts of one message into runs and remembers every link target it carries."""

    def __init__(self) -> None:
        self.links: list[str] = []

    def read(self, text: str, syntax: Syntax) -> Runs:
        out = RunBuilder()
        read_text(text, syntax, out)
        return self._kept(out)

    def plain(self, text: str) -> Runs:
        out = RunBuilder()
        out.add(text)
        return out.runs()

    def link(self, url: str) -> None:
        self.links.append(url)

    def markdown(self, text: str, syntax: Syntax, *, fonts: bool = False) -> tuple[Block, ...]:
        """Markdown lines as blocks: ``#`` headings and ``>`` quotes apart, other lines as text."""
        blocks: list[Block] = []
        pending: list[str] = []

        def flush() -> None:
            if pending:
                blocks.append(Block("text", self._line_runs(pending, syntax, fonts)))
                pending.clear()

        for line in text.split("\n"):
            heading = _HEADING.fullmatch(line)
            if heading is not None or line.startswith(">"):
                flush()
                content = heading.group(2) if heading is not None else line[1:].lstrip()
                kind, level = ("heading", len(heading.group(1))) if heading is not None else ("quote", 0)
                blocks.append(Block(kind, self._line_runs([content], syntax, fonts), level=level))
            else:
                pending.append(line)
        flush()
        return tuple(blocks)

    def _line_runs(self, lines: Sequence[str], syntax: Syntax, fonts: bool) -> Runs:
        out = RunBuilder()
        for number, line in enumerate(lines):
            if number:
                out.add("\n")
            if not fonts:
                read_line(line, syntax, out)
                continue
            position = 0
            for match in _FONT.finditer(line):
                read_line(line[position:match.start()], syntax, out)
                out.set_color(match.group(1).lower())
                read_line(match.group(2), syntax, out)
                out.set_color(None)
                position = match.end()
            read_line(line[position:], syntax, out)
        return self._kept(out)

    def _kept(self, out: RunBuilder) -> Runs:
        self.links.extend(out.links)
        return out.runs()


def mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one: a payload missing a part shows as empty."""
    return value if isinstance(value, dict) else {}


def block_text(block: Block) -> str:
    """What a reader reads of a block, its children included."""
    pieces = [plain(block.title), plain(block.runs), *(block_text(child) for child in block.children)]
    return "\n".join(piece for piece in pieces if piece)


def make_part(blocks: Iterable[Block], meters: Iterable[Meter], links: Collector) -> Part:
    shown = tuple(blocks)
    text = "\n".join(block_text(block) for block in shown if block.kind != "notification")
    return Part(shown, tuple(meters), text, frozenset(links.links))
