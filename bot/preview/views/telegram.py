"""Telegram's view: each sendMessage as a chat bubble, its entities styled, metered as Telegram counts."""

from __future__ import annotations

from typing import Any

from bot.platforms.telegram.limits import LIMITS
from bot.preview.model import Block, Meter, Part
from bot.preview.runs import RunBuilder
from bot.preview.tghtml import ParsedHtml, parse_html
from bot.preview.views.common import Collector, make_part
from bot.render.links import TELEGRAM

LABEL = "Telegram"
STYLE = "bubbles"
LINK_RULES = TELEGRAM

_ENTITY_MARKS = {
    "bold": "bold", "italic": "italic", "underline": "underline", "strikethrough": "strike", "code": "code",
    "pre": "pre", "spoiler": "spoiler", "blockquote": "quote", "expandable_blockquote": "quote",
}


def part(payload: dict[str, Any]) -> Part:
    text = str(payload.get("text", ""))
    if str(payload.get("parse_mode", "")).upper() == "HTML":
        parsed = parse_html(text)
    else:
        parsed = _from_entities(text, payload.get("entities") or [])
    links = Collector()
    for url in parsed.links:
        links.link(url)
    meters = (Meter(len(parsed.text), "characters", LIMITS.max_chars),
              Meter(parsed.entities, "entities", LIMITS.max_entities))
    return make_part([Block("text", parsed.runs)], meters, links)


def _from_entities(text: str, entities: list[dict[str, Any]]) -> ParsedHtml:
    """Text with Bot API entities (offsets in UTF-16 code units) as styled runs."""
    units = text.encode("utf-16-le")
    styles: list[tuple[frozenset[str], str | None]] = [(frozenset(), None)] * (len(units) // 2)
    links: list[str] = []
    for entity in entities:
        start, end = int(entity.get("offset", 0)), int(entity.get("offset", 0)) + int(entity.get("length", 0))
        kind = str(entity.get("type", ""))
        url = str(entity["url"]) if kind == "text_link" and "url" in entity else None
        if url is not None:
            links.append(url)
        for unit in range(max(0, start), min(end, len(styles))):
            marks, href = styles[unit]
            styles[unit] = (marks | {_ENTITY_MARKS[kind]} if kind in _ENTITY_MARKS else marks, url or href)
    out = RunBuilder()
    unit = 0
    for char in text:
        marks, href = styles[unit] if unit < len(styles) else (frozenset(), None)
        if href is not None:
            out.open_link(href)
        out.add(char, *marks)
        if href is not None:
            out.close_link()
        unit += len(char.encode("utf-16-le")) // 2
    return ParsedHtml(out.runs(), text.strip(), len(entities), tuple(links))
