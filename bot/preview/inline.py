"""Inline markup of the chat platforms' markdown dialects read into styled runs.

One small reader serves Slack's mrkdwn (``*b*``, ``_i_``, ``~s~``, `` `c` ``, ``<url|label>``) and
the markdown subsets of Discord, Feishu, WeCom and DingTalk (``**b**``, ``*i*``, ``~~s~~``,
``[label](url)``). Delimiters pair the way those clients pair them: an opener is followed by a
visible character, a closer preceded by one; a single-character delimiter must also stand at a word
boundary (so ``snake_case`` stays as written). Anything that does not pair stays text.
"""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass, field

from bot.preview.runs import RunBuilder

# Zero-width space: what renderers put beside a delimiter to keep it from pairing.
ZWSP = "\u200b"


@dataclass(frozen=True, slots=True)
class Syntax:
    delimiters: dict[str, str]              # delimiter → mark, longest first
    slack_links: bool = False               # <url|label> rather than [label](url)
    backslash: bool = False                 # \* is a literal star
    entities: bool = False                  # &amp; &lt; &gt; (and the rest) are undone
    code: bool = True


@dataclass(slots=True)
class _Token:
    kind: str                               # text, code, link, delim
    text: str
    url: str = ""
    can_open: bool = False
    can_close: bool = False
    paired: bool = False


@dataclass(slots=True)
class _Line:
    tokens: list[_Token] = field(default_factory=list)

    def text(self, text: str) -> None:
        if self.tokens and self.tokens[-1].kind == "text":
            self.tokens[-1].text += text
        else:
            self.tokens.append(_Token("text", text))


def _is_boundary(char: str | None) -> bool:
    return char is None or char.isspace() or char == ZWSP or unicodedata.category(char)[0] in "PS"


def _is_visible(char: str | None) -> bool:
    return char is not None and not char.isspace() and char != ZWSP


def _undo(text: str, syntax: Syntax) -> str:
    return html.unescape(text) if syntax.entities else text


def _link_at(line: str, index: int, syntax: Syntax) -> tuple[_Token, int] | None:
    if syntax.slack_links and line[index] == "<":
        end = line.find(">", index)
        if end < 0:
            return None
        url, _, label = line[index + 1:end].partition("|")
        return _Token("link", _undo(label or url, syntax), url=_undo(url, syntax)), end + 1
    if not syntax.slack_links and line[index] == "[":
        middle = line.find("](", index)
        end = line.find(")", middle + 2) if middle > 0 else -1
        if middle < 0 or end < 0:
            return None
        label = line[index + 1:middle]
        return _Token("link", _undo(_unbackslash(label) if syntax.backslash else label, syntax),
                      url=_undo(line[middle + 2:end], syntax)), end + 1
    return None


def _unbackslash(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        if text[index] == "\\" and index + 1 < len(text) and _is_ascii_punctuation(text[index + 1]):
            index += 1
        out.append(text[index])
        index += 1
    return "".join(out)


def _is_ascii_punctuation(char: str) -> bool:
    return char.isascii() and not char.isalnum() and not char.isspace()


def _delimiter(line: str, index: int, syntax: Syntax) -> _Token | None:
    for delimiter in syntax.delimiters:
        if not line.startswith(delimiter, index):
            continue
        before = line[index - 1] if index else None
        after_index = index + len(delimiter)
        after = line[after_index] if after_index < len(line) else None
        strict = len(delimiter) == 1
        can_open = _is_visible(after) and (not strict or _is_boundary(before))
        can_close = _is_visible(before) and (not strict or _is_boundary(after))
        return _Token("delim", delimiter, can_open=can_open, can_close=can_close)
    return None


def _tokens(line: str, syntax: Syntax) -> list[_Token]:
    out = _Line()
    index = 0
    while index < len(line):
        char = line[index]
        if syntax.backslash and char == "\\" and index + 1 < len(line) and _is_ascii_punctuation(line[index + 1]):
            out.text(line[index + 1])
            index += 2
            continue
        if syntax.code and char == "`":
            end = line.find("`", index + 1)
            if end > index + 1:
                out.tokens.append(_Token("code", _undo(line[index + 1:end], syntax)))
                index = end + 1
                continue
        link = _link_at(line, index, syntax)
        if link is not None:
            out.tokens.append(link[0])
            index = link[1]
            continue
        delim = _delimiter(line, index, syntax)
        if delim is not None and (delim.can_open or delim.can_close):
            out.tokens.append(delim)
            index += len(delim.text)
            continue
        out.text(char)
        index += 1
    return out.tokens


def _pair(tokens: list[_Token]) -> None:
    """Marks every delimiter that opens or closes a span; the rest are shown as text."""
    stack: list[_Token] = []
    for token in tokens:
        if token.kind != "delim":
            continue
        opener = next((open_ for open_ in reversed(stack) if open_.text == token.text), None)
        if token.can_close and opener is not None:
            # Whatever opened after it and is still unpaired cannot pair across this span any more.
            while stack and stack[-1] is not opener:
                stack.pop()
            stack.pop()
            opener.paired = token.paired = True
        elif token.can_open:
            stack.append(token)


def read_line(line: str, syntax: Syntax, out: RunBuilder) -> None:
    tokens = _tokens(line, syntax)
    _pair(tokens)
    open_marks: list[str] = []
    for token in tokens:
        if token.kind == "delim" and token.paired:
            mark = syntax.delimiters[token.text]
            if mark in open_marks:
                open_marks.remove(mark)
                out.pop(mark)
            else:
                open_marks.append(mark)
                out.push(mark)
        elif token.kind == "code":
            out.add(token.text, "code")
        elif token.kind == "link":
            out.link(token.url, token.text)
        else:
            out.add(_undo(token.text, syntax) if token.kind == "text" else token.text)
    for mark in open_marks:
        out.pop(mark)


def read_text(text: str, syntax: Syntax, out: RunBuilder) -> None:
    """Every line of ``text`` into ``out``; spans never cross a line break."""
    for number, line in enumerate(text.split("\n")):
        if number:
            out.add("\n")
        read_line(line, syntax, out)


SLACK = Syntax({"*": "bold", "_": "italic", "~": "strike"}, slack_links=True, entities=True)
DISCORD = Syntax({"**": "bold", "__": "underline", "~~": "strike", "||": "spoiler", "*": "italic",
                  "_": "italic"}, backslash=True)
LARK_MD = Syntax({"**": "bold", "~~": "strike", "*": "italic"}, entities=True)
WECOM = Syntax({"**": "bold"})
DINGTALK = Syntax({"**": "bold", "*": "italic"}, code=False)
