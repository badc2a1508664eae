"""The page model: styled runs, blocks, parts with their meters and flags, one view per platform."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Run:
    """A stretch of text with one style; ``href`` makes it a link (only followable schemes get one)."""

    text: str
    marks: frozenset[str] = frozenset()     # bold, italic, underline, strike, code, spoiler, pre
    href: str | None = None
    color: str | None = None                # a named colour class (WeCom's <font color>)


Runs = tuple[Run, ...]


@dataclass(frozen=True, slots=True)
class Block:
    """One visual piece of a message; the template draws each ``kind`` its own way.

    Kinds: text, header, context, divider, heading, quote, note, notification, embed (with
    ``title``, ``url`` and ``children``), card (``title`` and ``children``), list.
    """

    kind: str
    runs: Runs = ()
    title: Runs = ()
    url: str | None = None
    children: tuple[Block, ...] = ()
    level: int = 0


@dataclass(frozen=True, slots=True)
class Meter:
    """One measure of a part in the platform's own units, against the limit when there is one."""

    used: int
    unit: str
    limit: int | None = None

    @property
    def over(self) -> bool:
        return self.limit is not None and self.used > self.limit

    @property
    def text(self) -> str:
        if self.limit is None:
            return f"{self.used:,} {self.unit}"
        return f"{self.used:,} / {self.limit:,} {self.unit}"


@dataclass(frozen=True, slots=True)
class Part:
    """One API call's message as the platform shows it, and its plain text for the flags."""

    blocks: tuple[Block, ...]
    meters: tuple[Meter, ...]
    plain: str
    hrefs: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Flag:
    """Something a publisher should know, tied to a part (by index) or to the whole view (None)."""

    kind: str               # cut, link-as-text
    text: str
    part: int | None = None


@dataclass(frozen=True, slots=True)
class View:
    platform: str
    label: str
    style: str              # bubbles, slack, discord, card, markdown, console: the page's look for it
    parts: tuple[Part, ...]
    flags: tuple[Flag, ...] = ()

    def part_flags(self, index: int) -> list[Flag]:
        return [flag for flag in self.flags if flag.part == index]

    @property
    def view_flags(self) -> list[Flag]:
        return [flag for flag in self.flags if flag.part is None]


@dataclass(frozen=True, slots=True)
class ItemRow:
    number: int
    title: str
    url: str
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Page:
    title: str
    date: str
    source: str
    items: tuple[ItemRow, ...]
    views: tuple[View, ...]
    live: bool = False                      # served by --serve: the page polls for a new version
    error: str | None = None
    notes: tuple[str, ...] = field(default=())
