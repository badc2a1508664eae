"""Packing Telegram blocks into messages as Telegram measures them, cut at the best break, with (k/n) markers."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from bot.platforms.telegram.limits import TelegramLimits
from bot.platforms.telegram.markup import Block, Mark, Marks, Segment, common_prefix, escape_text
from bot.render import Payload, without_surrogates
from bot.render.measure import utf8_bytes
from bot.render.parts import marker_room, number_parts, part_marker
from bot.text.segments import BreakLevel, break_levels, reach

_LINK_PREVIEW_OFF = {"is_disabled": True}


@dataclass(slots=True)
class _Usage:
    chars: int = 0
    entities: int = 0
    entity_bytes: int = 0
    html_bytes: int = 0

    def plus(self, other: _Usage) -> _Usage:
        return _Usage(self.chars + other.chars, self.entities + other.entities,
                      self.entity_bytes + other.entity_bytes, self.html_bytes + other.html_bytes)


def _escaped_size(char: str) -> int:
    """UTF-8 bytes of one code point once HTML-escaped."""
    code = ord(char)
    if code < 0x80:
        return 5 if char == "&" else 4 if char in "<>" else 1
    return 2 if code < 0x800 else 3 if code < 0x10000 else 4


def _mark_entity_bytes(mark: Mark, limits: TelegramLimits) -> int:
    return limits.entity_overhead_bytes + (_stored_url_size(mark.url) if mark.url else 0)


@lru_cache(maxsize=4096)
def _stored_url_size(url: str) -> int:
    """UTF-8 bytes of ``url`` as Telegram stores it: a bare host gets a "/", the host is lower-cased."""
    parts = urlsplit(url)
    host = parts.netloc.partition(":")[0]
    growth = max(0, len(host.lower().encode("utf-8")) - len(host.encode("utf-8")))
    return len(url.encode("utf-8")) + growth + (0 if parts.path else 1)


def _write_segments(segments: Sequence[Segment]) -> tuple[str, list[Mark]]:
    """HTML for segments starting and ending with no open tag, and every tag it opens (one entity each)."""
    html: list[str] = []
    opened: list[Mark] = []
    stack: Marks = ()
    for segment in segments:
        if not segment.text:
            continue
        if segment.marks != stack:
            common = common_prefix(stack, segment.marks)
            html.extend(mark.close_html for mark in reversed(stack[common:]))
            for mark in segment.marks[common:]:
                html.append(mark.open_html)
                opened.append(mark)
            stack = segment.marks
        html.append(escape_text(segment.text))
    html.extend(mark.close_html for mark in reversed(stack))
    return "".join(html), opened


def _render_segments(segments: Sequence[Segment], limits: TelegramLimits) -> tuple[str, _Usage]:
    """HTML for segments starting and ending with no open tag, and what it costs."""
    text, opened = _write_segments(segments)
    usage = _Usage(chars=sum(len(segment.text) for segment in segments), entities=len(opened),
                   entity_bytes=sum(_mark_entity_bytes(mark, limits) for mark in opened),
                   html_bytes=utf8_bytes(text))
    return text, usage


@dataclass(slots=True)
class _Part:
    html: list[str] = field(default_factory=list)
    usage: _Usage = field(default_factory=_Usage)
    marker_slot: int | None = None
    # The last thing in the message is a heading waiting for its first paragraph.
    heading_last: bool = False

    @property
    def empty(self) -> bool:
        return not self.html


class _Packer:
    def __init__(self, limits: TelegramLimits, reserve: int) -> None:
        self.limits = limits
        # Room kept in every message for its part marker.
        self.capacity = _Usage(limits.max_chars - reserve, limits.max_entities, limits.max_entity_bytes,
                               limits.max_html_bytes - reserve)
        self.parts: list[_Part] = [_Part()]

    @property
    def current(self) -> _Part:
        return self.parts[-1]

    def fits(self, usage: _Usage) -> bool:
        capacity = self.capacity
        return (usage.chars <= capacity.chars and usage.entities <= capacity.entities
                and usage.entity_bytes <= capacity.entity_bytes and usage.html_bytes <= capacity.html_bytes)

    def new_part(self) -> None:
        if not self.current.empty:
            self.parts.append(_Part())

    def add_section(self, blocks: Sequence[Block]) -> None:
        rendered = [(block, *_render_segments(block.segments, self.limits)) for block in blocks]
        rendered = [entry for entry in rendered if entry[2].chars]
        if not rendered:
            return
        total = _Usage()
        for index, (block, _html, usage) in enumerate(rendered):
            total = total.plus(usage)
            if index:
                total = total.plus(_separator_usage(block.separator))
        first_separator = _separator_usage(rendered[0][0].separator)
        if not self.current.empty:
            if self.fits(self.current.usage.plus(first_separator).plus(total)):
                for entry in rendered:
                    self._append(*entry)
                return
            if self.fits(total):
                self.new_part()
        for index, (block, html, usage) in enumerate(rendered):
            if block.keep_with_next and index + 1 < len(rendered) and not self.current.empty:
                following, _following_html, following_usage = rendered[index + 1]
                together = (self.current.usage.plus(_separator_usage(block.separator)).plus(usage)
                            .plus(_separator_usage(following.separator)).plus(following_usage))
                if not self.fits(together):
                    self.new_part()
            self._add_block(block, html, usage)

    def _add_block(self, block: Block, html: str, usage: _Usage) -> None:
        part = self.current
        needed = usage if part.empty else part.usage.plus(_separator_usage(block.separator)).plus(usage)
        if self.fits(needed):
            self._append(block, html, usage)
            return
        if not part.empty and not part.heading_last and self.fits(usage):
            self.new_part()
            self._append(block, html, usage)
            return
        self._split_block(block)

    def _append(self, block: Block, html: str, usage: _Usage) -> None:
        part = self.current
        if not part.empty:
            part.html.append(escape_text(block.separator))
            part.usage = part.usage.plus(_separator_usage(block.separator))
        part.html.append(html)
        part.usage = part.usage.plus(usage)
        part.heading_last = block.keep_with_next
        if block.marker_after:
            part.marker_slot = len(part.html)

    def _split_block(self, block: Block) -> None:
        """Spread one block that fits no message whole over as many messages as it needs."""
        text = "".join(segment.text for segment in block.segments)
        levels = break_levels(text)
        # Segment boundaries as positions into ``text``, with each segment's marks.
        ends: list[int] = []
        position = 0
        for segment in block.segments:
            position += len(segment.text)
            ends.append(position)
        start = 0
        first = True
        while start < len(text):
            part = self.current
            separator = block.separator if first and not part.empty else ""
            # A message that already holds something only takes a piece ending at a sentence;
            # otherwise the piece starts the next message.
            worst = BreakLevel.GRAPHEME if part.empty or part.heading_last else BreakLevel.SENTENCE
            cut = self._scan(block, text, levels, ends, start, separator, worst, inside_cluster=part.empty)
            if cut is None:
                if part.empty:
                    raise RuntimeError("a single character exceeds an empty Telegram message's budget")
                self.new_part()
                continue
            end, usage = cut
            if separator:
                part.html.append(escape_text(separator))
            part.html.append(_slice_html(block.segments, ends, start, end))
            part.usage = usage
            part.heading_last = False
            first = False
            start = end
            if start < len(text):
                self.new_part()
        self.current.heading_last = block.keep_with_next
        if block.marker_after:
            self.current.marker_slot = len(self.current.html)

    def _scan(self, block: Block, text: str, levels: bytearray, ends: list[int], start: int,
              separator: str, worst: int, inside_cluster: bool) -> tuple[int, _Usage] | None:
        """The farthest cut from ``start`` of the best level up to ``worst`` that fits the current
        message; with ``inside_cluster``, a cut between code points when no better one fits."""
        base = self.current.usage.plus(_separator_usage(separator))
        take, usage = _meter(block.segments, text, ends, start, base, self.capacity, self.limits)
        found = reach(levels, start, len(text), take, usage, worst)
        best = found.best()
        if best is not None:
            return best
        if inside_cluster and found.end > start:
            # Only a grapheme cluster longer than a whole message gets here: no clean cut exists,
            # so it is cut between code points rather than dropped.
            return found.end, usage()
        return None


def _meter(segments: Sequence[Segment], text: str, ends: list[int], start: int, base: _Usage, capacity: _Usage,
           limits: TelegramLimits) -> tuple[Callable[[int], bool], Callable[[], _Usage]]:
    """What charging one more character from ``start`` costs in all four of Telegram's budgets, and
    the usage so far as it would be with every open tag closed."""
    chars, entities, entity_bytes, html_bytes = base.chars, base.entities, base.entity_bytes, base.html_bytes
    segment_index = bisect_right(ends, start)
    stack: Marks = ()
    closing_bytes = 0

    def take(position: int) -> bool:
        nonlocal chars, entities, entity_bytes, html_bytes, segment_index, stack, closing_bytes
        while ends[segment_index] <= position:
            segment_index += 1
        marks = segments[segment_index].marks
        step_entities = step_entity_bytes = step_html = 0
        new_closing = closing_bytes
        if marks != stack:
            common = common_prefix(stack, marks)
            for mark in stack[common:]:
                closed = len(mark.close_html)
                step_html += closed
                new_closing -= closed
            for mark in marks[common:]:
                step_entities += 1
                step_entity_bytes += _mark_entity_bytes(mark, limits)
                step_html += utf8_bytes(mark.open_html)
                new_closing += len(mark.close_html)
        step_html += _escaped_size(text[position])
        if (chars + 1 > capacity.chars or entities + step_entities > capacity.entities
                or entity_bytes + step_entity_bytes > capacity.entity_bytes
                or html_bytes + step_html + new_closing > capacity.html_bytes):
            return False
        chars += 1
        entities += step_entities
        entity_bytes += step_entity_bytes
        html_bytes += step_html
        stack, closing_bytes = marks, new_closing
        return True

    def usage() -> _Usage:
        return _Usage(chars, entities, entity_bytes, html_bytes + closing_bytes)

    return take, usage


def _separator_usage(separator: str) -> _Usage:
    return _Usage(chars=len(separator), html_bytes=utf8_bytes(escape_text(separator)))


def _slice_html(segments: Sequence[Segment], ends: list[int], start: int, end: int) -> str:
    pieces: list[Segment] = []
    index = bisect_right(ends, start)
    while index < len(segments) and (index == 0 or ends[index - 1] < end):
        segment_start = ends[index - 1] if index else 0
        text = segments[index].text[max(start - segment_start, 0): end - segment_start]
        pieces.append(Segment(text, segments[index].marks))
        index += 1
    return _write_segments(pieces)[0]


def pack(sections: Sequence[Sequence[Block]], limits: TelegramLimits) -> list[Payload]:
    """One sendMessage payload per message for ``sections``, each within ``limits``, marked (k/n) if many."""

    def attempt(digits: int) -> list[_Part]:
        # Room for " (k/n)" or "(k/n)\n" in every message.
        packer = _Packer(limits, marker_room(digits))
        for blocks in sections:
            packer.add_section(blocks)
        return [part for part in packer.parts if not part.empty]

    parts = number_parts(attempt)
    payloads: list[Payload] = []
    total = len(parts)
    for number, part in enumerate(parts, start=1):
        html = list(part.html)
        if total > 1:
            marker = part_marker(number, total)
            if number == 1 and part.marker_slot is not None:
                html.insert(part.marker_slot, f" {marker}")
            else:
                html.insert(0, f"{marker}\n")
        payloads.append(_payload("".join(html)))
    return payloads


def _payload(html: str) -> Payload:
    # The last guard: every text reaching here went through clean, and no link target holds a surrogate.
    return {"text": without_surrogates(html), "parse_mode": "HTML", "link_preview_options": dict(_LINK_PREVIEW_OFF)}
