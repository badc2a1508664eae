"""Styled runs: a digest paragraph as pieces of one kind and style, and cut into section-sized pieces."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.digest.model import Paragraph
from bot.platforms.slack.limits import SlackLimits
from bot.platforms.slack.mrkdwn import RUN_OVERHEAD, code_cost, escape_url, is_space, rendered_link, text_cost
from bot.render import links
from bot.render.runs import Run, flatten, slice_runs
from bot.text.segments import BreakLevel, Reach, break_levels, reach, split_text

_BARE_URL = re.compile(r"https?://[^\s<>|\"'`，。、；：！？（）「」『』【】《》“”‘’]+")
_URL_TRAILING = ".,;:!?'\"*_~"


def paragraph_runs(nodes: Paragraph, limits: SlackLimits, *, bold: bool = False, italic: bool = False) -> list[Run]:
    def link(url: str, label: str, bold: bool, italic: bool) -> list[Run]:
        return link_runs(url, label, bold, italic, limits)

    def text(text: str, bold: bool, italic: bool, out: list[Run]) -> None:
        _text_with_bare_urls(text, bold, italic, limits, out)

    return normalise(flatten(nodes, link, text, bold=bold, italic=italic))


def _text_with_bare_urls(text: str, bold: bool, italic: bool, limits: SlackLimits, out: list[Run]) -> None:
    position = 0
    for match in _BARE_URL.finditer(text):
        url = match.group().rstrip(_URL_TRAILING)
        while url.endswith(")") and url.count("(") < url.count(")"):
            url = url[:-1].rstrip(_URL_TRAILING)
        if links.link_url(url, links.SLACK) is None:
            # "https://" or "http:///x" names no host: it stays text like the words around it.
            continue
        start = match.start()
        out.append(Run("text", text[position:start], bold, italic))
        out.extend(link_runs(url, url, bold, italic, limits))
        position = start + len(url)
    out.append(Run("text", text[position:], bold, italic))


def link_runs(url: str, label: str, bold: bool, italic: bool, limits: SlackLimits) -> list[Run]:
    url = url.strip()
    label = " ".join(label.split()) or url
    escaped_url = escape_url(url)
    link_room = limits.max_section_text // 2
    if links.link_url(url, links.SLACK) is None or len(escaped_url) > min(limits.max_link_url, link_room // 2):
        # Not a link a reader can follow (no scheme or host, e.g. "!here" or "https://"), or one
        # too long to keep whole: the reader still gets every character.
        return [Run("text", links.as_text(label, url), bold, italic)]
    label_room = link_room - len(escaped_url) - 3
    if sum(text_cost(char) for char in label) <= label_room:
        return [Run("link", label, bold, italic, escaped_url)]
    return [Run("link", piece, bold, italic, escaped_url)
            for piece in split_text(label, label_room, text_cost)]


def normalise(runs: Sequence[Run]) -> list[Run]:
    """Lines split out, code kept free of backticks and edge whitespace, neighbours merged."""
    pieces: list[Run] = []
    for run in runs:
        if run.kind == "link":
            pieces.append(run)
            continue
        for number, line in enumerate(run.text.split("\n")):
            if number:
                pieces.append(Run("text", "\n"))
            if run.kind == "text":
                pieces.append(run.with_text(line))
            else:
                pieces.extend(_code_pieces(line, run))
    merged: list[Run] = []
    pending: list[str] = []  # texts joined once at the end of a stretch: joining as we go is quadratic

    def flush() -> None:
        if len(pending) > 1:
            merged[-1] = merged[-1].with_text("".join(pending))
        pending.clear()

    for run in pieces:
        if not run.text:
            continue
        previous = merged[-1] if merged else None
        if (previous is not None and run.kind == "text" and previous.kind == "text"
                and (run.bold, run.italic) == (previous.bold, previous.italic)
                and "\n" not in (run.text, previous.text)):
            pending.append(run.text)
            continue
        flush()
        merged.append(run)
        pending.append(run.text)
    flush()
    return merged


def _code_pieces(line: str, run: Run) -> list[Run]:
    # A backtick cannot appear inside Slack code; it is written as a neutralised literal between
    # two code spans. Edge whitespace goes outside, where a closing backtick can still close.
    pieces: list[Run] = []
    for number, part in enumerate(line.split("`")):
        if number:
            pieces.append(run.with_text("`", "text"))
        first = next((index for index, char in enumerate(part) if not is_space(char)), len(part))
        last = len(part)
        while last > first and is_space(part[last - 1]):
            last -= 1
        pieces += [run.with_text(part[:first], "text"), run.with_text(part[first:last]),
                   run.with_text(part[last:], "text")]
    return pieces


# ---------------------------------------------------------------------------------------------
# Splitting a paragraph that does not fit one section
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Costs:
    """A paragraph's runs as one text: where each run starts and ends, where it may be cut, and
    an upper bound of what each character costs once written as mrkdwn."""

    size: int
    levels: bytearray
    costs: bytearray
    run_starts: list[int]
    run_ends: list[int]
    link_costs: dict[int, int]


def _costs(runs: Sequence[Run]) -> _Costs:
    text = "".join(run.text for run in runs)
    size = len(text)
    levels = break_levels(text)
    costs = bytearray(size)
    run_starts: list[int] = []
    position = 0
    for run in runs:
        run_starts.append(position)
        end = position + len(run.text)
        if run.kind == "link":
            # The whole link's length is charged at its first character (link_costs below).
            for inner in range(position + 1, end):
                levels[inner] = BreakLevel.NONE
        else:
            char_cost = text_cost if run.kind == "text" else code_cost
            for inner in range(position, end):
                costs[inner] = char_cost(text[inner])
        position = end
    link_costs = {start: len(rendered_link(run)) for start, run in zip(run_starts, runs, strict=True)
                  if run.kind == "link"}
    return _Costs(size, levels, costs, run_starts, [*run_starts[1:], size], link_costs)


def split_runs(runs: Sequence[Run], limit: int) -> list[list[Run]]:
    """Cut a paragraph's runs into pieces that each render within ``limit``.

    Cuts fall between sentences, else words, else grapheme clusters, never inside a link; a cut in
    a bold or italic stretch closes it and reopens it in the next piece (each piece is rendered on
    its own). Costs are upper bounds of the rendered length, so a piece never overshoots.
    """
    costs = _costs(runs)
    size = costs.size
    pieces: list[list[Run]] = []
    start = 0
    run_index = 0
    while start < size:
        while costs.run_ends[run_index] <= start:
            run_index += 1
        found = _scan(costs, start, run_index, limit)
        cut = size if found.end == size else _choose_cut(found.cuts, limit)
        if cut is None:
            # A single grapheme cluster longer than a section: no valid cut exists, so cut it.
            cut = max(found.end, start + 1)
        pieces.append(_slice(runs, costs.run_starts, start, cut))
        start = cut
    return pieces


def _scan(costs: _Costs, start: int, run_index: int, limit: int) -> Reach[int]:
    """How far a piece from ``start`` reaches within ``limit``, and the latest cut of each level on
    the way with the cost up to it."""
    run_starts, run_ends, link_costs, char_costs = costs.run_starts, costs.run_ends, costs.link_costs, costs.costs
    used = 0
    current = run_index

    def take(position: int) -> bool:
        nonlocal used, current
        if position >= run_ends[current]:
            current += 1
        # A link is charged whole at its first character; every run pays its markers once.
        cost = link_costs.get(position, char_costs[position])
        if position == start or position == run_starts[current]:
            cost += RUN_OVERHEAD
        if used + cost > limit:
            return False
        used += cost
        return True

    return reach(costs.levels, start, costs.size, take, lambda: used)


def _choose_cut(latest: Sequence[tuple[int, int] | None], limit: int) -> int | None:
    # The best kind of cut that still fills half the piece; else the furthest cut of any kind.
    for candidate in latest:
        if candidate is not None and candidate[1] * 2 >= limit:
            return candidate[0]
    found = [candidate[0] for candidate in latest if candidate is not None]
    return max(found) if found else None


def _slice(runs: Sequence[Run], run_starts: Sequence[int], start: int, stop: int) -> list[Run]:
    return normalise(slice_runs(runs, run_starts, start, stop))
