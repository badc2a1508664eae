"""The one table of script ranges (CJK, Han, kana, Hangul, spaced alphabets) and grapheme clusters.

Callers ask different questions of the same ranges: may a line break between two characters, is
this a letter of a script without spaces, does a soft line break vanish here, is this a letter of
a script that separates words with spaces. Each question is a :class:`Script` flag on the rows
below, so a range is declared once and every answer is derived from it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from enum import Flag, auto

import regex

__all__ = [
    "Script",
    "breaks_anywhere",
    "char_class",
    "grapheme_boundaries",
    "graphemes",
    "is_cjk_letter",
    "joins_lines",
]


class Script(Flag):
    """What a range of code points is, for the questions the bot asks about text."""

    NONE = 0
    # Written without spaces between words: a line may break between any two characters.
    BREAKS_ANYWHERE = auto()
    # Han, kana, bopomofo and Hangul letters (emphasis flanking and soft breaks turn on them).
    CJK_LETTER = auto()
    # A soft line break between two such characters vanishes instead of becoming a space.
    JOINS_LINES = auto()
    # Letters of scripts that separate words with spaces (a keyword in them matches whole words).
    SPACED_LETTER = auto()


_B, _L, _J, _S = Script.BREAKS_ANYWHERE, Script.CJK_LETTER, Script.JOINS_LINES, Script.SPACED_LETTER

# (first, last, what it is): sorted, not overlapping. Rows split where callers' answers differ.
_ROWS: tuple[tuple[int, int, Script], ...] = (
    (0x00AA, 0x00AA, _S),            # ª
    (0x00B5, 0x00B5, _S),            # µ
    (0x00BA, 0x00BA, _S),            # º
    (0x00C0, 0x00D6, _S),            # Latin-1 letters
    (0x00D8, 0x00F6, _S),
    (0x00F8, 0x02AF, _S),            # Latin-1 letters, Latin extended, IPA
    (0x0370, 0x03FF, _S),            # Greek
    (0x0400, 0x052F, _S),            # Cyrillic and its supplement
    (0x1E00, 0x1EFF, _S),            # Latin extended additional
    (0x2E80, 0x2FFF, _B),            # CJK and Kangxi radicals, ideographic description
    (0x3000, 0x303F, _B | _J),       # CJK symbols and punctuation 、。「」
    (0x3040, 0x30FF, _B | _L | _J),  # hiragana, katakana
    (0x3100, 0x312F, _B | _L | _J),  # bopomofo
    (0x3130, 0x31EF, _B),            # Hangul compatibility jamo, kanbun, bopomofo extended, strokes
    (0x31F0, 0x31FF, _B | _L | _J),  # katakana phonetic extensions
    (0x3200, 0x33FF, _B),            # enclosed CJK letters, CJK compatibility
    (0x3400, 0x4DBF, _B | _L | _J),  # Han extension A
    (0x4DC0, 0x4DFF, _B),            # Yijing hexagrams
    (0x4E00, 0x9FFF, _B | _L | _J),  # Han unified ideographs
    (0xAC00, 0xD7A3, _B | _L | _S),  # Hangul syllables (Korean separates words with spaces)
    (0xD7A4, 0xD7AF, _L | _S),       # the rest of the Hangul syllables block (unassigned)
    (0xF900, 0xFAFF, _B | _L | _J),  # CJK compatibility ideographs
    (0xFE30, 0xFE4F, _B | _J),       # CJK compatibility forms
    (0xFF00, 0xFFEF, _B | _J),       # halfwidth and fullwidth forms ，！？（）
    (0x20000, 0x3FFFF, _B | _L | _J),  # Han extensions B and later
)
_FIRSTS = [row[0] for row in _ROWS]
_LOWEST_CJK = 0x2E80
# Punctuation from general blocks that Chinese text uses like its own: ‘’“”—…·
_CJK_USE_PUNCTUATION = frozenset("\u2018\u2019\u201c\u201d\u2014\u2026\u00b7")


def script_of(char: str) -> Script:
    """The flags of the row holding ``char`` (NONE for the empty string and unlisted characters)."""
    if not char:
        return Script.NONE
    code = ord(char)
    index = bisect_right(_FIRSTS, code) - 1
    if index < 0 or code > _ROWS[index][1]:
        return Script.NONE
    return _ROWS[index][2]


def breaks_anywhere(char: str) -> bool:
    """Whether ``char`` belongs to a script written without spaces between words."""
    # Most text the splitter sees is below the first CJK row; skip the lookup for it.
    return ord(char) >= _LOWEST_CJK and Script.BREAKS_ANYWHERE in script_of(char)


def is_cjk_letter(char: str) -> bool:
    """Han, kana and Hangul: scripts whose words are not separated by spaces (or, for Hangul, whose
    text sits directly against emphasis markers)."""
    return bool(char) and ord(char) >= _LOWEST_CJK and Script.CJK_LETTER in script_of(char)


def joins_lines(char: str) -> bool:
    """Whether a soft line break next to ``char`` vanishes: Chinese and Japanese letters and punctuation."""
    return bool(char) and (char in _CJK_USE_PUNCTUATION or Script.JOINS_LINES in script_of(char))


def char_class(script: Script) -> str:
    """The rows with any of ``script``'s flags as the inside of a regular-expression ``[...]``."""
    return "".join(_range_text(first, last) for first, last, flags in _ROWS if flags & script)


def _range_text(first: int, last: int) -> str:
    return chr(first) if first == last else f"{chr(first)}-{chr(last)}"


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
