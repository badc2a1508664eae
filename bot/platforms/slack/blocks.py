"""The Slack renderer: the digest model as chat.postMessage parameters (Block Kit), split within Slack's limits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.digest.model import Digest, Item
from bot.platforms.slack.limits import LIMITS, SlackLimits
from bot.platforms.slack.mrkdwn import escape_text, plain_for_header, render_runs, text_cost, visible
from bot.platforms.slack.runs import link_runs, normalise, paragraph_runs, split_runs
from bot.render import (
    Payload,
    digest_without_surrogates,
    item_without_surrogates,
    payloads_without_surrogates,
    without_surrogates,
)
from bot.render.ellipsis import ELLIPSIS, shorten
from bot.render.parts import marker_room, number_parts, part_marker
from bot.render.runs import Run

__all__ = ["LIMITS", "SlackLimits", "render_digest", "render_items", "render_notice"]

# Digits reserved for each number of a part's " · (k/n)": six cover any digest Slack could hold.
_MARKER_DIGITS = 6
_MARKER_JOINER = " · "


@dataclass(slots=True)
class _Flow:
    """Paragraphs that fill consecutive sections; each paragraph with the separator before it."""

    paragraphs: list[tuple[str, list[Run]]] = field(default_factory=list)

    def add(self, runs: list[Run], separator: str = "\n\n") -> None:
        if runs:
            self.paragraphs.append((separator, runs))

    def sections(self, limit: int) -> list[str]:
        texts: list[str] = []
        current = ""
        for separator, runs in self.paragraphs:
            whole = render_runs(runs)
            pieces = [whole] if len(whole) <= limit else [render_runs(piece) for piece in split_runs(runs, limit)]
            for number, piece in enumerate(pieces):
                if not visible(piece):
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


def _header_text(title: str, limits: SlackLimits) -> tuple[str, bool]:
    """The header's plain text and whether the title had to be shortened for it."""
    shown = plain_for_header(title)
    if not visible(shown):
        return "", False
    if len(shown) <= limits.max_header_text:
        return shown, False
    return shorten(shown, limits.max_header_text), True


def _item_group(item: Item, limits: SlackLimits) -> _Group:
    flow = _Flow()
    heading = [Run("text", f"{item.number}. ", bold=True), *link_runs(item.url, item.title, True, False, limits)]
    flow.add(normalise(heading))
    for number, paragraph in enumerate(item.summary):
        flow.add(paragraph_runs(paragraph, limits), "\n" if number == 0 else "\n\n")
    summary = f"{item.number}. {' '.join(item.title.split())}"
    return _Group(_section_units(flow, limits, summary))


@dataclass(frozen=True, slots=True)
class _Room:
    """How many blocks and how much text a part may take besides its header and context line."""

    first_blocks: int
    first_text: int
    later_blocks: int
    later_text: int


@dataclass(frozen=True, slots=True)
class _Dress:
    """What every part of one reply wears: the header, the first context line, the later parts' title."""

    header: str | None
    first_context: str   # already escaped for mrkdwn
    part_title: str
    fallback_title: str


def _assemble(groups: Sequence[_Group], limits: SlackLimits, *, header: str | None, first_context: str | None,
              part_title: str, fallback_title: str) -> list[Payload]:
    """Pack groups into messages (between groups first, else between sections) and dress each part."""
    part_title = shorten(" ".join(part_title.split()), limits.max_part_title)
    first_context_text = escape_text(first_context, quote_guard=False) if first_context else ""
    later_context_len = len(escape_text(part_title, quote_guard=False))
    first_text = limits.max_block_text - (len(header) if header else 0) - len(first_context_text)

    def pack(digits: int) -> list[list[_Unit]]:
        reserve = marker_room(digits, _MARKER_JOINER)
        room = _Room(first_blocks=limits.max_blocks - (1 if header else 0) - 1, first_text=first_text - reserve,
                     later_blocks=limits.max_blocks - 1,
                     later_text=limits.max_block_text - later_context_len - reserve)
        return _pack(groups, room)

    dress = _Dress(header, first_context_text, part_title, fallback_title)
    messages = number_parts(pack, _MARKER_DIGITS)
    return [_message(units, number, len(messages), dress, limits)
            for number, units in enumerate(messages, start=1)]


