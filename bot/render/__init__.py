"""Renderers: one module per platform turning the model into exact API payloads within limits.

Every renderer module exposes the same three functions, each returning the list of API-call
parameter dicts (one per message, in order, without chat ids):

    render_digest(digest: Digest) -> list[Payload]
    render_items(heading: str, items: Sequence[Item], digest: Digest) -> list[Payload]
    render_notice(text: str) -> list[Payload]          # the bot's own words, plain text
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.commands import Reply
    from bot.digest.model import Digest, Item

Payload = dict[str, Any]


class Renderer(Protocol):
    """What every renderer module provides (bot.render.telegram, .slack, .text)."""

    def render_digest(self, digest: Digest) -> list[Payload]: ...

    def render_items(self, heading: str, items: Sequence[Item], digest: Digest) -> list[Payload]: ...

    def render_notice(self, text: str) -> list[Payload]: ...


def render_reply(renderer: Renderer, reply: Reply) -> list[Payload]:
    """A command's reply as payloads: its notice first (if any), then the digest or the items."""
    payloads: list[Payload] = []
    if reply.notice:
        payloads += renderer.render_notice(reply.notice)
    if reply.digest is not None:
        payloads += renderer.render_digest(reply.digest)
    elif reply.items and reply.digest_of_items is not None:
        payloads += renderer.render_items(reply.heading or "", reply.items, reply.digest_of_items)
    return payloads
