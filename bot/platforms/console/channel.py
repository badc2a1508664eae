"""The console platform: digests and replies printed to a terminal, and a chat typed into it."""

from __future__ import annotations

import asyncio
import itertools
import sys
from typing import TYPE_CHECKING, TextIO

from bot.platforms.base import Gate, NotSent
from bot.render import Payload

if TYPE_CHECKING:
    from bot.platforms.registry import Surroundings


class ConsoleChannel:
    """Prints plain-text payloads; needs no token, so a fresh checkout can see the bot work."""

    platform = "console"

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out
        self._message_ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        out = self._out or sys.stdout
        async with self._lock:
            if gate is not None and not await gate():
                raise NotSent("withdrawn before sending")
            text = str(payload.get("text", ""))
            out.write(text if text.endswith("\n") else text + "\n")
            out.write("\n")
            out.flush()
        return str(next(self._message_ids))


def open_channel(settings: None, around: Surroundings) -> ConsoleChannel:
    """The channel the app runs (the registry's factory): printing to the app's output."""
    return ConsoleChannel(around.out)