def _pack(groups: Sequence[_Group], room: _Room) -> list[list[_Unit]]:
    """The units of every group, in messages that each stay within `room`."""
    messages: list[list[_Unit]] = [[]]
    used_text = 0

    def left() -> tuple[int, int]:
        first = len(messages) == 1
        blocks_left = (room.first_blocks if first else room.later_blocks) - len(messages[-1])
        text_left = (room.first_text if first else room.later_text) - used_text
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
            if has_content() and left()[0] >= 1:
                messages[-1].extend(group.units)
            continue
        blocks_needed = len(group.units)
        text_needed = sum(unit.cost for unit in group.units)
        blocks_left, text_left = left()
        if (blocks_needed > blocks_left or text_needed > text_left) and has_content() \
                and blocks_needed <= room.later_blocks and text_needed <= room.later_text:
            new_message()
        for unit in group.units:
            blocks_left, text_left = left()
            if unit.cost > text_left or blocks_left < 1:
                new_message()
            messages[-1].append(unit)
            used_text += unit.cost
    while messages[-1] and messages[-1][-1].block["type"] == "divider":
        messages[-1].pop()
    return messages


def _message(units: Sequence[_Unit], number: int, parts: int, dress: _Dress, limits: SlackLimits) -> Payload:
    """Part `number` of `parts`: its header or context line, its units, its notification text."""
    mark = f"{_MARKER_JOINER}{part_marker(number, parts)}" if parts > 1 else ""
    blocks: list[dict[str, Any]] = []
    if number == 1:
        if dress.header:
            # emoji=False: a ":name:" in a title stays as written, as it does in the sections' text.
            blocks.append({"type": "header", "text": {"type": "plain_text", "text": dress.header, "emoji": False}})
        if dress.first_context or mark:
            context = dress.first_context + mark if dress.first_context else part_marker(number, parts)
            blocks.append({"type": "context", "elements": [_mrkdwn(context)]})
        title_line = dress.fallback_title
    else:
        escaped_title = escape_text(dress.part_title, quote_guard=False)
        context = f"{escaped_title}{mark}" if escaped_title else part_marker(number, parts)
        blocks.append({"type": "context", "elements": [_mrkdwn(context)]})
        title_line = f"{dress.part_title} {part_marker(number, parts)}".strip()
    blocks.extend(unit.block for unit in units)
    if number == 1 and parts > 1 and title_line:
        title_line = f"{title_line} {part_marker(number, parts)}"
    summaries = [unit.summary for unit in units if unit.summary]
    return {
        "text": _fallback([title_line, *summaries], limits.max_fallback_text),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _fallback(lines: Sequence[str], limit: int) -> str:
    """The notification text: as many whole lines as fit, cut cleanly, escaped like any mrkdwn."""
    out: list[str] = []
    used = 0
    for line in (" ".join(line.split()) for line in lines):
        if not line:
            continue
        escaped = escape_text(line)
        extra = len(escaped) + (1 if out else 0)
        if used + extra <= limit - 2:
            out.append(escaped)
            used += extra
            continue
        if not out:
            out.append(escape_text(shorten(line, limit - 1, _text_cost_of)))
        else:
            out.append(ELLIPSIS)
        break
    return "\n".join(out) or ELLIPSIS


def _text_cost_of(text: str) -> int:
    return sum(text_cost(char) for char in text) + (1 if text.startswith(">") else 0)


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
        intro.add(normalise([Run("text", digest.title, bold=True)]))
    for paragraph in digest.intro:
        intro.add(paragraph_runs(paragraph, limits))
    sections: list[list[_Group]] = []
    if intro.paragraphs:
        sections.append([_Group(_section_units(intro, limits))])
    if digest.items:
        sections.append([_item_group(item, limits) for item in digest.items])
    commentary = _Flow()
    if digest.commentary_heading and digest.commentary_heading.strip():
        commentary.add(normalise([Run("text", digest.commentary_heading, bold=True)]))
    for number, paragraph in enumerate(digest.commentary):
        commentary.add(paragraph_runs(paragraph, limits), "\n" if number == 0 else "\n\n")
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
        flow.add(normalise([Run("text", heading, bold=True)]))
        groups.append(_Group(_section_units(flow, limits)))
    groups.extend(_item_group(item, limits) for item in items)
    date = digest.date.isoformat()
    source = shorten(" ".join(digest.title.split()), limits.max_part_title)
    context = f"{source} · {date}" if source else date
    return payloads_without_surrogates(_assemble(
        groups, limits, header=header or None, first_context=context, part_title=heading or digest.title or date,
        fallback_title=heading or context))


def render_notice(text: str, *, limits: SlackLimits = LIMITS) -> list[Payload]:
    """The bot's own words (plain text, paragraphs on blank lines) as messages; none for blank text."""
    text = without_surrogates(text)
    flow = _Flow()
    for paragraph in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
        if visible(paragraph):
            flow.add(normalise([Run("text", paragraph.strip("\n"))]))
    units = _section_units(flow, limits)
    if not units:
        return []
    return payloads_without_surrogates(_assemble([_Group([unit]) for unit in units], limits, header=None,
                                                 first_context=None, part_title="", fallback_title=text))
