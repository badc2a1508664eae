"""Slack buttons under an answer and the presses that come back (`block_actions`, over HTTP or Socket Mode)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.paging import Rows
from bot.platforms.slack.limits import LIMITS
from bot.render import Payload

# Slack's limits on an actions block and a button's label.
MAX_ELEMENTS = 25
MAX_LABEL = 75
BLOCK_ID = "digest-buttons"


@dataclass(frozen=True, slots=True)
class Press:
    """One button pressed under one of our answers."""

    user: str
    channel: str
    value: str
    response_url: str


def with_buttons(payload: Payload, rows: Rows) -> Payload:
    """The payload with an actions block of `rows`' buttons after its blocks (when there is room)."""
    blocks = list(payload.get("blocks") or [])
    buttons = [button for row in rows for button in row][:MAX_ELEMENTS]
    if not buttons or len(blocks) >= LIMITS.max_blocks:
        return payload
    elements = [{"type": "button", "action_id": f"press-{number}", "value": button.data,
                 "text": {"type": "plain_text", "text": button.label[:MAX_LABEL], "emoji": True}}
                for number, button in enumerate(buttons)]
    return {**payload, "blocks": [*blocks, {"type": "actions", "block_id": BLOCK_ID, "elements": elements}]}


def press_of(payload: Mapping[str, Any]) -> Press | None:
    """The press in an interaction payload; None for any other interaction or one missing what an answer needs."""
    actions = payload.get("actions")
    user, channel = payload.get("user"), payload.get("channel")
    if payload.get("type") != "block_actions" or not isinstance(actions, list) or not actions:
        return None
    if not isinstance(actions[0], dict) or not isinstance(user, dict) or not isinstance(channel, dict):
        return None
    press = Press(str(user.get("id") or ""), str(channel.get("id") or ""), str(actions[0].get("value") or ""),
                  str(payload.get("response_url") or ""))
    return press if press.user and press.channel and press.response_url else None
