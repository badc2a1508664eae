"""WeCom's renderer: the digest as group-robot markdown of at most 4,096 UTF-8 bytes a message.

Only what WeCom renders is written: **bold**, [links](url) and `code`; italics are plain, and any
character that would start other markup (headings, quotes, lists, tables, font tags) is a
look-alike (bot.platforms.robot_markdown), so a headline can never restyle the message.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.digest.model import Digest, Item
from bot.platforms.robot_markdown import link_target, plain, plain_label
from bot.platforms.webhook_layout import Layout, Sections
from bot.platforms.wecom.limits import LIMITS
from bot.render import (
    Payload,
    digest_without_surrogates,
    item_without_surrogates,
    payloads_without_surrogates,
    without_surrogates,
)
from bot.render.measure import Limit, utf8_bytes
from bot.render.packing import pack

__all__ = ["WeComMarkdown", "render_digest", "render_items", "render_notice"]

LAYOUT = Layout(paragraph_separator="\n", item_separator="\n\n")
MARKDOWN_LIMITS = [Limit(utf8_bytes, LIMITS.max_content_bytes)]


class WeComMarkdown:
    """WeCom's markdown subset (a bot.render.markup.Markup)."""

    def text(self, text: str) -> str:
        return plain(text)

    def code(self, text: str) -> str:
        # Brackets as look-alikes here too: a `[` in code would still open a link written after it.
        return f"`{plain(text)}`"

    def link(self, label: str, url: str) -> str:
        return f"[{plain_label(label)}]({link_target(url)})"

    def style(self, inner: str, bold: bool, italic: bool) -> str:
        return f"**{inner}**" if bold else inner


MARKUP = WeComMarkdown()


def _messages(sections: Sections) -> list[Payload]:
    parts = pack(sections, MARKUP, MARKDOWN_LIMITS)
    return payloads_without_surrogates([{"msgtype": "markdown", "markdown": {"content": part}} for part in parts])


def render_digest(digest: Digest) -> list[Payload]:
    return _messages(LAYOUT.digest(digest_without_surrogates(digest)))


def render_items(heading: str, items: Sequence[Item], digest: Digest) -> list[Payload]:
    return _messages(LAYOUT.items(without_surrogates(heading), [item_without_surrogates(item) for item in items]))


def render_notice(text: str) -> list[Payload]:
    return _messages(LAYOUT.notice(without_surrogates(text)))
