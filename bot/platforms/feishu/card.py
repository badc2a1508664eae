"""Feishu's renderer: the digest as interactive cards, each request body under 20 KB as sent.

A card has a header with the digest's title, one `lark_md` div per section (the intro, each item
with its linked title and summary, the commentary) with a divider between them, and a note with
the date. The core's packer lays the sections out with ELEMENT between them; every ELEMENT
becomes a divider and a new div, and is charged exactly what those add to the body, so a card is
measured as the bytes that are sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.digest.model import Digest, Item
from bot.platforms.feishu.limits import LIMITS
from bot.platforms.robot_markdown import link_target
from bot.platforms.webhook import json_text_size, wire_size
from bot.platforms.webhook_layout import Layout, Sections
from bot.render import (
    Payload,
    digest_without_surrogates,
    item_without_surrogates,
    payloads_without_surrogates,
    without_surrogates,
)
from bot.render.ellipsis import shorten
from bot.render.measure import Limit
from bot.render.packing import pack

__all__ = ["LarkMarkdown", "render_digest", "render_items", "render_notice"]

# Never written by the markup (text() replaces it), so in a packed part it can only be a boundary.
ELEMENT = "\x1e"
LAYOUT = Layout(paragraph_separator="\n", item_separator=ELEMENT, title_in_text=False)
# lark_md reads these as markup; HTML entities show them as they are.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "*": "&#42;", "~": "&#126;", "[": "&#91;",
                          "]": "&#93;", "`": "&#96;", "_": "&#95;", ELEMENT: " "})
HEADER_TEMPLATE = "blue"


class LarkMarkdown:
    """Feishu's lark_md (a bot.render.markup.Markup): **bold**, *italic*, [links](url); code reads as text."""

    def text(self, text: str) -> str:
        return text.translate(_ESCAPES)

    def code(self, text: str) -> str:
        return text.translate(_ESCAPES)

    def link(self, label: str, url: str) -> str:
        return f"[{label.translate(_ESCAPES)}]({link_target(url)})"

    def style(self, inner: str, bold: bool, italic: bool) -> str:
        marker = ("**" if bold else "") + ("*" if italic else "")
        return f"{marker}{inner}{marker}"


MARKUP = LarkMarkdown()


def _div(content: str) -> Payload:
    return {"tag": "div", "text": {"tag": "lark_md", "content": content}}


def _card(title: str | None, contents: Sequence[str], note: str | None) -> Payload:
    elements: list[Payload] = []
    for number, content in enumerate(contents):
        if number:
            elements.append({"tag": "hr"})
        elements.append(_div(content))
    if note is not None:
        elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": note}]})
    card: Payload = {"config": {"wide_screen_mode": True}}
    if title is not None:
        card["header"] = {"title": {"tag": "plain_text", "content": title}, "template": HEADER_TEMPLATE}
    card["elements"] = elements
    return {"msg_type": "interactive", "card": card}


# What one more element (a divider and a div around its content) adds to the body, exactly.
ELEMENT_BYTES = wire_size(_card(None, ["", ""], None)) - wire_size(_card(None, [""], None))


def card_bytes(text: str) -> int:
    """Bytes a packed part's text adds to a card's body: its contents as JSON, its elements' frames."""
    return json_text_size(text.replace(ELEMENT, "")) + text.count(ELEMENT) * ELEMENT_BYTES


def _cards(title: str | None, sections: Sections, note: str | None) -> list[Payload]:
    if title is not None:
        title = shorten(" ".join(title.split()), LIMITS.max_title_chars) or "…"
    room = LIMITS.budget - wire_size(_card(title, [""], note))
    parts = pack(sections, MARKUP, [Limit(card_bytes, room)])
    return payloads_without_surrogates([_card(title, part.split(ELEMENT), note) for part in parts])


def render_digest(digest: Digest) -> list[Payload]:
    digest = digest_without_surrogates(digest)
    return _cards(digest.title, LAYOUT.digest(digest), _date_note(digest.date))


def render_items(heading: str, items: Sequence[Item], digest: Digest) -> list[Payload]:
    sections = LAYOUT.items("", [item_without_surrogates(item) for item in items])
    return _cards(without_surrogates(heading) or digest.title, sections, _date_note(digest.date))


def render_notice(text: str) -> list[Payload]:
    return _cards(None, LAYOUT.notice(without_surrogates(text)), None)


def _date_note(day: dt.date) -> str:
    return day.isoformat()
