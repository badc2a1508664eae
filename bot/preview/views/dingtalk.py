"""DingTalk's view: a custom robot's markdown message (its subset: headings, bold, italic, links, quotes)."""

from __future__ import annotations

from typing import Any

from bot.platforms.webhook import wire_size
from bot.preview.inline import DINGTALK
from bot.preview.meters import platform_limit
from bot.preview.model import Block, Meter, Part
from bot.preview.views.common import Collector, make_part, mapping
from bot.render.links import SLACK as LINK_RULES

__all__ = ["LABEL", "LINK_RULES", "STYLE", "part"]

LABEL = "DingTalk"
STYLE = "markdown"

MAX_BODY_BYTES = platform_limit("dingtalk", "max_body_bytes")


def part(payload: dict[str, Any]) -> Part:
    links = Collector()
    body = mapping(payload.get("markdown"))
    title = str(body.get("title", ""))
    blocks = [Block("notification", links.plain(title)), *links.markdown(str(body.get("text", "")), DINGTALK)]
    return make_part(blocks, (Meter(wire_size(payload), "bytes", MAX_BODY_BYTES),), links)
