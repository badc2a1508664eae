"""The splitter cuts only where Unicode puts a grapheme cluster boundary (regex's \\X), and loses nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text.scripts import grapheme_boundaries, graphemes
from bot.text.segments import BreakLevel, break_levels, split_text

PROPERTY = settings(max_examples=150, deadline=None)

# Text that grapheme rules of one's own get wrong. The renderer tests draw from the same pool.
HARD_TOKENS = [
    # Thai: SARA AM and tone marks belong to the cluster before them; no spaces between words.
    "ทำ", "น้ำ", "กำลัง", "ภาษาไทย", "ที่", "เก็บ", "ฯ",
    # Devanagari and Bengali: conjuncts across a virama, nukta, vowel signs; Tamil keeps its virama apart.
    "क्ष", "क्षत्रिय", "हिन्दी", "स्त्री", "क़", "नमस्ते", "र्क", "ক্ষ", "স্ত্রী", "க்ஷ", "கொ",
    # Hangul: precomposed syllables and conjoining jamo (L V T, L L V, LV + T, lone V and T).
    "한국어", "\u1100\u1161\u11a8", "\u1112\u1161\u11ab", "\u1100\u1100\u1161", "가\u11a8", "\u1161", "\u11a8",
    # Emoji: ZWJ sequences, skin tones (also alone), keycaps, variation selectors, tag flags.
    "👨‍👩‍👧‍👦", "🏳️‍🌈", "👩🏽‍🔬", "🧑‍🤝‍🧑", "❤️‍🔥", "👁️‍🗨️", "👍🏽", "✋🏿", "🏽", "1️⃣", "#️⃣", "*️⃣", "1⃣",
    "☺\ufe0f", "☺\ufe0e", "⚠️", "葛\U000e0100", "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    # Regional indicators: pairs, and single ones that pair up with their neighbours or stay odd.
    "🇨🇳", "🇺🇸", "🇯🇵", "🇦", "🇦🇧🇨",
    # Combining marks, also after a space or at the very start of a piece.
    "e\u0301", "n\u0303\u0323", "a\u0308\u0304", "\u0301", " \u0301", "\u00a0\u0302",
    # A prepended mark and Arabic.
    "\u0600١", "مرحبا",
    # What cuts prefer: spaces, sentence ends, CJK, line and paragraph breaks.
    " ", " ", "  ", ". ", "。", "！", "，", "中文", "模型发布", "word", "Ünïcödé", "\n", "\n\n",
]
# Only for the splitter: characters the renderers clean or treat as invisible.
SPLITTER_ONLY_TOKENS = ["\r\n", "\u200b", "\u200d", "a\u200d", "\t"]


def hard_texts(max_tokens: int, tokens: list[str] = HARD_TOKENS, min_tokens: int = 0) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(tokens), min_size=min_tokens, max_size=max_tokens).map("".join)


def cluster_starts(text: str) -> set[int]:
    """Every \\X boundary of ``text``, worked out here without the splitter's help."""
    positions, position = {0}, 0
    for cluster in regex.findall(r"\X", text):
        position += len(cluster)
        positions.add(position)
    return positions


def utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def utf8_bytes(char: str) -> int:
    return len(char.encode("utf-8"))


COSTS: dict[str, Callable[[str], int] | None] = {"code points": None, "UTF-16 units": utf16_units,
                                                   "UTF-8 bytes": utf8_bytes}


@pytest.mark.parametrize(("text", "clusters"), [
    ("ทำน้ำ", ["ทำ", "น้ำ"]),                      # SARA AM is a spacing mark of the cluster before it
    ("क्षत्रिय", ["क्ष", "त्रि", "य"]),                # conjuncts across a virama (GB9c)
    ("স্ত্রী", ["স্ত্রী"]),
    ("\u1100\u1161\u11a8\u1100\u1100\u1161", ["\u1100\u1161\u11a8", "\u1100\u1100\u1161"]),  # L V T, L L V
    ("가\u11a8\u1161", ["가\u11a8", "\u1161"]),      # LV + T, then a lone V
    ("👨‍👩‍👧‍👦👍🏽x🏽", ["👨‍👩‍👧‍👦", "👍🏽", "x🏽"]),  # a skin tone extends whatever precedes it
    ("🇨🇳🇺🇸🇦", ["🇨🇳", "🇺🇸", "🇦"]),                # an odd count of regional indicators
    ("1️⃣#⃣", ["1️⃣", "#⃣"]),
    ("e\u0301\u0323 \u0301", ["e\u0301\u0323", " \u0301"]),
    ("☺\ufe0f葛\U000e0100", ["☺\ufe0f", "葛\U000e0100"]),
    ("\u0600١", ["\u0600١"]),                       # a prepended mark
    ("a\r\nb", ["a", "\r\n", "b"]),
])
def test_graphemes_follow_unicode(text: str, clusters: list[str]) -> None:
    assert list(graphemes(text)) == clusters
    assert {index for index, boundary in enumerate(grapheme_boundaries(text)) if boundary} == cluster_starts(text)


@PROPERTY
@given(hard_texts(60, HARD_TOKENS + SPLITTER_ONLY_TOKENS))
def test_every_allowed_cut_is_a_cluster_boundary_and_every_boundary_may_be_cut(text: str) -> None:
    levels = break_levels(text)
    boundaries = cluster_starts(text)
    allowed = {position for position, level in enumerate(levels) if level < BreakLevel.NONE}
    assert allowed == boundaries
    assert levels[0] == levels[len(text)] == BreakLevel.PARAGRAPH


@PROPERTY
@given(hard_texts(120, HARD_TOKENS + SPLITTER_ONLY_TOKENS), st.integers(1, 40), st.sampled_from(sorted(COSTS)))
def test_split_text_cuts_only_between_clusters_and_loses_nothing(text: str, limit: int, cost_name: str) -> None:
    char_cost = COSTS[cost_name]
    measure: Callable[[str], int] = len if char_cost is None else (lambda piece: sum(map(char_cost, piece)))
    pieces = split_text(text, limit, char_cost)
    assert "".join(pieces) == text
    boundaries = cluster_starts(text)
    position = 0
    for piece in pieces:
        assert piece
        assert position in boundaries
        # Over the limit only when one cluster alone is bigger than the limit.
        assert measure(piece) <= limit or len(regex.findall(r"\X", piece)) == 1
        position += len(piece)
    # Every cluster of the input, in order, whole.
    assert [cluster for piece in pieces for cluster in regex.findall(r"\X", piece)] == regex.findall(r"\X", text)


def test_a_run_of_regional_indicators_is_cut_between_pairs_only() -> None:
    flags = "🇦" * 41
    pieces = split_text(flags, 5)
    assert all(len(piece) % 2 == 0 for piece in pieces[:-1])
    assert "".join(pieces) == flags and len(pieces[-1]) % 2 == 1


def test_thai_is_never_cut_before_sara_am() -> None:
    text = "ทำ" * 50
    for limit in range(1, 12):
        assert all(not piece.startswith("\u0e33") for piece in split_text(text, limit))


def test_splitting_scans_each_character_a_bounded_number_of_times() -> None:
    # Each piece is scanned from its own start, never from the start of the text: the number of
    # characters measured stays proportional to the text however many pieces it makes.
    text = " ".join(HARD_TOKENS) * 60
    measured = 0

    def counting_cost(char: str) -> int:
        nonlocal measured
        measured += 1
        return 1

    pieces = split_text(text, 40, counting_cost)
    assert len(pieces) > 400
    assert measured <= 2 * len(text)
