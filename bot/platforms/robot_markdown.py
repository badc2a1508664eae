"""The robots' Markdown subsets: link targets that cannot end a link early, and text without escapes
(WeCom, DingTalk), where no character of the text can start or end markup.

Neither platform documents a backslash escape, and a stray `*` or `[` in a headline would turn
the rest of a message bold or into a broken link. A zero-width space on each side of such a
character keeps it as the reader sees it while no delimiter can pair with it (an opener must be
followed by a visible character, a closer preceded by one, and `](` never forms). Some characters
pair across anything, and those become look-alikes: backticks everywhere, and outside a link's
label the brackets (a `[` of the text before a link on the same line would open that link).
"""

from __future__ import annotations

import re

ZWSP = "\u200b"
TWINS = {"`": "ˋ", "[": "［", "]": "］"}
# Each character is escaped on its own, so text escapes character by character (the core's packer relies on it).
FENCED = "*_[]<>#"
_LABEL = str.maketrans({**{char: f"{ZWSP}{char}{ZWSP}" for char in FENCED}, "`": TWINS["`"]})
_TEXT = str.maketrans({**{char: f"{ZWSP}{char}{ZWSP}" for char in FENCED}, **TWINS})
_BACK = str.maketrans({twin: char for char, twin in TWINS.items()})
# A link the renderer wrote: its label holds no bracket but fenced ones.
LINK = re.compile(rf"\[((?:{ZWSP}[\[\]]{ZWSP}|[^\[\]])*)\]\(([^)\s]*)\)")


def plain(text: str) -> str:
    """Text with every character that could start or end markup defused."""
    return text.translate(_TEXT)


def plain_label(label: str) -> str:
    """A link's label defused: its brackets stay as they are, fenced, since the link's own `[` comes first."""
    return label.translate(_LABEL)


def unplain(text: str) -> str:
    """What a reader sees of plain() text (for tests that check no text was lost)."""
    return text.replace(ZWSP, "").translate(_BACK)


def link_target(url: str) -> str:
    """A link target that cannot end `[label](url)` early: parentheses and spaces percent-encoded."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
