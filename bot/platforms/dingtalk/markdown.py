"""DingTalk's renderer: the digest as custom-robot markdown, each request body within 20,000 bytes as sent.

Only what DingTalk renders is written: **bold**, *italic* and [links](url). It has no code spans
(code reads as plain text) and no tables; any character that would start other markup is a
look-alike (bot.platforms.robot_markdown).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.digest.model import Digest, Item
from bot.platforms.dingtalk.limits import LIMITS
from bot.platforms.robot_markdown import link_target, plain, plain_label
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

__all__ = ["DingTalkMarkdown", "render_digest", "render_items", "render_notice"]

# DingTalk shows single line breaks inconsistently across clients; a blank line always separates.
LAYOUT = Layout(paragraph_separator="\n\n", item_separator="\n\n")


class DingTalkMarkdown:
    """DingTalk's markdown subset (a bot.render.markup.Markup)."""

    def text(self, text: str) -> str:
        return plain(text)

    def code(self, text: str) -> str:
        return plain(text)

    def link(self, label: str, url: str) -> str:
        return f"[{plain_label(label)}]({link_target(url)})"

    def style(self, inner: str, bold: bool, italic: bool) -> str:
        marker = ("**" if bold else "") + ("*" if italic else "")
        return f"{marker}{inner}{marker}"


MARKUP = DingTalkMarkdown()


def _body(title: str, text: str) -> Payload:
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def _messages(title: str, sections: Sections) -> list[Payload]:
    # The title shows in notifications and the chat list; every part carries it.
    title = shorten(" ".join(title.split()), LIMITS.max_title_chars) or "…"
    room = LIMITS.max_body_bytes - wire_size(_body(title, ""))
    parts = pack(sections, MARKUP, [Limit(json_text_size, room)])
    return payloads_without_surrogates([_body(title, part) for part in parts])


def render_digest(digest: Digest) -> list[Payload]:
    digest = digest_without_surrogates(digest)
    return _messages(digest.title, LAYOUT.digest(digest))


def render_items(heading: str, items: Sequence[Item], digest: Digest) -> list[Payload]:
    heading = without_surrogates(heading)
    return _messages(heading or digest.title, LAYOUT.items(heading, [item_without_surrogates(item) for item in items]))


def render_notice(text: str) -> list[Payload]:
    text = without_surrogates(text)
    return _messages(text, LAYOUT.notice(text))
