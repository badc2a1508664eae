"""Slack rendering: the digest model as chat.postMessage parameters (Block Kit), split within Slack's limits."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.digest.model import Bold, Code, Digest, Inline, Italic, Item, Link, Paragraph, Text, plain_text
from bot.render import (
    Payload,
    digest_without_surrogates,
    item_without_surrogates,
    links,
    payloads_without_surrogates,
    without_surrogates,
)
from bot.render.splitting import BreakLevel, break_levels, grapheme_boundaries, split_text

__all__ = ["LIMITS", "SlackLimits", "render_digest", "render_items", "render_notice"]


ZWSP = "\u200b"
ELLIPSIS = "…"
# Room a context line may take beside the header (the date, or a shortened title and "(2/3)").
_MAX_CONTEXT_TEXT = 600


@dataclass(frozen=True, slots=True)
class SlackLimits:
    """Slack's message limits, in code points of the text as sent (what Slack and slack-sdk count)."""

    max_blocks: int = 50
    # All block text of one message. Slack refuses somewhere near 12-13k (undocumented); split well before.
    max_block_text: int = 11_000
    max_section_text: int = 3_000
    max_header_text: int = 150
    max_context_elements: int = 10
    # The top-level notification text; Slack truncates past 40k, a notification needs far less.
    max_fallback_text: int = 4_000
    # A longer URL is written out as text: a link is one piece that no split may cut.
    max_link_url: int = 2_000
    # How much of the title later parts repeat beside their "(2/3)".
    max_part_title: int = 100

    def __post_init__(self) -> None:
        if self.max_section_text < 100 or self.max_header_text < 10 or self.max_fallback_text < 100:
            raise ValueError("Slack limits too small to render anything")
        if self.max_block_text < self.max_section_text + self.max_header_text + 2 * _MAX_CONTEXT_TEXT:
            raise ValueError("max_block_text must hold a full section beside the header and a context line")
        if self.max_blocks < 4 or self.max_context_elements < 1:
            raise ValueError("a message needs room for a header, a context line and content")


LIMITS = SlackLimits()
# Worst-case characters a run adds beyond its own text when written out: around a styled span a
# U+200B, the opening and closing markers, and the U+200B after them (6); around code the
# backticks and a U+200B either side (4).
_RUN_OVERHEAD = 10
# Reserved beside a part's title for " · (k/n)"; six digits each cover any digest Slack could hold.
_PART_MARK_ROOM = len(" · (999999/999999)")

_BARE_URL = re.compile(r"https?://[^\s<>|\"'`，。、；：！？（）「」『』【】《》“”‘’]+")
_URL_TRAILING = ".,;:!?'\"*_~"
_TEXT_SPECIALS = re.compile(r"[&<>*_~`]")
_CODE_SPECIALS = re.compile(r"[&<>]")
_URL_UNSAFE = re.compile(r"[|<>\s\x00-\x1f\x7f]")
_MARKER_CHARS = "*_~`"


# ---------------------------------------------------------------------------------------------
# Escaping
#
# Slack has no escape for its formatting characters, only entities for & < >. Literal `*`, `_`, `~`
# and backticks from the digest are neutralised by a U+200B on both sides: a marker takes effect
# only with a word boundary on one side and text on the other, and a marker between two U+200B
# has neither (whether Slack reads U+200B as a boundary or as a letter). U+200B is invisible and
# keeps the character itself for copy and search, unlike look-alike substitutes (∗, ＿). A marker
# between two letters or digits can never open or close a span, so snake_case_names and 5*3 stay
# untouched.
#
# Mention safety: every `<` in digest text becomes `&lt;`, so `<!channel>`, `<@U…>` and `<#C…>` stay
# text; the only `<` we write opens a link whose URL has a scheme. mrkdwn objects are also sent with
# verbatim=true so Slack does not turn bare "@name" or "#channel" words into mentions or channel
# links; bare http(s) URLs are made into links here instead.
# ---------------------------------------------------------------------------------------------


