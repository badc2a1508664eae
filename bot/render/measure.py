"""Units platforms measure text in (code points, UTF-16 units, UTF-8 bytes) and limits as data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Limit", "Measure", "chars", "utf8_bytes", "utf16_units"]

# The cost of a string in one platform unit. Every measure here is additive: the cost of a + b is
# the cost of a plus the cost of b, which lets a packer add up pieces instead of measuring again.
Measure = Callable[[str], int]


def chars(text: str) -> int:
    """Unicode code points (Telegram's text limit, Discord, Slack)."""
    return len(text)


def utf8_bytes(text: str) -> int:
    """UTF-8 bytes (WeCom, DingTalk, Feishu): a Chinese character is 3, an emoji 4."""
    return len(text.encode("utf-8"))


def utf16_units(text: str) -> int:
    """UTF-16 code units (Telegram's entity offsets): 2 for a character beyond the BMP."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``most`` units of ``measure`` in one part, e.g. ``Limit(utf8_bytes, 4096)``."""

    measure: Measure
    most: int
