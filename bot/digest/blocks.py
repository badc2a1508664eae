"""Block-level scanning of digest lines: rules, headings, item lines, indentation, HTML comment blocks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bot.errors import DigestError

__all__ = [
    "NAME_SEPARATORS", "Fail", "Line", "content_indent", "heading_text", "html_comments", "indent_width",
    "is_rule_line", "is_rule_text", "item_match", "item_match_text", "line_heading", "looks_like_item",
    "looks_like_item_text", "mark_comments", "marker_names", "split_lines",
]

# Makes the error for a message and the line it is about (the parser's, which knows the file).
Fail = Callable[[str, int | None], DigestError]


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the digest as read, and whether an HTML comment block hides it."""

    number: int          # 1-based, in the original file
    text: str            # trailing whitespace removed
    comment_at: int = 0  # inside an HTML comment block: the line that block opened on
    after_comment: str = ""  # on the line that closes it: the text after `-->`, which a reader sees

    @property
    def comment(self) -> bool:
        return self.comment_at > 0


_RULE = re.compile(r" {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})")
_HEADING_MARKS = re.compile(r" {0,3}(#+)")
_ITEM = re.compile(r"(\d{1,9})([.)])(?:[ \t]+(.*))?")
_MARKER = re.compile(r"\s*categor(?:y|ies)\s*[:：]", re.IGNORECASE)
NAME_SEPARATORS = re.compile(r"[,，、;；\n]")
_LINKISH = re.compile(r"[*_]{0,3}(?:\[|<)")


def split_lines(text: str) -> list[Line]:
    """The lines of a text, numbered as an editor numbers them, trailing whitespace removed."""
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [Line(number, line.rstrip()) for number, line in enumerate(raw, start=1)]


def indent_width(text: str) -> int:
    """The column a line's text starts at, a tab reaching the next multiple of 4."""
    column = 0
    for char in text:
        if char == " ":
            column += 1
        elif char == "\t":
            column += 4 - column % 4
        else:
            break
    return column


def is_rule_text(text: str) -> bool:
    return _RULE.fullmatch(text) is not None


def heading_text(text: str) -> str | None:
    """The text of an ATX heading line (`### Title`, closing `#`s dropped), or None.

    Written out rather than as one regular expression: a lazy title followed by an optional closing
    sequence makes the regex engine rescan long runs of spaces, quadratically.
    """
    marks = _HEADING_MARKS.match(text)
    if marks is None or len(marks.group(1)) > 6:
        return None
    rest = text[marks.end():]
    if not rest:
        return ""
    if rest[0] not in " \t":
        return None
    content = rest.lstrip(" \t")
    unmarked = content.rstrip("#")
    if len(unmarked) < len(content) and unmarked[-1:] in (" ", "\t"):
        content = unmarked.rstrip(" \t")
    return content


def is_rule_line(line: Line) -> bool:
    return not line.comment and is_rule_text(line.text)


def line_heading(line: Line) -> str | None:
    return None if line.comment else heading_text(line.text)


def item_match_text(text: str) -> re.Match[str] | None:
    if indent_width(text) > 3:
        return None
    return _ITEM.fullmatch(text.lstrip(" "))


def item_match(line: Line) -> re.Match[str] | None:
    return None if line.comment else item_match_text(line.text)


def looks_like_item_text(text: str) -> bool:
    match = item_match_text(text)
    return match is not None and _LINKISH.match(match.group(3) or "") is not None


def looks_like_item(line: Line) -> bool:
    return not line.comment and looks_like_item_text(line.text)


def content_indent(line: Line) -> int:
    """The column where an item's own text starts (summary lines indented this far or more belong
    to it, even when they look like list items)."""
    stripped = line.text.lstrip(" ")
    marker_end = len(line.text) - len(stripped) + len(stripped.split(None, 1)[0])
    rest = line.text[marker_end:]
    gap = indent_width(rest)
    return marker_end + (gap if 1 <= gap <= 4 else 1)


def html_comments(text: str) -> Iterator[str]:
    """The content of every complete `<!-- … -->` in text, in one pass."""
    position = 0
    while True:
        start = text.find("<!--", position)
        if start < 0:
            return
        # CommonMark 0.31: `<!-->` and `<!--->` are complete (empty) comments.
        for empty in ("<!-->", "<!--->"):
            if text.startswith(empty, start):
                position = start + len(empty)
                yield ""
                break
        else:
            end = text.find("-->", start + 4)
            if end < 0:
                return   # no later comment can close either
            yield text[start + 4:end]
            position = end + 3


def _comment_close(text: str, start: int) -> int:
    """Index after the `-->` that closes a comment whose text starts at `start` (4 on the line that
    opens it), or -1."""
    if start == 4 and text.startswith(("<!-->", "<!--->")):
        return 5 if text.startswith("<!-->") else 6   # CommonMark 0.31: complete, empty comments
    close = text.find("-->", start)
    return close + 3 if close >= 0 else -1


def marker_names(comment: str) -> list[str]:
    """The names in a `categories: A, B` comment, or nothing for any other comment."""
    marker = _MARKER.match(comment)
    if marker is None:
        return []
    return [name.strip() for name in NAME_SEPARATORS.split(comment[marker.end():].strip())]


def mark_comments(lines: list[Line], fail: Fail) -> list[Line]:
    """Flags the lines of HTML comment blocks (a line that starts with `<!--` up to `-->`)."""
    out: list[Line] = []
    open_at = 0
    for line in lines:
        stripped = line.text.strip()
        if not open_at and stripped.startswith("<!--"):
            close = _comment_close(stripped, 4)
            if close < 0:
                open_at = line.number
            out.append(Line(line.number, line.text, line.number,
                            stripped[close:].strip() if close >= 0 else ""))
        elif open_at:
            close = _comment_close(stripped, 0)
            out.append(Line(line.number, line.text, open_at, stripped[close:].strip() if close >= 0 else ""))
            if close >= 0:
                open_at = 0
        else:
            out.append(line)
    if open_at:
        raise fail("HTML comment is never closed (no '-->' after it)", open_at)
    return out
