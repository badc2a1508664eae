"""Discord's view: each webhook message's content (Discord markdown) and its embeds."""

from __future__ import annotations

from typing import Any

from bot.preview.inline import DISCORD
from bot.preview.meters import platform_limit
from bot.preview.model import Block, Meter, Part
from bot.preview.views.common import Collector, make_part
from bot.render.links import SLACK as LINK_RULES

__all__ = ["LABEL", "LINK_RULES", "STYLE", "part"]

LABEL = "Discord"
STYLE = "discord"

MAX_CONTENT = platform_limit("discord", "max_content")
MAX_EMBEDS = platform_limit("discord", "max_embeds")
MAX_EMBED_TOTAL = platform_limit("discord", "max_embed_total")


def part(payload: dict[str, Any]) -> Part:
    links = Collector()
    content = str(payload.get("content") or "")
    embeds = [embed for embed in payload.get("embeds") or [] if isinstance(embed, dict)]
    blocks = [*links.markdown(content, DISCORD)] if content else []
    blocks += [_embed(embed, links) for embed in embeds]
    meters = (Meter(len(content), "characters", MAX_CONTENT),
              Meter(len(embeds), "embeds", MAX_EMBEDS),
              Meter(sum(_embed_length(embed) for embed in embeds), "embed characters", MAX_EMBED_TOTAL))
    return make_part(blocks, meters, links)


def _embed(embed: dict[str, Any], links: Collector) -> Block:
    url = embed.get("url")
    if isinstance(url, str) and url:
        links.link(url)
    children: list[Block] = []
    author = _name(embed.get("author"), "name")
    if author:
        children.append(Block("context", links.plain(author)))
    children += links.markdown(str(embed.get("description") or ""), DISCORD)
    for field in embed.get("fields") or []:
        if isinstance(field, dict):
            children.append(Block("heading", links.read(str(field.get("name", "")), DISCORD), level=4))
            children += links.markdown(str(field.get("value", "")), DISCORD)
    footer = _name(embed.get("footer"), "text")
    if footer:
        children.append(Block("context", links.plain(footer)))
    title = links.read(str(embed.get("title") or ""), DISCORD)
    return Block("embed", title=title, url=url if isinstance(url, str) else None, children=tuple(children))


def _name(obj: Any, key: str) -> str:
    return str(obj.get(key) or "") if isinstance(obj, dict) else ""


def _embed_length(embed: dict[str, Any]) -> int:
    """What Discord sums over a message's embeds: title, description, field names and values,
    footer text and author name."""
    fields = [field for field in embed.get("fields") or [] if isinstance(field, dict)]
    return (len(str(embed.get("title") or "")) + len(str(embed.get("description") or ""))
            + sum(len(str(field.get("name", ""))) + len(str(field.get("value", ""))) for field in fields)
            + len(_name(embed.get("footer"), "text")) + len(_name(embed.get("author"), "name")))
