"""Laying rendered pieces out as webhook messages: `content` pieces first, then embeds, each message within
Discord's count and sum of embeds, every message numbered "(k/n)" when there are several."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.platforms.discord.limits import SUPPRESS_EMBEDS, DiscordLimits
from bot.render import Payload, payloads_without_surrogates
from bot.render.parts import part_marker

# What the shared packer puts atop each of several pieces.
_PIECE_MARKER = re.compile(r"\A\(\d+/\d+\)\n")


@dataclass(frozen=True, slots=True)
class Embed:
    """One rich embed as Discord takes it."""

    body: dict[str, Any]

    @property
    def size(self) -> int:
        """Its characters toward a message's 6,000, counted as Discord counts them."""
        body = self.body
        fields = body.get("fields") or []
        return (len(body.get("title", "")) + len(body.get("description", ""))
                + len((body.get("footer") or {}).get("text", "")) + len((body.get("author") or {}).get("name", ""))
                + sum(len(field["name"]) + len(field["value"]) for field in fields))


@dataclass(slots=True)
class _Message:
    content: str = ""
    embeds: list[Embed] = field(default_factory=list)
    size: int = 0

    def takes(self, embed: Embed, limits: DiscordLimits) -> bool:
        return len(self.embeds) < limits.max_embeds and self.size + embed.size <= limits.max_embed_total

    def add(self, embed: Embed) -> None:
        self.embeds.append(embed)
        self.size += embed.size


def assemble(head: str, pieces: Sequence[str], embeds: Sequence[Embed], limits: DiscordLimits, *,
             numbered: bool = True) -> list[Payload]:
    """The messages: `head` and the first content piece, further pieces alone, the embeds filling
    messages in order. `pieces` already leave room for `head` and a marker beside it.

    Numbered, every message says "(k/n)" on its first line, in place of the markers the packer put
    atop the content pieces (which count the pieces, not the messages).
    """
    if numbered:
        pieces = [_PIECE_MARKER.sub("", piece) for piece in pieces]
    messages = [_Message(_joined(head, piece) if number == 0 else piece) for number, piece in enumerate(pieces)]
    if not messages:
        messages.append(_Message(head))
    for embed in embeds:
        if not messages[-1].takes(embed, limits):
            messages.append(_Message())
        messages[-1].add(embed)
    total = len(messages)
    if numbered and total > 1:
        for number, message in enumerate(messages, start=1):
            marker = part_marker(number, total)
            message.content = (f"{head} {marker}\n{message.content.removeprefix(head).lstrip(chr(10))}"
                               if number == 1 and head else _joined(marker, message.content))
    return payloads_without_surrogates([_payload(message) for message in messages if message.content
                                        or message.embeds])


def no_mentions() -> dict[str, list[str]]:
    """What every message is sent with: no @everyone, @here, user or role mention in it ever pings."""
    return {"parse": []}


def _joined(first: str, second: str) -> str:
    return "\n".join(text for text in (first, second) if text)


def _payload(message: _Message) -> Payload:
    # SUPPRESS_EMBEDS would hide the message's own rich embeds too: only a message of text alone
    # takes it (links in content are written <url> and unfurl nothing anyway).
    return {"content": message.content.strip("\n"), "embeds": [embed.body for embed in message.embeds],
            "allowed_mentions": no_mentions(), "flags": 0 if message.embeds else SUPPRESS_EMBEDS}
