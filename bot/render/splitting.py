"""Platform-neutral cut points for long text: paragraphs, sentences (incl. CJK), words, graphemes.

Every renderer measures in its own platform's units, but where text may be cut is the same
everywhere: never inside a grapheme cluster (ZWJ emoji, flags, skin tones, combining marks,
Hangul syllable blocks), preferably between paragraphs, then sentences, then words.

The central piece is :func:`break_levels`: one pass over the text that records, for every
position, the best kind of cut allowed there. A renderer scans forward while its budget lasts and
remembers the latest cut of each level; that keeps splitting linear in the text length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from enum import IntEnum

import regex

__all__ = [
    "BreakLevel",
    "best_cut",
    "break_levels",
    "grapheme_boundaries",
    "graphemes",
    "is_cjk",
    "split_text",
]


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


# Cluster boundaries come from the regex module's \X, which follows Unicode's own rules (UAX #29:
# emoji ZWJ sequences, flags, Hangul jamo, Indic conjuncts, spacing marks such as Thai SARA AM).
# The standard re module has no \X, and a table of our own falls behind every Unicode release.
_CLUSTER = regex.compile(r"\X")


def grapheme_boundaries(text: str) -> list[bool]:
    """For each position 0..len(text), whether a grapheme cluster boundary lies there."""
    result = [False] * (len(text) + 1)
    result[0] = True
    position = 0
    for cluster in _CLUSTER.findall(text):
        position += len(cluster)
        result[position] = True
    return result


def graphemes(text: str) -> Iterator[str]:
    """The user-perceived characters of ``text``, in order."""
    yield from _CLUSTER.findall(text)


def is_cjk(char: str) -> bool:
    """Whether ``char`` belongs to a script written without spaces between words."""
    cp = ord(char)
    return (
        0x2E80 <= cp <= 0x9FFF  # radicals, CJK punctuation, kana, bopomofo, unified ideographs
        or 0xAC00 <= cp <= 0xD7A3  # Hangul syllables
        or 0xF900 <= cp <= 0xFAFF  # compatibility ideographs
        or 0xFE30 <= cp <= 0xFE4F  # CJK compatibility forms
        or 0xFF00 <= cp <= 0xFFEF  # halfwidth and fullwidth forms
        or 0x20000 <= cp <= 0x3FFFF  # supplementary ideographs
    )


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
        if index + 1 < size and boundaries[index + 1] and (is_cjk(char) or is_cjk(text[index + 1])):
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


def best_cut(levels: Sequence[int], start: int, stop: int, worst: int = BreakLevel.GRAPHEME) -> int | None:
    """The latest cut in (start, stop] of the best level no worse than ``worst``, or None.

    For renderers that know how far a budget reaches; a scan that measures as it goes keeps the
    latest cut per level itself instead.
    """
    best_position: int | None = None
    best_level = worst + 1
    for position in range(stop, start, -1):
        level = levels[position]
        if level < best_level:
            best_level, best_position = level, position
            if level == BreakLevel.PARAGRAPH:
                break
    return best_position


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
    start = 0
    while start < size:
        latest: list[int | None] = [None] * (BreakLevel.GRAPHEME + 1)
        used = 0
        position = start
        while position < size:
            cost = 1 if char_cost is None else char_cost(text[position])
            if used + cost > limit:
                break
            used += cost
            position += 1
            level = levels[position]
            if level <= BreakLevel.GRAPHEME:
                latest[level] = position
        if position == size:
            cut = size
        else:
            found = next((cut for cut in latest if cut is not None), None)
            if found is None:
                # One grapheme alone exceeds the limit: keep it whole rather than break it.
                found = start + 1
                while found < size and levels[found] == BreakLevel.NONE:
                    found += 1
            cut = found
        pieces.append(text[start:cut])
        start = cut
    return pieces