def _escape_text(text: str, quote_guard: bool = True) -> str:
    size = len(text)
    lead = size - len(text.lstrip())

    def replace_special(match: re.Match[str]) -> str:
        char = match.group()
        index = match.start()
        if char == "&":
            return "&amp;"
        if char == "<":
            return "&lt;"
        if char == ">":
            # A line starting with &gt; would be a block quote.
            if quote_guard and index <= lead:
                return ZWSP + "&gt;"
            return "&gt;"
        if (char != "`" and 0 < index < size - 1
                and text[index - 1].isalnum() and text[index + 1].isalnum()):
            return char
        return ZWSP + char + ZWSP

    return _TEXT_SPECIALS.sub(replace_special, text)


def _escape_code(text: str) -> str:
    return _CODE_SPECIALS.sub(lambda match: {"&": "&amp;", "<": "&lt;", ">": "&gt;"}[match.group()], text)


def _escape_url(url: str) -> str:
    def percent(match: re.Match[str]) -> str:
        return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8"))

    return _URL_UNSAFE.sub(percent, url).replace("&", "&amp;")


def _text_cost(char: str) -> int:
    """Upper bound of the characters one code point of digest text becomes in mrkdwn."""
    if char == "&" or char == ">":
        return 5
    if char == "<":
        return 4
    if char in _MARKER_CHARS:
        return 3
    return 1


def _code_cost(char: str) -> int:
    return 5 if char == "&" else 4 if char in "<>" else 1


def _is_space(char: str) -> bool:
    return char.isspace() or char == ZWSP


def _peels(char: str) -> bool:
    """Whether ``char`` may not stand just inside a formatting marker (the marker would not take
    effect there); such characters move outside the span instead."""
    return char.isspace() or char == ZWSP or char in _MARKER_CHARS


def _visible(text: str) -> bool:
    return bool(text.replace(ZWSP, "").strip())


def _plain_for_header(text: str) -> str:
    # plain_text never makes mentions, but a "<!channel>" in a header is still best left visibly inert.
    return re.sub(r"<(?=[!@#])", "<" + ZWSP, " ".join(text.split()))


# ---------------------------------------------------------------------------------------------
# Runs: a paragraph flattened into pieces of one kind and one style
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Run:
    kind: Literal["text", "code", "link"]
    text: str  # what the reader sees (a link's label)
    bold: bool = False
    italic: bool = False
    url: str = ""  # links: already escaped for mrkdwn

    @property
    def styled(self) -> bool:
        return self.bold or self.italic

    def with_text(self, text: str, kind: Literal["text", "code", "link"] | None = None) -> _Run:
        # dataclasses.replace is several times slower, and this runs once per piece of text.
        return _Run(kind or self.kind, text, self.bold, self.italic, self.url)

    def rendered_link(self) -> str:
        return f"<{self.url}|{_escape_text(self.text, quote_guard=False)}>"


def _runs(nodes: Paragraph, limits: SlackLimits, *, bold: bool = False, italic: bool = False) -> list[_Run]:
    out: list[_Run] = []
    _flatten(nodes, bold, italic, limits, out)
    return _normalise(out)


def _flatten(nodes: Sequence[Inline], bold: bool, italic: bool, limits: SlackLimits, out: list[_Run]) -> None:
    for node in nodes:
        if isinstance(node, Text):
            _text_with_bare_urls(node.text, bold, italic, limits, out)
        elif isinstance(node, Bold):
            _flatten(node.children, True, italic, limits, out)
        elif isinstance(node, Italic):
            _flatten(node.children, bold, True, limits, out)
        elif isinstance(node, Code):
            out.append(_Run("code", node.text, bold, italic))
        elif isinstance(node, Link):
            out.extend(_link_runs(node.url, plain_text(node.children), bold, italic, limits))


