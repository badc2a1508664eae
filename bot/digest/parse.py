"""Reads a digest file (YAML front matter and a Markdown body) into the digest model."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from bot.bounded import BoundsError, read_file
from bot.digest.blocks import (
    Line,
    content_indent,
    heading_text,
    html_comments,
    indent_width,
    is_rule_line,
    is_rule_text,
    item_match,
    item_match_text,
    line_heading,
    looks_like_item,
    looks_like_item_text,
    mark_comments,
    marker_names,
    split_lines,
)
from bot.digest.chars import UNSENDABLE
from bot.digest.front_matter import read_front_matter
from bot.digest.inline import parse_inline
from bot.digest.model import Bold, Digest, Inline, Italic, Item, Link, Paragraph, plain_text
from bot.digest.paragraphs import paragraph_of, paragraphs_of, resolve_soft_breaks
from bot.errors import DigestError

__all__ = ["parse_digest", "parse_file", "parse_inline"]


def _first_link(nodes: tuple[Inline, ...]) -> Link | None:
    for node in nodes:
        if isinstance(node, Link):
            return node
        if isinstance(node, Bold | Italic):
            found = _first_link(node.children)
            if found is not None:
                return found
    return None


@dataclass(slots=True)
class _RawItem:
    number: int
    head: Line
    content_indent: int
    body: list[Line] = field(default_factory=list)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, message: str, line: int | None) -> DigestError:
        return DigestError(self.source, message, line)

    # -- text ---------------------------------------------------------------------------------

    def decode(self, data: str | bytes) -> str:
        if isinstance(data, bytes):
            nul = data.find(b"\x00")
            if nul >= 0:
                raise self.fail("binary data (a NUL byte), not a Markdown digest", _line_of(data[:nul]))
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = data[exc.start]
                raise self.fail(f"not UTF-8 text (byte 0x{bad:02x} cannot be decoded)",
                                _line_of(data[:exc.start])) from None
        else:
            text = data
            unsendable = UNSENDABLE.search(text)
            if unsendable is not None and unsendable.group() == "\x00":
                raise self.fail("binary data (a NUL character), not a Markdown digest",
                                _line_of(text[:unsendable.start()]))
            if unsendable is not None:
                raise self.fail(f"a lone surrogate (U+{ord(unsendable.group()):04X}) is not text: "
                                "the digest was decoded wrongly", _line_of(text[:unsendable.start()]))
        return text.removeprefix("\ufeff")

    # -- body ---------------------------------------------------------------------------------

    def body(self, lines: list[Line], after_front_matter: int) -> tuple[
            tuple[Paragraph, ...], tuple[Item, ...], str | None, tuple[Paragraph, ...]]:
        candidates = [index for index, line in enumerate(lines) if item_match(line)]
        # A numbered list in the intro is not the item list; the item list is the one with links.
        start = next((index for index in candidates if looks_like_item(lines[index])),
                     candidates[0] if candidates else len(lines))
        for line in lines[:start]:
            if line.comment and looks_like_item_text(line.text):
                raise self.fail(f"HTML comment hides line {line.number}, which looks like an item: "
                                "close it with '-->' before that line", line.comment_at)
        if not candidates:
            raise self.fail("no items: expected a numbered list like '1.  [Title](https://…)'", after_front_matter)
        items, end = self.items(lines, start)
        intro = paragraphs_of(lines[:start])
        heading, commentary = self.commentary(lines[end:])
        return intro, items, heading, commentary

    def items(self, lines: list[Line], start: int) -> tuple[tuple[Item, ...], int]:
        # For each line: does the next top-level structure (an item, or a rule/heading) hold an item?
        next_is_item: list[bool] = [False] * (len(lines) + 1)
        for index in range(len(lines) - 1, -1, -1):
            line = lines[index]
            if item_match(line):
                next_is_item[index] = True
            elif is_rule_line(line) or line_heading(line) is not None:
                next_is_item[index] = False
            else:
                next_is_item[index] = next_is_item[index + 1]

        raw_items: list[_RawItem] = []
        seen: dict[int, int] = {}
        previous_blank = False
        end = len(lines)
        for index in range(start, len(lines)):
            line = lines[index]
            current = raw_items[-1] if raw_items else None
            if not line.text.strip():
                if current is not None:
                    current.body.append(line)
                previous_blank = True
                continue
            indent = indent_width(line.text)
            if line.comment:
                self.check_hidden(line, indent, current)
            if indent <= 3 and (is_rule_line(line) or line_heading(line) is not None):
                end = index
                break
            match = item_match(line)
            if match and (current is None or indent == 0 or indent < current.content_indent):
                number = int(match.group(1))
                if number in seen:
                    raise self.fail(f"item number {number} is used twice (first on line {seen[number]})",
                                    line.number)
                seen[number] = line.number
                raw_items.append(_RawItem(number, line, content_indent(line)))
            elif current is None:
                raise self.fail("expected an item line like '1.  [Title](https://…)'", line.number)
            elif indent >= 1 or line.comment or not previous_blank or next_is_item[index]:
                # Indented text, a lazy continuation line, or unindented text between two items.
                current.body.append(line)
            else:
                end = index
                break
            previous_blank = False
        return tuple(self.item(raw) for raw in raw_items), end

    def check_hidden(self, line: Line, indent: int, current: _RawItem | None) -> None:
        """A comment ends with the item it opens in (as an HTML block ends with its list item in
        CommonMark): one that runs on into the next item or past the end of the list would hide
        what a Markdown viewer shows, so it is an error naming the line the comment opened on."""
        if indent <= 3 and (is_rule_text(line.text) or heading_text(line.text) is not None):
            raise self.fail(f"HTML comment is not closed before line {line.number}, where the item list "
                            "ends: close it with '-->' inside its item", line.comment_at)
        if item_match_text(line.text) and (current is None or indent == 0 or indent < current.content_indent):
            raise self.fail(f"HTML comment hides line {line.number}, which starts an item: close it with "
                            "'-->' before that line", line.comment_at)

    def item(self, raw: _RawItem) -> Item:
        match = item_match(raw.head) or _never()
        head_text = (match.group(3) or "").strip()
        body = raw.body
        nodes = resolve_soft_breaks(parse_inline(head_text))
        link = _first_link(nodes)
        if link is None:
            # A title wrapped over several lines: the link may close on a later line.
            continuation: list[Line] = []
            for line in body:
                if line.comment or not line.text.strip():
                    break
                continuation.append(line)
            if continuation:
                joined = "\n".join([head_text, *(line.text.strip() for line in continuation)])
                nodes = resolve_soft_breaks(parse_inline(joined))
                link = _first_link(nodes)
                if link is not None:
                    body = body[len(continuation):]
        if link is None:
            raise self.fail(f"item {raw.number} has no link: expected "
                            f"'{raw.number}{match.group(2)}  [Title](https://…)'", raw.head.number)
        title = " ".join(plain_text(nodes).split())
        if not title:
            raise self.fail(f"item {raw.number} has an empty title", raw.head.number)
        block = "\n".join([raw.head.text, *(line.text for line in raw.body)])
        markers = [name for comment in html_comments(block) for name in marker_names(comment)]
        categories = tuple(dict.fromkeys(" ".join(name.split()) for name in markers if name.strip()))
        return Item(
            number=raw.number,
            title=title,
            url=link.url,
            summary=paragraphs_of(body),
            categories=categories,
            line=raw.head.number,
        )

    def commentary(self, lines: list[Line]) -> tuple[str | None, tuple[Paragraph, ...]]:
        for index, line in enumerate(lines):
            heading = line_heading(line)
            if heading is not None:
                text = " ".join(plain_text(paragraph_of(heading)).split()) or None
                return text, paragraphs_of(lines[:index] + lines[index + 1:])
        return None, paragraphs_of(lines)


def _never() -> re.Match[str]:
    raise AssertionError("a line checked as an item no longer matches")


def _line_of(prefix: str | bytes) -> int:
    if isinstance(prefix, bytes):
        return prefix.replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
    return prefix.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1


# ---------------------------------------------------------------------------------------------
# Entry points

def parse_digest(text: str | bytes, source: str = "<digest>") -> Digest:
    """A digest from its file content; raises DigestError naming source and line for bad input."""
    try:
        return _parse(text, source)
    except RecursionError:
        raise DigestError(source, "markup nested too deeply to read") from None


def _parse(text: str | bytes, source: str) -> Digest:
    parser = _Parser(source)
    decoded = parser.decode(text)
    lines = split_lines(decoded)
    if not any(line.text.strip() for line in lines):
        raise parser.fail("empty file: a digest needs front matter, an intro, items and commentary", 1)
    front = read_front_matter(lines, parser.fail)
    body_start = front.body_start
    body = mark_comments(lines[body_start:], parser.fail)
    after_front_matter = lines[body_start].number if body_start < len(lines) else lines[-1].number
    intro, items, heading, commentary = parser.body(body, after_front_matter)
    return Digest(
        title=front.title,
        date=front.date,
        published_at=front.published_at,
        categories=front.categories,
        intro=intro,
        items=items,
        commentary_heading=heading,
        commentary=commentary,
        source=source,
    )


def parse_file(path: str | os.PathLike[str]) -> Digest:
    """Reads (within bot.bounded's size cap, refusing pipes and devices) and parses one digest file;
    the error names the path as given."""
    source = os.fspath(path)
    try:
        data = read_file(source)
    except BoundsError as exc:
        raise DigestError(source, f"cannot read: {exc.message}") from None
    except FileNotFoundError:
        raise DigestError(source, "no such file") from None
    except IsADirectoryError:
        raise DigestError(source, "is a directory, not a digest file") from None
    except OSError as exc:
        raise DigestError(source, f"cannot read: {exc.strerror or exc}") from None
    return parse_digest(data, source)
