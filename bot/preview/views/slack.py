"""Slack's view: each chat.postMessage as its blocks (header, mrkdwn sections, context, dividers)."""

from __future__ import annotations

from typing import Any

from bot.platforms.slack.limits import LIMITS
from bot.preview.inline import SLACK
from bot.preview.model import Block, Meter, Part
from bot.preview.views.common import Collector, make_part
from bot.render.links import SLACK as LINK_RULES

__all__ = ["LABEL", "LINK_RULES", "STYLE", "part"]

LABEL = "Slack"
STYLE = "slack"


def part(payload: dict[str, Any]) -> Part:
    links = Collector()
    raw_blocks = [block for block in payload.get("blocks") or [] if isinstance(block, dict)]
    blocks = [_block(block, links) for block in raw_blocks]
    fallback = str(payload.get("text", ""))
    blocks.append(Block("notification", links.read(fallback, SLACK)))
    meters = (Meter(len(raw_blocks), "blocks", LIMITS.max_blocks),
              Meter(sum(_text_length(block) for block in raw_blocks), "characters", LIMITS.max_block_text),
              Meter(len(fallback), "notification characters", LIMITS.max_fallback_text))
    return make_part(blocks, meters, links)


def _text(obj: Any, links: Collector) -> tuple[Any, ...]:
    if not isinstance(obj, dict):
        return ()
    text = str(obj.get("text", ""))
    return links.read(text, SLACK) if obj.get("type") == "mrkdwn" else links.plain(text)


def _block(block: dict[str, Any], links: Collector) -> Block:
    kind = block.get("type")
    if kind == "header":
        return Block("header", _text(block.get("text"), links))
    if kind == "divider":
        return Block("divider")
    if kind == "context":
        elements = [element for element in block.get("elements") or [] if isinstance(element, dict)]
        return Block("context", tuple(run for element in elements for run in _text(element, links)))
    if kind == "section":
        fields = [Block("text", _text(field, links)) for field in block.get("fields") or []]
        return Block("text", _text(block.get("text"), links), children=tuple(fields))
    return Block("note", links.plain(f"[{kind} block]"))


def _text_length(value: Any) -> int:
    """Code points of every text in a block, as Slack counts a message's block text."""
    if isinstance(value, dict):
        return sum(len(inner) if key == "text" and isinstance(inner, str) else _text_length(inner)
                   for key, inner in value.items())
    if isinstance(value, list):
        return sum(_text_length(inner) for inner in value)
    return 0
