"""Buttons under answers (◀ ▶ between a digest's items, one per category): what they carry and what a press asks."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from bot.digest.model import Digest

# Telegram's limit on a button's callback_data, the tightest of the platforms.
MAX_DATA_BYTES = 64
PREVIOUS, NEXT = "◀", "▶"


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str       # what comes back when it is pressed; at most MAX_DATA_BYTES of UTF-8


Rows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class PageTo:
    """Show item `number` of the digest of `day`, in place of the answer whose button was pressed."""

    day: dt.date
    number: int


@dataclass(frozen=True, slots=True)
class PickCategory:
    """Answer /category for the `index`-th name of a list whose fingerprint is `names`."""

    index: int
    names: str

    def name_in(self, known: list[str]) -> str | None:
        """The name pressed, or None when the list of categories is no longer the one the buttons showed."""
        if _names_hash(known) != self.names or not 0 <= self.index < len(known):
            return None
        return known[self.index]


def _names_hash(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:8]


def pager(digest: Digest, number: int) -> Rows:
    """◀ ▶ to the items before and after `number` in the digest's order (none past either end)."""
    numbers = [item.number for item in digest.items]
    if number not in numbers:
        return ()
    at = numbers.index(number)
    row = []
    if at > 0:
        row.append(Button(PREVIOUS, f"pg:{digest.date.isoformat()}:{numbers[at - 1]}"))
    if at + 1 < len(numbers):
        row.append(Button(NEXT, f"pg:{digest.date.isoformat()}:{numbers[at + 1]}"))
    return (tuple(row),) if row else ()


def category_buttons(names: list[str]) -> Rows:
    """One button per category, each on its own row."""
    fingerprint = _names_hash(names)
    return tuple((Button(name, f"ct:{index}:{fingerprint}"),) for index, name in enumerate(names))


def parse(data: str) -> PageTo | PickCategory | None:
    """What a pressed button asks for; None for data this bot never made."""
    kind, _, rest = data.partition(":")
    try:
        if kind == "pg":
            day, _, number = rest.partition(":")
            return PageTo(dt.date.fromisoformat(day), int(number))
        if kind == "ct":
            index, _, names = rest.partition(":")
            return PickCategory(int(index), names)
    except ValueError:
        return None
    return None
