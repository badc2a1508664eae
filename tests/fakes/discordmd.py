"""A reader of Discord markdown as its client shows it, written from Discord's documented syntax: the plain
text, the links and the bold/italic spans of a message, so tests can check what a person sees."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ZWSP = "\u200b"
_ESCAPABLE = re.compile(r"\\([^0-9A-Za-z\s])")
_CODE = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_MASKED_LINK = re.compile(r"\[((?:\\.|[^\[\]\\])*)\]\(<?([^()<>\s]+)>?\)")
_ANGLE_LINK = re.compile(r"<(https?://[^\s<>]+)>")


@dataclass
class Reading:
    """What a reader sees in one message text."""

    plain: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)     # (label, url)
    bold: list[str] = field(default_factory=list)                  # the plain text of each bold span
    italic: list[str] = field(default_factory=list)
    unbalanced: bool = False                                       # a mark left open: markup the reader sees


def read(text: str) -> Reading:
    """Parse `text` the way Discord's client does for the syntax the bot writes."""
    reading = Reading()
    out: list[str] = []
    _read_into(text, reading, out, bold=False, italic=False)
    reading.plain = "".join(out).replace(ZWSP, "")
    return reading


def _read_into(text: str, reading: Reading, out: list[str], *, bold: bool, italic: bool) -> None:
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\" and (escaped := _ESCAPABLE.match(text, position)):
            out.append(escaped.group(1))
            position = escaped.end()
        elif char == "`" and (code := _CODE.match(text, position)):
            inner = code.group(2)
            out.append(inner[1:-1] if inner.startswith(" ") and inner.endswith(" ") and inner.strip() else inner)
            position = code.end()
        elif char == "[" and (link := _MASKED_LINK.match(text, position)):
            label = _unescape(link.group(1))
            reading.links.append((label, link.group(2)))
            out.append(label)
            position = link.end()
        elif char == "<" and (angle := _ANGLE_LINK.match(text, position)):
            reading.links.append((angle.group(1), angle.group(1)))
            out.append(angle.group(1))
            position = angle.end()
        elif char == "*":
            position = _emphasis(text, position, reading, out, bold=bold, italic=italic)
        else:
            out.append(char)
            position += 1


def _emphasis(text: str, position: int, reading: Reading, out: list[str], *, bold: bool, italic: bool) -> int:
    """Read the span opening at `position` ("***", "**" or "*"); an unclosed mark is shown as it is."""
    run = len(text) - len(text[position:].lstrip("*"))
    marks = min(run - position, 3)
    closing = _find_closing(text, position + marks, "*" * marks)
    if closing is None:
        reading.unbalanced = True
        out.append("*" * marks)
        return position + marks
    inner: list[str] = []
    span_bold, span_italic = marks >= 2, marks in (1, 3)
    _read_into(text[position + marks:closing], reading, inner, bold=bold or span_bold, italic=italic or span_italic)
    plain = "".join(inner).replace(ZWSP, "")
    if span_bold:
        reading.bold.append(plain)
    if span_italic:
        reading.italic.append(plain)
    out.extend(inner)
    return closing + marks


def _find_closing(text: str, start: int, marks: str) -> int | None:
    """Where the same run of marks closes, skipping escapes, code and links."""
    position = start
    while position < len(text):
        if text[position] == "\\":
            position += 2
            continue
        if text[position] == "`" and (code := _CODE.match(text, position)):
            position = code.end()
            continue
        if text[position] == "[" and (link := _MASKED_LINK.match(text, position)):
            position = link.end()
            continue
        if text.startswith(marks, position) and position > start:
            after = len(text) - len(text[position:].lstrip("*")) - position
            if after == len(marks):
                return position
            position += after
            continue
        position += 1
    return None


def _unescape(text: str) -> str:
    return _ESCAPABLE.sub(r"\1", text)
