"""Feishu's view: the interactive card (header, lark_md divs, rules, notes) of each webhook message."""

from __future__ import annotations

from typing import Any

from bot.platforms.webhook import wire_size
from bot.preview.inline import LARK_MD
from bot.preview.meters import platform_limit
from bot.preview.model import Block, Meter, Part
from bot.preview.views.common import Collector, make_part, mapping
from bot.render.links import SLACK as LINK_RULES

__all__ = ["LABEL", "LINK_RULES", "STYLE", "part"]

LABEL = "Feishu"
STYLE = "card"

MAX_BODY_BYTES = platform_limit("feishu", "max_body_bytes")


def part(payload: dict[str, Any]) -> Part:
    links = Collector()
    card = mapping(payload.get("card"))
    header = mapping(card.get("header"))
    title = _text(header.get("title"), links)
    body = mapping(card.get("body")) or card
    elements = [element for element in body.get("elements") or [] if isinstance(element, dict)]
    children = tuple(block for element in elements for block in _element(element, links))
    meters = (Meter(wire_size(payload), "bytes", MAX_BODY_BYTES),)
    return make_part([Block("card", title=title, children=children)], meters, links)


def _text(obj: Any, links: Collector) -> tuple[Any, ...]:
    if not isinstance(obj, dict):
        return ()
    content = str(obj.get("content", ""))
    return links.read(content, LARK_MD) if obj.get("tag") == "lark_md" else links.plain(content)


def _element(element: dict[str, Any], links: Collector) -> list[Block]:
    tag = element.get("tag")
    if tag == "hr":
        return [Block("divider")]
    if tag == "div":
        fields = [field.get("text") for field in element.get("fields") or [] if isinstance(field, dict)]
        return [Block("text", _text(text, links)) for text in [element.get("text"), *fields] if text]
    if tag == "markdown":
        return list(links.markdown(str(element.get("content", "")), LARK_MD))
    if tag == "note":
        runs = tuple(run for inner in element.get("elements") or [] for run in _text(inner, links))
        return [Block("context", runs)]
    return [Block("note", links.plain(f"[{tag} element]"))]