def _text_with_bare_urls(text: str, bold: bool, italic: bool, limits: SlackLimits, out: list[_Run]) -> None:
    position = 0
    for match in _BARE_URL.finditer(text):
        url = match.group().rstrip(_URL_TRAILING)
        while url.endswith(")") and url.count("(") < url.count(")"):
            url = url[:-1].rstrip(_URL_TRAILING)
        if links.link_url(url, links.SLACK) is None:
            # "https://" or "http:///x" names no host: it stays text like the words around it.
            continue
        start = match.start()
        out.append(_Run("text", text[position:start], bold, italic))
        out.extend(_link_runs(url, url, bold, italic, limits))
        position = start + len(url)
    out.append(_Run("text", text[position:], bold, italic))


def _link_runs(url: str, label: str, bold: bool, italic: bool, limits: SlackLimits) -> list[_Run]:
    url = url.strip()
    label = " ".join(label.split()) or url
    escaped_url = _escape_url(url)
    link_room = limits.max_section_text // 2
    if links.link_url(url, links.SLACK) is None or len(escaped_url) > min(limits.max_link_url, link_room // 2):
        # Not a link a reader can follow (no scheme or host, e.g. "!here" or "https://"), or one
        # too long to keep whole: the reader still gets every character.
        return [_Run("text", links.as_text(label, url), bold, italic)]
    label_room = link_room - len(escaped_url) - 3
    if sum(_text_cost(char) for char in label) <= label_room:
        return [_Run("link", label, bold, italic, escaped_url)]
    return [_Run("link", piece, bold, italic, escaped_url)
            for piece in split_text(label, label_room, _text_cost)]


def _normalise(runs: Sequence[_Run]) -> list[_Run]:
    """Lines split out, code kept free of backticks and edge whitespace, neighbours merged."""
    pieces: list[_Run] = []
    for run in runs:
        if run.kind == "link":
            pieces.append(run)
            continue
        for number, line in enumerate(run.text.split("\n")):
            if number:
                pieces.append(_Run("text", "\n"))
            if run.kind == "text":
                pieces.append(run.with_text(line))
            else:
                pieces.extend(_code_pieces(line, run))
    merged: list[_Run] = []
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


def _code_pieces(line: str, run: _Run) -> list[_Run]:
    # A backtick cannot appear inside Slack code; it is written as a neutralised literal between
    # two code spans. Edge whitespace goes outside, where a closing backtick can still close.
    pieces: list[_Run] = []
    for number, part in enumerate(line.split("`")):
        if number:
            pieces.append(run.with_text("`", "text"))
        first = next((index for index, char in enumerate(part) if not _is_space(char)), len(part))
        last = len(part)
        while last > first and _is_space(part[last - 1]):
            last -= 1
        pieces += [run.with_text(part[:first], "text"), run.with_text(part[first:last]),
                   run.with_text(part[last:], "text")]
    return pieces


# ---------------------------------------------------------------------------------------------
# Writing runs as mrkdwn
# ---------------------------------------------------------------------------------------------


class _Writer:
    """Writes runs into one mrkdwn string, placing U+200B where a marker needs a boundary.

    Slack applies ``*bold*``, ``_italic_`` and backtick code only when the opening marker follows a
    boundary and the closing marker is followed by one; a CJK character is no boundary, so
    ``中*粗体*文`` stays literal. A U+200B is written before an opener and after a closer whenever the
    neighbour is not whitespace. Whitespace and literal marker characters at the edges of a span move
    outside it, because a marker next to them would not take effect either.
    """

    def __init__(self) -> None:
        self.out: list[str] = []
        self.boundary = True  # the last thing written lets a marker open (start, space, U+200B, opener)
        self.after_closer = False  # a marker just closed: it needs a boundary after it

    def write(self, runs: Sequence[_Run]) -> str:
        index = 0
        while index < len(runs):
            end = index + 1
            if runs[index].styled:
                style = (runs[index].bold, runs[index].italic)
                while end < len(runs) and (runs[end].bold, runs[end].italic) == style and runs[end].text != "\n":
                    end += 1
                self._styled(runs[index:end])
            else:
                self._plain(runs[index])
            index = end
        return "".join(self.out)

    def _emit(self, text: str, boundary_after: bool) -> None:
        self.out.append(text)
        self.boundary = boundary_after
        self.after_closer = False

    def _plain(self, run: _Run, quote_guard: bool = True) -> None:
        if run.kind == "link":
            if self.after_closer:
                self.out.append(ZWSP)
            self._emit(run.rendered_link(), False)
        elif run.kind == "code":
            lead = "" if self.boundary else ZWSP
            self._emit(f"{lead}`{_escape_code(run.text)}`", False)
            self.after_closer = True
        else:
            if self.after_closer and not _is_space(run.text[0]):
                self.out.append(ZWSP)
            escaped = _escape_text(run.text, quote_guard)
            self._emit(escaped, _is_space(escaped[-1]))

    def _styled(self, group: Sequence[_Run]) -> None:
        runs = list(group)
        prefix: list[_Run] = []
        suffix: list[_Run] = []
        while runs and runs[0].kind == "text":
            text = runs[0].text
            cut = next((i for i, char in enumerate(text) if not _peels(char)), len(text))
            if cut:
                prefix.append(runs[0].with_text(text[:cut]))
            if cut < len(text):
                runs[0] = runs[0].with_text(text[cut:])
                break
            runs.pop(0)
        while runs and runs[-1].kind == "text":
            text = runs[-1].text
            keep = len(text)
            while keep and _peels(text[keep - 1]):
                keep -= 1
            if keep < len(text):
                suffix.insert(0, runs[-1].with_text(text[keep:]))
            if keep:
                runs[-1] = runs[-1].with_text(text[:keep])
                break
            runs.pop()
        for run in prefix:
            self._plain(run)
        if runs:
            first = runs[0]
            opener = ("*" if first.bold else "") + ("_" if first.italic else "")
            self._emit(("" if self.boundary else ZWSP) + opener, True)
            for number, run in enumerate(runs):
                self._plain(run, quote_guard=number > 0)
            self._emit(opener[::-1], False)
            self.after_closer = True
        for run in suffix:
            self._plain(run)


def _render(runs: Sequence[_Run]) -> str:
    return _Writer().write(runs)


# ---------------------------------------------------------------------------------------------
# Splitting a paragraph that does not fit one section
# ---------------------------------------------------------------------------------------------


def _split_runs(runs: Sequence[_Run], limit: int) -> list[list[_Run]]:
    """Cut a paragraph's runs into pieces that each render within ``limit``.

    Cuts fall between sentences, else words, else grapheme clusters, never inside a link; a cut in
    a bold or italic stretch closes it and reopens it in the next piece (each piece is rendered on
    its own). Costs are upper bounds of the rendered length, so a piece never overshoots.
    """
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
            char_cost = _text_cost if run.kind == "text" else _code_cost
            for inner in range(position, end):
                costs[inner] = char_cost(text[inner])
        position = end
    link_costs = {start: len(run.rendered_link()) for start, run in zip(run_starts, runs, strict=True)
                  if run.kind == "link"}
    run_ends = [*run_starts[1:], size]

    pieces: list[list[_Run]] = []
    start = 0
    run_index = 0
    while start < size:
        while run_ends[run_index] <= start:
            run_index += 1
        used = 0
        position = start
        current = run_index
        latest: list[tuple[int, int] | None] = [None] * BreakLevel.NONE
        while position < size:
            if position >= run_ends[current]:
                current += 1
            cost = link_costs.get(position, costs[position])
            if position == start or position == run_starts[current]:
                cost += _RUN_OVERHEAD
            if used + cost > limit:
                break
            used += cost
            position += 1
            level = levels[position]
            if level < BreakLevel.NONE:
                latest[level] = (position, used)
        cut = size if position == size else _choose_cut(latest, limit)
        if cut is None:
            # A single grapheme cluster longer than a section: no valid cut exists, so cut it.
            cut = max(position, start + 1)
        pieces.append(_slice(runs, run_starts, start, cut))
        start = cut
    return pieces


def _choose_cut(latest: Sequence[tuple[int, int] | None], limit: int) -> int | None:
    # The best kind of cut that still fills half the piece; else the furthest cut of any kind.
    for candidate in latest:
        if candidate is not None and candidate[1] * 2 >= limit:
            return candidate[0]
    found = [candidate[0] for candidate in latest if candidate is not None]
    return max(found) if found else None


def _slice(runs: Sequence[_Run], run_starts: Sequence[int], start: int, stop: int) -> list[_Run]:
    out: list[_Run] = []
    index = bisect.bisect_right(run_starts, start) - 1
    while index < len(runs) and run_starts[index] < stop:
        run, run_start = runs[index], run_starts[index]
        if run.kind == "link":
            out.append(run)
        else:
            out.append(run.with_text(run.text[max(start, run_start) - run_start: stop - run_start]))
        index += 1
    return _normalise(out)


# ---------------------------------------------------------------------------------------------
# Sections, blocks and messages
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Flow:
    """Paragraphs that fill consecutive sections; each paragraph with the separator before it."""

    paragraphs: list[tuple[str, list[_Run]]] = field(default_factory=list)

    def add(self, runs: list[_Run], separator: str = "\n\n") -> None:
        if runs:
            self.paragraphs.append((separator, runs))

    def sections(self, limit: int) -> list[str]:
        texts: list[str] = []
        current = ""
        for separator, runs in self.paragraphs:
            whole = _render(runs)
            pieces = [whole] if len(whole) <= limit else [_render(piece) for piece in _split_runs(runs, limit)]
            for number, piece in enumerate(pieces):
                if not _visible(piece):
                    continue
                if not current:
                    current = piece
                elif number == 0 and len(current) + len(separator) + len(piece) <= limit:
                    current += separator + piece
                else:
                    texts.append(current)
                    current = piece
        if current:
            texts.append(current)
        return texts


@dataclass(slots=True)
class _Unit:
    block: dict[str, Any]
    cost: int
    summary: str | None = None  # the line it adds to the part's notification text


@dataclass(slots=True)
class _Group:
    """Blocks that belong together (an item, the intro); messages break between groups first."""

    units: list[_Unit]
    divider: bool = False


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section_units(flow: _Flow, limits: SlackLimits, summary: str | None = None) -> list[_Unit]:
    units = []
    for number, text in enumerate(flow.sections(limits.max_section_text)):
        units.append(_Unit({"type": "section", "text": _mrkdwn(text)}, len(text), summary if number == 0 else None))
    return units


def _divider() -> _Group:
    return _Group([_Unit({"type": "divider"}, 0)], divider=True)


def _truncate(text: str, limit: int, measure: Callable[[str], int] = len) -> str:
    """``text`` cut at a grapheme boundary so that measure(result) <= limit, marked with an ellipsis."""
    if measure(text) <= limit:
        return text
    boundaries = grapheme_boundaries(text)
    used = measure(ELLIPSIS)
    keep = 0
    for index, char in enumerate(text):
        used += measure(char)
        if used > limit:
            break
        if boundaries[index + 1]:
            keep = index + 1
    # Trailing spaces go before the ellipsis, but only whole clusters of them.
    while keep and text[keep - 1].isspace() and boundaries[keep - 1]:
        keep -= 1
    return text[:keep] + ELLIPSIS


def _header_text(title: str, limits: SlackLimits) -> tuple[str, bool]:
    """The header's plain text and whether the title had to be shortened for it."""
    shown = _plain_for_header(title)
    if not _visible(shown):
        return "", False
    if len(shown) <= limits.max_header_text:
        return shown, False
    return _truncate(shown, limits.max_header_text), True


def _item_group(item: Item, limits: SlackLimits) -> _Group:
    flow = _Flow()
    heading = [_Run("text", f"{item.number}. ", bold=True), *_link_runs(item.url, item.title, True, False, limits)]
    flow.add(_normalise(heading))
    for number, paragraph in enumerate(item.summary):
        flow.add(_runs(paragraph, limits), "\n" if number == 0 else "\n\n")
    summary = f"{item.number}. {' '.join(item.title.split())}"
    return _Group(_section_units(flow, limits, summary))


def _part_mark(part: int, parts: int) -> str:
    return f"({part}/{parts})"


def _assemble(groups: Sequence[_Group], limits: SlackLimits, *, header: str | None, first_context: str | None,
              part_title: str, fallback_title: str) -> list[Payload]:
    """Pack groups into messages (between groups first, else between sections) and dress each part."""
    part_title = _truncate(" ".join(part_title.split()), limits.max_part_title)
    first_context_text = _escape_text(first_context, quote_guard=False) if first_context else ""
    later_context_len = len(_escape_text(part_title, quote_guard=False)) + _PART_MARK_ROOM
    first_room_text = limits.max_block_text - (len(header) if header else 0) - len(first_context_text) - _PART_MARK_ROOM
    first_room_blocks = limits.max_blocks - (1 if header else 0) - 1
    later_room_text = limits.max_block_text - later_context_len
    later_room_blocks = limits.max_blocks - 1

    messages: list[list[_Unit]] = [[]]
    used_text = 0

    def room() -> tuple[int, int]:
        first = len(messages) == 1
        blocks_left = (first_room_blocks if first else later_room_blocks) - len(messages[-1])
        text_left = (first_room_text if first else later_room_text) - used_text
        return blocks_left, text_left

    def has_content() -> bool:
        return any(unit.block["type"] != "divider" for unit in messages[-1])

    def new_message() -> None:
        nonlocal used_text
        while messages[-1] and messages[-1][-1].block["type"] == "divider":
            messages[-1].pop()
        if messages[-1]:
            messages.append([])
        used_text = 0

    for group in groups:
        if group.divider:
            if has_content() and room()[0] >= 1:
                messages[-1].extend(group.units)
            continue
        blocks_needed = len(group.units)
        text_needed = sum(unit.cost for unit in group.units)
        blocks_left, text_left = room()
        if (blocks_needed > blocks_left or text_needed > text_left) and has_content() \
                and blocks_needed <= later_room_blocks and text_needed <= later_room_text:
            new_message()
        for unit in group.units:
            blocks_left, text_left = room()
            if unit.cost > text_left or blocks_left < 1:
                new_message()
            messages[-1].append(unit)
            used_text += unit.cost
    while messages[-1] and messages[-1][-1].block["type"] == "divider":
        messages[-1].pop()

    parts = len(messages)
    payloads: list[Payload] = []
    for number, units in enumerate(messages, start=1):
        mark = f" · {_part_mark(number, parts)}" if parts > 1 else ""
        blocks: list[dict[str, Any]] = []
        if number == 1:
            if header:
                # emoji=False: a ":name:" in a title stays as written, as it does in the sections' text.
                blocks.append({"type": "header", "text": {"type": "plain_text", "text": header, "emoji": False}})
            if first_context_text or mark:
                context = first_context_text + mark if first_context_text else _part_mark(number, parts)
                blocks.append({"type": "context", "elements": [_mrkdwn(context)]})
            title_line = fallback_title
        else:
            escaped_title = _escape_text(part_title, quote_guard=False)
            context = f"{escaped_title}{mark}" if escaped_title else _part_mark(number, parts)
            blocks.append({"type": "context", "elements": [_mrkdwn(context)]})
            title_line = f"{part_title} {_part_mark(number, parts)}".strip()
        blocks.extend(unit.block for unit in units)
        if number == 1 and parts > 1 and title_line:
            title_line = f"{title_line} {_part_mark(number, parts)}"
        summaries = [unit.summary for unit in units if unit.summary]
        payloads.append({
            "text": _fallback([title_line, *summaries], limits.max_fallback_text),
            "blocks": blocks,
            "unfurl_links": False,
            "unfurl_media": False,
        })
    return payloads


def _fallback(lines: Sequence[str], limit: int) -> str:
    """The notification text: as many whole lines as fit, cut cleanly, escaped like any mrkdwn."""
    out: list[str] = []
    used = 0
    for line in (" ".join(line.split()) for line in lines):
        if not line:
            continue
        escaped = _escape_text(line)
        extra = len(escaped) + (1 if out else 0)
        if used + extra <= limit - 2:
            out.append(escaped)
            used += extra
            continue
        if not out:
            out.append(_escape_text(_truncate(line, limit - 1, _text_cost_of)))
        else:
            out.append(ELLIPSIS)
        break
    return "\n".join(out) or ELLIPSIS


def _text_cost_of(text: str) -> int:
    return sum(_text_cost(char) for char in text) + (1 if text.startswith(">") else 0)


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def render_digest(digest: Digest, *, limits: SlackLimits = LIMITS) -> list[Payload]:
    """The whole digest as chat.postMessage parameters, one dict per message, in order."""
    digest = digest_without_surrogates(digest)
    header, shortened = _header_text(digest.title, limits)
    groups: list[_Group] = []
    intro = _Flow()
    if shortened:
        intro.add(_normalise([_Run("text", digest.title, bold=True)]))
    for paragraph in digest.intro:
        intro.add(_runs(paragraph, limits))
    sections: list[list[_Group]] = []
    if intro.paragraphs:
        sections.append([_Group(_section_units(intro, limits))])
    if digest.items:
        sections.append([_item_group(item, limits) for item in digest.items])
    commentary = _Flow()
    if digest.commentary_heading and digest.commentary_heading.strip():
        commentary.add(_normalise([_Run("text", digest.commentary_heading, bold=True)]))
    for number, paragraph in enumerate(digest.commentary):
        commentary.add(_runs(paragraph, limits), "\n" if number == 0 else "\n\n")
    if commentary.paragraphs:
        sections.append([_Group(_section_units(commentary, limits))])
    for number, section in enumerate(sections):
        if number:
            groups.append(_divider())
        groups.extend(section)
    date = digest.date.isoformat()
    return payloads_without_surrogates(_assemble(
        groups, limits, header=header or None, first_context=date, part_title=digest.title or date,
        fallback_title=f"{digest.title} · {date}".strip(" ·")))


def render_items(heading: str, items: Sequence[Item], digest: Digest, *,
                 limits: SlackLimits = LIMITS) -> list[Payload]:
    """Some items of a digest (an answer to /item or /category) under ``heading``."""
    heading, digest = without_surrogates(heading), digest_without_surrogates(digest)
    items = [item_without_surrogates(item) for item in items]
    header, shortened = _header_text(heading, limits)
    groups: list[_Group] = []
    if shortened:
        flow = _Flow()
        flow.add(_normalise([_Run("text", heading, bold=True)]))
        groups.append(_Group(_section_units(flow, limits)))
    groups.extend(_item_group(item, limits) for item in items)
    date = digest.date.isoformat()
    source = _truncate(" ".join(digest.title.split()), limits.max_part_title)
    context = f"{source} · {date}" if source else date
    return payloads_without_surrogates(_assemble(
        groups, limits, header=header or None, first_context=context, part_title=heading or digest.title or date,
        fallback_title=heading or context))


def render_notice(text: str, *, limits: SlackLimits = LIMITS) -> list[Payload]:
    """The bot's own words (plain text, paragraphs on blank lines) as messages; none for blank text."""
    text = without_surrogates(text)
    flow = _Flow()
    for paragraph in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
        if _visible(paragraph):
            flow.add(_normalise([_Run("text", paragraph.strip("\n"))]))
    units = _section_units(flow, limits)
    if not units:
        return []
    return payloads_without_surrogates(_assemble([_Group([unit]) for unit in units], limits, header=None,
                                                 first_context=None, part_title="", fallback_title=text))
