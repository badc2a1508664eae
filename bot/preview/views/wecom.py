"""WeCom's view: a group robot's markdown (its subset, with <font> colours) or plain text message."""

from __future__ import annotations

from typing import Any

from bot.preview.inline import WECOM
from bot.preview.meters import platform_limit
from bot.preview.model import Block, Meter, Part
from bot.preview.views.common import Collector, make_part, mapping
from bot.render.links import SLACK as LINK_RULES
from bot.render.measure import utf8_bytes

__all__ = ["LABEL", "LINK_RULES", "STYLE", "part"]

LABEL = "WeCom"
STYLE = "markdown"

MAX_CONTENT_BYTES = platform_limit("wecom", "max_content_bytes")


def part(payload: dict[str, Any]) -> Part:
    links = Collector()
    kind = str(payload.get("msgtype", "markdown"))
    body = mapping(payload.get(kind))
    content = str(body.get("content", ""))
    if kind == "markdown":
        blocks: tuple[Block, ...] = links.markdown(content, WECOM, fonts=True)
    else:
        blocks = (Block("text", links.plain(content)),)
    return make_part(blocks, (Meter(utf8_bytes(content), "bytes", MAX_CONTENT_BYTES),), links)
