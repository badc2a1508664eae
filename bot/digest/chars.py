"""Character classes the digest rules turn on: ASCII punctuation, CJK letters, code points no platform sends."""

from __future__ import annotations

import re

__all__ = ["ASCII_PUNCTUATION", "UNSENDABLE", "is_cjk_letter"]

ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

# Code points no platform accepts in a message: NUL, and surrogates, which are halves of UTF-16
# pairs rather than characters (a str holds them only when something decoded it wrongly).
UNSENDABLE = re.compile("[\x00\ud800-\udfff]")


def is_cjk_letter(char: str) -> bool:
    """Han, kana and Hangul: scripts whose words are not separated by spaces (or, for Hangul, whose
    text sits directly against emphasis markers)."""
    if not char:
        return False
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF        # CJK unified ideographs
        or 0x3400 <= code <= 0x4DBF     # extension A
        or 0x20000 <= code <= 0x3FFFF   # extensions B and later
        or 0xF900 <= code <= 0xFAFF     # compatibility ideographs
        or 0x3040 <= code <= 0x30FF     # hiragana, katakana
        or 0x31F0 <= code <= 0x31FF     # katakana extensions
        or 0x3100 <= code <= 0x312F     # bopomofo
        or 0xAC00 <= code <= 0xD7AF     # Hangul syllables
    )
