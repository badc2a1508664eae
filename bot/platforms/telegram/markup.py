"""Telegram's styled text: marks (tags that become entities), segments, blocks, HTML escaping and cleaning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.render import without_surrogates


@dataclass(frozen=True, slots=True)
class Mark:
    """One HTML tag that becomes one Telegram entity."""

    tag: str
    url: str = ""

    @property
    def open_html(self) -> str:
        if self.tag == "a":
            return f'<a href="{_escape_attribute(self.url)}">'
        return f"<{self.tag}>"

    @property
    def close_html(self) -> str:
        return f"</{self.tag}>"


BOLD = Mark("b")
ITALIC = Mark("i")
CODE = Mark("code")

Marks = tuple[Mark, ...]


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    marks: Marks = ()


@dataclass(slots=True)
class Block:
    """A paragraph-like unit: never merged with its neighbours, cut inside only when it must be."""

    segments: list[Segment]
    # Plain text put before the block when something precedes it in the same message.
    separator: str = "\n\n"
    # The first message's part marker goes right after this block (the title and date line).
    marker_after: bool = False
    # A heading: never the last thing in a message when the block after it could follow.
    keep_with_next: bool = False


# Telegram's server turns control characters into spaces and drops CR and U+2028..U+202E
# (tdlib's clean_input_string); doing it here keeps the count exact and the text intact.
_CLEAN_TABLE: dict[int, str | None] = {
    **{code: " " for code in range(32) if code != 10},
    13: None,
    0x2028: "\n",
    0x2029: "\n",
    **{code: None for code in range(0x202A, 0x202F)},
}


def clean(text: str) -> str:
    return without_surrogates(text.translate(_CLEAN_TABLE))


def escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(text: str) -> str:
    return escape_text(text).replace('"', "&quot;")


# Characters that leave a link label blank to a reader (Telegram drops links over such text).
BLANK = " \t\n\u00a0\u200b\u200c\u200d\u200e\u200f\ufeff\u3000"


def is_blank(segments: Sequence[Segment]) -> bool:
    return not any(segment.text.strip(BLANK) for segment in segments)


def common_prefix(first: Marks, second: Marks) -> int:
    common = 0
    for left, right in zip(first, second, strict=False):
        if left != right:
            break
        common += 1
    return common
