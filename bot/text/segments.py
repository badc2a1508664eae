"""Where text may be cut (paragraphs, sentences incl. CJK, words, graphemes) and how far a budget reaches.

Every renderer measures in its own platform's units, but where text may be cut is the same
everywhere: never inside a grapheme cluster (ZWJ emoji, flags, skin tones, combining marks,
Hangul syllable blocks), preferably between paragraphs, then sentences, then words.

:func:`break_levels` records in one pass, for every position, the best kind of cut allowed there.
:func:`reach` is the one budget scan: it walks forward while the caller's budget lasts and
remembers the latest cut of each level, which keeps splitting linear in the text length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Generic, TypeVar

from bot.text.scripts import breaks_anywhere, grapheme_boundaries

__all__ = ["BreakLevel", "Reach", "break_levels", "reach", "split_text"]

T = TypeVar("T")


class BreakLevel(IntEnum):
    """How good a cut before a position is; lower is better. NONE forbids the cut."""

    PARAGRAPH = 0
    SENTENCE = 1
    WORD = 2
    GRAPHEME = 3
    NONE = 4


# Sentence enders that end a sentence on their own (CJK and fullwidth forms, the ellipsis).
_CJK_SENTENCE_ENDERS = frozenset("。！？；｡．…‼⁇⁈⁉")
# ASCII enders end a sentence only when whitespace follows ("3.14", "a.com" and "e.g." inside a
# sentence stay whole).
_ASCII_SENTENCE_ENDERS = frozenset(".!?;")
# Spaces that promise not to break a line.
_NO_BREAK_SPACES = frozenset("\u00a0\u2007\u202f")
# Closing quotes and brackets stay with the sentence they close.
_CLOSERS = frozenset("\"')]}”’」』）】》〉〕］｝»›")


def break_levels(text: str) -> bytearray:
    """For each position 0..len(text), the best :class:`BreakLevel` of a cut there.

    Cuts land after the whitespace that follows a sentence or word, so the next piece starts with
    visible text. Positions 0 and len(text) are PARAGRAPH (the text's own ends).
    """
    size = len(text)
    boundaries = grapheme_boundaries(text)
    levels = bytearray(
        BreakLevel.GRAPHEME if boundaries[index] else BreakLevel.NONE for index in range(size + 1)
    )
    levels[0] = levels[size] = BreakLevel.PARAGRAPH
    index = 0
    while index < size:
        char = text[index]
        if char.isspace() and char not in _NO_BREAK_SPACES:
            run_end = index
            newlines = 0
            while run_end < size and text[run_end].isspace() and text[run_end] not in _NO_BREAK_SPACES:
                newlines += text[run_end] == "\n"
                run_end += 1
            if run_end < size and boundaries[run_end]:
                if newlines >= 2:
                    level = BreakLevel.PARAGRAPH
                elif newlines == 1 or _ends_sentence_before(text, index):
                    level = BreakLevel.SENTENCE
                else:
                    level = BreakLevel.WORD
                levels[run_end] = min(levels[run_end], level)
            index = run_end
            continue
        if char in _CJK_SENTENCE_ENDERS:
            end = index + 1
            while end < size and (text[end] in _CLOSERS or text[end] in _CJK_SENTENCE_ENDERS):
                end += 1
            if end < size and not text[end].isspace() and boundaries[end]:
                levels[end] = min(levels[end], BreakLevel.SENTENCE)
            index = end
            continue
        if index + 1 < size and boundaries[index + 1] and (breaks_anywhere(char) or breaks_anywhere(text[index + 1])):
            levels[index + 1] = min(levels[index + 1], BreakLevel.WORD)
        index += 1
    return levels


def _ends_sentence_before(text: str, space_index: int) -> bool:
    """Whether the text just before the whitespace at ``space_index`` ends a sentence."""
    index = space_index - 1
    while index >= 0 and text[index] in _CLOSERS:
        index -= 1
    if index < 0:
        return False
    char = text[index]
    if char == "." and index > 0 and text[index - 1].isdigit():
        # "1. " numbers a list item or ends an ordinal; it rarely ends a sentence.
        return False
    return char in _ASCII_SENTENCE_ENDERS or char in _CJK_SENTENCE_ENDERS


@dataclass(slots=True)
class Reach(Generic[T]):
    """How far a budget reached from a start, and the latest cut of each level on the way."""

    end: int
    # Indexed by BreakLevel: (position, the caller's snapshot of its usage there) or None.
    cuts: list[tuple[int, T] | None]

    def best(self) -> tuple[int, T] | None:
        """The latest cut of the best level found, or None when no allowed cut was reached."""
        return next((cut for cut in self.cuts if cut is not None), None)


def reach(levels: Sequence[int], start: int, stop: int, take: Callable[[int], bool],
          snapshot: Callable[[], T], worst: int = BreakLevel.GRAPHEME) -> Reach[T]:
    """Walk from ``start`` towards ``stop`` while ``take(position)`` charges the character there.

    ``take`` returns False, charging nothing, when the character no longer fits; the walk stops
    there. At every cut no worse than ``worst`` that the walk passes, ``snapshot()`` records what
    the caller has used up to it, so a caller can cut there without measuring again.
    """
    cuts: list[tuple[int, T] | None] = [None] * (worst + 1)
    position = start
    while position < stop and take(position):
        position += 1
        level = levels[position]
        if level <= worst:
            cuts[level] = (position, snapshot())
    return Reach(position, cuts)


def split_text(text: str, limit: int, char_cost: Callable[[str], int] | None = None) -> list[str]:
    """Cut plain ``text`` into pieces whose cost is at most ``limit`` each, losing nothing.

    ``char_cost`` measures one code point in the platform's units (default: 1, code points).
    Pieces end at the best available cut: paragraph, else sentence, else word, else grapheme.
    Joining the pieces gives back ``text`` exactly. A single grapheme costlier than ``limit``
    stays whole in a piece of its own (there is no valid cut inside it).
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    size = len(text)
    if size == 0:
        return []
    levels = break_levels(text)
    pieces: list[str] = []
    used = 0

    def take(position: int) -> bool:
        nonlocal used
        cost = 1 if char_cost is None else char_cost(text[position])
        if used + cost > limit:
            return False
        used += cost
        return True

    start = 0
    while start < size:
        used = 0
        found = reach(levels, start, size, take, _nothing)
        cut = size if found.end == size else _cut_of(found, levels, start, size)
        pieces.append(text[start:cut])
        start = cut
    return pieces


def _nothing() -> None:
    return None


def _cut_of(found: Reach[None], levels: Sequence[int], start: int, size: int) -> int:
    best = found.best()
    if best is not None:
        return best[0]
    # One grapheme alone exceeds the limit: keep it whole rather than break it.
    cut = start + 1
    while cut < size and levels[cut] == BreakLevel.NONE:
        cut += 1
    return cut
