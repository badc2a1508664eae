"""Telegram rendering: digest model to sendMessage parameters (HTML), split within Telegram's limits.

The digest is laid out as a sequence of blocks (a title line, paragraphs, item headings), each a
run of styled text segments. Blocks are packed greedily into messages while four budgets last,
each measured the way Telegram measures it: code points of the parsed text, entity count, entity
payload bytes, and bytes of raw HTML. A message breaks between items where it can, else between
paragraphs, else between sentences, words, and as a last resort grapheme clusters. A bold, italic,
code or link span cut by a break is closed at the end of one message and reopened at the start of
the next, so every message stands alone.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from bot.digest.model import Bold, Code, Digest, Inline, Italic, Item, Link, Paragraph, Text
from bot.render import Payload, links, without_surrogates
from bot.render.splitting import BreakLevel, break_levels

__all__ = [
    "LIMITS",
    "TelegramLimits",
    "render_digest",
    "render_items",
    "render_notice",
    "telegram_link_url",
]


@dataclass(frozen=True, slots=True)
class TelegramLimits:
    """What one sendMessage may carry, in the units Telegram counts.

    ``max_chars`` counts Unicode code points of the text after HTML parsing (tdlib's count).
    Entity payload is measured as the sum over entities of ``entity_overhead_bytes`` plus the UTF-8
    length of the link URL as Telegram stores it (a bare host gains a "/"); that bounds the
    serialized size the server checks ("entities too long", seen near 9,500 bytes) from above,
    with room to spare. ``max_link_url_bytes`` keeps one huge
    URL from eating a whole message's entity budget; longer URLs are shown as text instead.
    """

    max_chars: int = 4096
    max_entities: int = 100
    max_entity_bytes: int = 9000
    entity_overhead_bytes: int = 20
    max_html_bytes: int = 32 * 1024
    max_link_url_bytes: int = 2048


LIMITS = TelegramLimits()

_LINK_PREVIEW_OFF = {"is_disabled": True}


# ---------------------------------------------------------------------------------------------
# Styled text


@dataclass(frozen=True, slots=True)
class _Mark:
    """One HTML tag that becomes one Telegram entity."""

    tag: str
    url: str = ""

    @property
    def open_html(self) -> str:
        if self.tag == "a":
            return f'<a href="{_escape_attribute(self.url)}">'
        return f"<{self.tag}>"

    @property
    def close_html(self) -> str:
        return f"</{self.tag}>"


_BOLD = _Mark("b")
_ITALIC = _Mark("i")
_CODE = _Mark("code")

Marks = tuple[_Mark, ...]


@dataclass(frozen=True, slots=True)
class _Segment:
    text: str
    marks: Marks = ()


@dataclass(slots=True)
class _Block:
    """A paragraph-like unit: never merged with its neighbours, cut inside only when it must be."""

    segments: list[_Segment]
    # Plain text put before the block when something precedes it in the same message.
    separator: str = "\n\n"
    # The first message's part marker goes right after this block (the title and date line).
    marker_after: bool = False
    # A heading: never the last thing in a message when the block after it could follow.
    keep_with_next: bool = False


# Telegram's server turns control characters into spaces and drops CR and U+2028..U+202E
# (tdlib's clean_input_string); doing it here keeps the count exact and the text intact.
_CLEAN_TABLE: dict[int, str | None] = {
    **{code: " " for code in range(32) if code != 10},
    13: None,
    0x2028: "\n",
    0x2029: "\n",
    **{code: None for code in range(0x202A, 0x202F)},
}


def _clean(text: str) -> str:
    return without_surrogates(text.translate(_CLEAN_TABLE))


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(text: str) -> str:
    return _escape_text(text).replace('"', "&quot;")


@lru_cache(maxsize=4096)
def telegram_link_url(url: str, limits: TelegramLimits = LIMITS) -> str | None:
    """``url`` if Telegram surely keeps it as a link target, else None (it is then shown as text).

    Telegram silently drops links it does not accept (other schemes, hosts without a dot, bad
    ports), which would lose the URL; the link policy's strict form is stricter than Telegram.
    """
    if links.link_url(url, links.TELEGRAM) is None or len(url.encode("utf-8")) > limits.max_link_url_bytes:
        return None
    return url


def _inline_segments(nodes: Sequence[Inline], marks: Marks, out: list[_Segment], limits: TelegramLimits) -> None:
    for node in nodes:
        if isinstance(node, Text | Code):
            text = _clean(node.text)
            if text:
                out.append(_Segment(text, _push(marks, _CODE) if isinstance(node, Code) else marks))
        elif isinstance(node, Bold):
            _inline_segments(node.children, _push(marks, _BOLD), out, limits)
        elif isinstance(node, Italic):
            _inline_segments(node.children, _push(marks, _ITALIC), out, limits)
        elif isinstance(node, Link):
            _link_segments(node.url, node.children, marks, out, limits)


def _push(marks: Marks, mark: _Mark) -> Marks:
    if mark in marks:
        return marks
    if mark.tag == "a":
        # A link inside a link: the inner target wins for its text.
        marks = tuple(existing for existing in marks if existing.tag != "a")
    return (*marks, mark)


# Characters that leave a link label blank to a reader (Telegram drops links over such text).
_BLANK = " \t\n\u00a0\u200b\u200c\u200d\u200e\u200f\ufeff\u3000"


def _is_blank(segments: Sequence[_Segment]) -> bool:
    return not any(segment.text.strip(_BLANK) for segment in segments)


def _link_segments(url: str, children: Sequence[Inline], marks: Marks, out: list[_Segment],
                   limits: TelegramLimits) -> None:
    label: list[_Segment] = []
    href = telegram_link_url(url, limits)
    if href is None:
        _inline_segments(children, marks, label, limits)
        shown_url = _clean(url)
        if not _is_blank(label):
            out.extend(label)
            if links.url_beside("".join(segment.text for segment in label), shown_url):
                out.append(_Segment(f" ({shown_url})", marks))
        else:
            out.append(_Segment(shown_url, marks))
        return
    link_marks = _push(marks, _Mark("a", href))
    _inline_segments(children, link_marks, label, limits)
    if not _is_blank(label):
        out.extend(label)
    else:
        # Telegram drops links over blank text; the URL itself becomes the label.
        out.append(_Segment(href, link_marks))


def _paragraph_block(paragraph: Paragraph, limits: TelegramLimits, separator: str = "\n\n") -> _Block:
    segments: list[_Segment] = []
    _inline_segments(paragraph, (), segments, limits)
    return _Block(segments, separator)


def _heading_block(text: str, separator: str = "\n\n") -> _Block:
    return _Block([_Segment(_clean(text), (_BOLD,))], separator, keep_with_next=True)


def _item_blocks(item: Item, limits: TelegramLimits) -> list[_Block]:
    heading: list[_Segment] = [_Segment(f"{item.number}. ")]
    _link_segments(item.url, (Text(item.title),), (), heading, limits)
    blocks = [_Block(heading, keep_with_next=True)]
    for index, paragraph in enumerate(item.summary):
        block = _paragraph_block(paragraph, limits, "\n" if index == 0 else "\n\n")
        if block.segments:
            blocks.append(block)
    return blocks


def _digest_sections(digest: Digest, limits: TelegramLimits) -> list[list[_Block]]:
    header_segments = []
    title = _clean(digest.title)
    if title.strip(_BLANK):
        header_segments.append(_Segment(title, (_BOLD,)))
        header_segments.append(_Segment("\n"))
    header_segments.append(_Segment(digest.date.isoformat()))
    opening = [_Block(header_segments, marker_after=True)]
    opening += [block for block in (_paragraph_block(paragraph, limits) for paragraph in digest.intro)
                if block.segments]
    sections = [opening]
    sections += [_item_blocks(item, limits) for item in digest.items]
    closing: list[_Block] = []
    if digest.commentary_heading and _clean(digest.commentary_heading).strip(_BLANK):
        closing.append(_heading_block(digest.commentary_heading))
    for paragraph in digest.commentary:
        # The first paragraph sits right under its heading.
        under_heading = len(closing) == 1 and closing[0].keep_with_next
        block = _paragraph_block(paragraph, limits, "\n" if under_heading else "\n\n")
        if block.segments:
            closing.append(block)
    if closing:
        sections.append(closing)
    return sections


# ---------------------------------------------------------------------------------------------
# Measuring and packing


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


def _mark_entity_bytes(mark: _Mark, limits: TelegramLimits) -> int:
    return limits.entity_overhead_bytes + (_stored_url_size(mark.url) if mark.url else 0)


@lru_cache(maxsize=4096)
def _stored_url_size(url: str) -> int:
    """UTF-8 bytes of ``url`` as Telegram stores it: a bare host gets a "/", the host is lower-cased."""
    parts = urlsplit(url)
    host = parts.netloc.partition(":")[0]
    growth = max(0, len(host.lower().encode("utf-8")) - len(host.encode("utf-8")))
    return len(url.encode("utf-8")) + growth + (0 if parts.path else 1)


def _html_size(text: str) -> int:
    return len(text.encode("utf-8"))


def _render_segments(segments: Sequence[_Segment], limits: TelegramLimits) -> tuple[str, _Usage]:
    """HTML for segments starting and ending with no open tag, and what it costs."""
    html: list[str] = []
    usage = _Usage()
    stack: Marks = ()
    for segment in segments:
        if not segment.text:
            continue
        if segment.marks != stack:
            common = _common_prefix(stack, segment.marks)
            html.extend(mark.close_html for mark in reversed(stack[common:]))
            for mark in segment.marks[common:]:
                html.append(mark.open_html)
                usage.entities += 1
                usage.entity_bytes += _mark_entity_bytes(mark, limits)
            stack = segment.marks
        html.append(_escape_text(segment.text))
        usage.chars += len(segment.text)
    html.extend(mark.close_html for mark in reversed(stack))
    text = "".join(html)
    usage.html_bytes = _html_size(text)
    return text, usage


def _common_prefix(first: Marks, second: Marks) -> int:
    common = 0
    for left, right in zip(first, second, strict=False):
        if left != right:
            break
        common += 1
    return common


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

    def add_section(self, blocks: Sequence[_Block]) -> None:
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

    def _add_block(self, block: _Block, html: str, usage: _Usage) -> None:
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

    def _append(self, block: _Block, html: str, usage: _Usage) -> None:
        part = self.current
        if not part.empty:
            part.html.append(_escape_text(block.separator))
            part.usage = part.usage.plus(_separator_usage(block.separator))
        part.html.append(html)
        part.usage = part.usage.plus(usage)
        part.heading_last = block.keep_with_next
        if block.marker_after:
            part.marker_slot = len(part.html)

    def _split_block(self, block: _Block) -> None:
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
                part.html.append(_escape_text(separator))
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

    def _scan(self, block: _Block, text: str, levels: bytearray, ends: list[int], start: int,
              separator: str, worst: int, inside_cluster: bool) -> tuple[int, _Usage] | None:
        """The farthest cut from ``start`` of the best level up to ``worst`` that fits the current
        message; with ``inside_cluster``, a cut between code points when no better one fits."""
        limits, capacity = self.limits, self.capacity
        base = self.current.usage.plus(_separator_usage(separator))
        chars, entities, entity_bytes, html_bytes = base.chars, base.entities, base.entity_bytes, base.html_bytes
        segments = block.segments
        segment_index = bisect_right(ends, start)
        stack: Marks = ()
        closing_bytes = 0
        latest: list[tuple[int, _Usage] | None] = [None] * (BreakLevel.GRAPHEME + 1)
        position = start
        size = len(text)
        while position < size:
            marks = segments[segment_index].marks
            step_entities = step_entity_bytes = step_html = 0
            new_closing = closing_bytes
            if marks != stack:
                common = _common_prefix(stack, marks)
                for mark in stack[common:]:
                    closed = len(mark.close_html)
                    step_html += closed
                    new_closing -= closed
                for mark in marks[common:]:
                    step_entities += 1
                    step_entity_bytes += _mark_entity_bytes(mark, limits)
                    step_html += _html_size(mark.open_html)
                    new_closing += len(mark.close_html)
            step_html += _escaped_size(text[position])
            if (chars + 1 > capacity.chars or entities + step_entities > capacity.entities
                    or entity_bytes + step_entity_bytes > capacity.entity_bytes
                    or html_bytes + step_html + new_closing > capacity.html_bytes):
                break
            chars += 1
            entities += step_entities
            entity_bytes += step_entity_bytes
            html_bytes += step_html
            stack, closing_bytes = marks, new_closing
            position += 1
            while position < size and ends[segment_index] <= position:
                segment_index += 1
            level = levels[position]
            if level <= worst:
                latest[level] = (position, _Usage(chars, entities, entity_bytes, html_bytes + closing_bytes))
        for candidate in latest:
            if candidate is not None:
                return candidate
        if inside_cluster and position > start:
            # Only a grapheme cluster longer than a whole message gets here: no clean cut exists,
            # so it is cut between code points rather than dropped.
            return position, _Usage(chars, entities, entity_bytes, html_bytes + closing_bytes)
        return None


def _separator_usage(separator: str) -> _Usage:
    return _Usage(chars=len(separator), html_bytes=_html_size(_escape_text(separator)))


def _slice_html(segments: Sequence[_Segment], ends: list[int], start: int, end: int) -> str:
    pieces: list[_Segment] = []
    index = bisect_right(ends, start)
    while index < len(segments) and (index == 0 or ends[index - 1] < end):
        segment_start = ends[index - 1] if index else 0
        text = segments[index].text[max(start - segment_start, 0): end - segment_start]
        pieces.append(_Segment(text, segments[index].marks))
        index += 1
    return _render_segments(pieces, LIMITS)[0]


def _marker(number: int, total: int) -> str:
    return f"({number}/{total})"


def _pack(sections: Sequence[Sequence[_Block]], limits: TelegramLimits) -> list[Payload]:
    digits = 3
    while True:
        # Room for " (k/n)" or "(k/n)\n" with k and n of up to ``digits`` digits.
        reserve = 4 + 2 * digits
        packer = _Packer(limits, reserve)
        for blocks in sections:
            packer.add_section(blocks)
        parts = [part for part in packer.parts if not part.empty]
        if len(str(len(parts))) <= digits:
            break
        digits = len(str(len(parts)))
    payloads: list[Payload] = []
    total = len(parts)
    for number, part in enumerate(parts, start=1):
        html = list(part.html)
        if total > 1:
            marker = _marker(number, total)
            if number == 1 and part.marker_slot is not None:
                html.insert(part.marker_slot, f" {marker}")
            else:
                html.insert(0, f"{marker}\n")
        payloads.append(_payload("".join(html)))
    return payloads


def _payload(html: str) -> Payload:
    # The last guard: every text reaching here went through _clean, and no link target holds a surrogate.
    return {"text": without_surrogates(html), "parse_mode": "HTML", "link_preview_options": dict(_LINK_PREVIEW_OFF)}


# ---------------------------------------------------------------------------------------------
# Public API


def render_digest(digest: Digest, *, limits: TelegramLimits = LIMITS) -> list[Payload]:
    """The sendMessage parameters for the whole digest, one dict per message, in order."""
    return _pack(_digest_sections(digest, limits), limits)


def render_items(heading: str, items: Sequence[Item], digest: Digest, *,
                 limits: TelegramLimits = LIMITS) -> list[Payload]:
    """A reply listing some items of ``digest`` (one item, a category) under ``heading``."""
    sections = [_item_blocks(item, limits) for item in items]
    if _clean(heading).strip(_BLANK):
        heading_block = _heading_block(heading)
        heading_block.marker_after = True
        if sections:
            sections[0] = [heading_block, *sections[0]]
        else:
            sections = [[heading_block]]
    return _pack(sections, limits)


def render_notice(text: str, *, limits: TelegramLimits = LIMITS) -> list[Payload]:
    """The bot's own words as plain text (escaped), split like any message; nothing for blank text."""
    if not _clean(text).strip(_BLANK):
        return []
    return _pack([[_Block([_Segment(_clean(text))])]], limits)
