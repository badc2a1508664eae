"""Renderers: one module per platform turning the model into exact API payloads within limits.

Every renderer module exposes the same three functions, each returning the list of API-call
parameter dicts (one per message, in order, without chat ids):

    render_digest(digest: Digest) -> list[Payload]
    render_items(heading: str, items: Sequence[Item], digest: Digest) -> list[Payload]
    render_notice(text: str) -> list[Payload]          # the bot's own words, plain text
"""

from __future__ import annotations

from typing import Any

Payload = dict[str, Any]
