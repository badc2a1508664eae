"""Character classes the digest rules turn on: ASCII punctuation, code points no platform sends."""

from __future__ import annotations

import re

__all__ = ["ASCII_PUNCTUATION", "UNSENDABLE"]

ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

# Code points no platform accepts in a message: NUL, and surrogates, which are halves of UTF-16
# pairs rather than characters (a str holds them only when something decoded it wrongly).
UNSENDABLE = re.compile("[\x00\ud800-\udfff]")
