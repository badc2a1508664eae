"""Telegram's inline keyboard under an answer, built from the platform-neutral rows of buttons."""

from __future__ import annotations

from bot.paging import Rows
from bot.render import Payload


def with_keyboard(payload: Payload, rows: Rows) -> Payload:
    """A sendMessage (or editMessageText) payload carrying `rows` as its inline keyboard."""
    if not rows:
        return payload
    keyboard = [[{"text": button.label, "callback_data": button.data} for button in row] for row in rows]
    return {**payload, "reply_markup": {"inline_keyboard": keyboard}}
