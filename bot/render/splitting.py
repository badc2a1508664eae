"""Platform-neutral cut points for long text: paragraphs, sentences (incl. CJK), words, graphemes.

Every renderer measures in its own platform's units, but where text may be cut is the same
everywhere: never inside a grapheme cluster (ZWJ emoji, flags, skin tones, combining marks,
Hangul syllable blocks), preferably between paragraphs, then sentences, then words.

The central piece is :func:`break_levels`: one pass over the text that records, for every
position, the best kind of cut allowed there. A renderer scans forward while its budget lasts and
remembers the latest cut of each level; that keeps splitting linear in the text length.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Sequence
from enum import IntEnum
from functools import lru_cache

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


# Grapheme cluster break properties (UAX #29), reduced to what the rules below need.
_OTHER, _CR, _LF, _CONTROL, _EXTEND, _ZWJ, _SPACING_MARK, _PREPEND, _RI, _L, _V, _T, _LV, _LVT = range(14)

_PREPEND_CHARS = frozenset(
    chr(cp) for cp in (*range(0x0600, 0x0606), 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x0D4E,
                       0x110BD, 0x110CD, 0x111C2, 0x111C3, 0x1193F, 0x11941, 0x11A3A, 0x11A84,
                       0x11A85, 0x11A86, 0x11A87, 0x11A88, 0x11A89, 0x11D46)
)


@lru_cache(maxsize=4096)
def _grapheme_property(char: str) -> int:
    cp = ord(char)
    if char == "\r":
        return _CR
    if char == "\n":
        return _LF
    if cp == 0x200D:
        return _ZWJ
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return _RI
    # Emoji skin-tone modifiers, tag characters (subdivision flags), halfwidth kana voicing marks
    # and ZWNJ are Extend although their general category says otherwise.
    if 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F or cp in (0xFF9E, 0xFF9F, 0x200C):
        return _EXTEND
    if char in _PREPEND_CHARS:
        return _PREPEND
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return _L
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return _V
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return _T
    if 0xAC00 <= cp <= 0xD7A3:
        return _LV if (cp - 0xAC00) % 28 == 0 else _LVT
    category = unicodedata.category(char)
    if category in ("Mn", "Me"):
        return _EXTEND
    if category == "Mc":
        return _SPACING_MARK
    if category in ("Cc", "Zl", "Zp", "Cs") or (category == "Cf" and not 0xE0000 <= cp <= 0xE0FFF):
        return _CONTROL
    return _OTHER


# Hangul syllable blocks (UAX #29 GB6-GB8).
_HANGUL_PAIRS = frozenset(
    [(_L, other) for other in (_L, _V, _LV, _LVT)]
    + [(first, second) for first in (_LV, _V) for second in (_V, _T)]
    + [(_LVT, _T), (_T, _T)]
)


def _joined_after_virama(previous: str, following: str) -> bool:
    # Indic conjuncts (UAX #29 GB9c, approximated): a virama (combining class 9) glues the
    # following letter to the cluster.
    return unicodedata.combining(previous) == 9 and unicodedata.category(following).startswith("L")


def grapheme_boundaries(text: str) -> list[bool]:
    """For each position 0..len(text), whether a grapheme cluster boundary lies there."""
    size = len(text)
    result = [True] * (size + 1)
    if size < 2:
        return result
    previous_char = text[0]
    previous = _grapheme_property(previous_char)
    regional_run = 1 if previous == _RI else 0
    for index in range(1, size):
        char = text[index]
        current = _grapheme_property(char)
        joined: bool
        if previous == _CR and current == _LF:
            joined = True
        elif previous in (_CONTROL, _CR, _LF) or current in (_CONTROL, _CR, _LF):
            joined = False
        elif ((previous, current) in _HANGUL_PAIRS
              or current in (_EXTEND, _ZWJ, _SPACING_MARK) or previous in (_PREPEND, _ZWJ)):
            # GB11 joins a ZWJ only to a following pictograph; joining it to anything that is not a
            # control is a superset, so no emoji ZWJ sequence is ever cut.
            joined = True
        elif previous == _RI and current == _RI:
            joined = regional_run % 2 == 1
        else:
            joined = _joined_after_virama(previous_char, char)
        result[index] = not joined
        regional_run = regional_run + 1 if current == _RI else 0
        previous, previous_char = current, char
    return result


def graphemes(text: str) -> Iterator[str]:
    """The user-perceived characters of ``text``, in order."""
    start = 0
    boundaries = grapheme_boundaries(text)
    for index in range(1, len(text) + 1):
        if boundaries[index]:
            yield text[start:index]
            start = index


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
