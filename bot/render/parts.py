"""Part markers: "(k/n)" on each message of a multi-message reply, and room reserved for their digits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["marker_room", "number_parts", "part_marker"]

T = TypeVar("T")


def part_marker(number: int, total: int) -> str:
    """The marker of part ``number`` of ``total``: "(k/n)"."""
    return f"({number}/{total})"


def marker_room(digits: int, joiner: str = " ") -> int:
    """Characters a marker of up to ``digits``-digit numbers takes, with ``joiner`` beside it.

    Markers are ASCII, so this is also their size in UTF-8 bytes and UTF-16 units.
    """
    largest = 10 ** digits - 1
    return len(joiner) + len(part_marker(largest, largest))


def number_parts(pack: Callable[[int], Sequence[T]], digits: int = 3) -> list[T]:
    """The parts ``pack(digits)`` makes while reserving room for markers of ``digits`` digits.

    The number of parts is known only after packing; when it needs more digits than were reserved,
    packing runs again with more room, so a marker never pushes a part over its budget.
    """
    while True:
        parts = list(pack(digits))
        needed = len(str(len(parts)))
        if needed <= digits:
            return parts
        digits = needed
