"""The robots' Markdown subsets: link targets that cannot end a link early, and text without escapes
(WeCom, DingTalk), where characters that would start markup become look-alikes.

Neither platform documents a backslash escape, and a stray `*` or `[` in a headline would turn
the rest of a message bold or into a broken link. Replacing each such character with its
full-width twin keeps what the reader sees and leaves no markup but the renderer's own.
"""

from __future__ import annotations

# Each maps one character to one, so text escapes character by character (the core's packer relies on it).
MARKDOWN_SPECIALS = {
    "*": "∗", "_": "＿", "`": "ˋ", "[": "［", "]": "］", "<": "＜", ">": "＞", "#": "＃", "~": "～", "|": "｜",
}
_TABLE = str.maketrans(MARKDOWN_SPECIALS)
_BACK = str.maketrans({twin: char for char, twin in MARKDOWN_SPECIALS.items()})


def plain(text: str) -> str:
    """`text` with every markup-starting character replaced by its look-alike."""
    return text.translate(_TABLE)


def unplain(text: str) -> str:
    """The inverse of plain(), for tests that check no text was lost."""
    return text.translate(_BACK)


def link_target(url: str) -> str:
    """A link target that cannot end `[label](url)` early: parentheses and spaces percent-encoded."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
