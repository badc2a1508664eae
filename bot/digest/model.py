"""The digest model: platform-free structure that every renderer starts from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Bold:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Italic:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Code:
    text: str


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    children: tuple[Inline, ...]


Inline = Text | Bold | Italic | Code | Link

# A paragraph is a run of inline nodes; line breaks inside a source paragraph become spaces,
# except between CJK characters, where they vanish.
Paragraph = tuple[Inline, ...]


def plain_text(nodes: Paragraph) -> str:
    """The text a reader sees, markup removed."""
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, Text | Code):
            parts.append(node.text)
        else:
            parts.append(plain_text(node.children))
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Item:
    number: int
    title: str
    url: str
    summary: tuple[Paragraph, ...]
    # Categories named by an explicit marker in the digest; keyword rules add more at load time.
    categories: tuple[str, ...] = ()
    line: int = 0

    @property
    def summary_text(self) -> str:
        return "\n\n".join(plain_text(p) for p in self.summary)


@dataclass(frozen=True, slots=True)
class Digest:
    title: str
    date: dt.date
    # The full timestamp when the front matter carries one (offset kept as written).
    published_at: dt.datetime | None
    categories: tuple[str, ...]
    intro: tuple[Paragraph, ...]
    items: tuple[Item, ...]
    commentary_heading: str | None = None
    commentary: tuple[Paragraph, ...] = ()
    source: str = field(default="", compare=False)

    def item(self, number: int) -> Item | None:
        for item in self.items:
            if item.number == number:
                return item
        return None
