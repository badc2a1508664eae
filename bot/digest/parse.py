"""Reads a digest file (YAML front matter and a Markdown body) into the digest model."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.bounded import BoundedLoaderMixin, BoundsError, compose, read_file, shown
from bot.digest.chars import is_cjk_letter
from bot.digest.inline import parse_inline
from bot.digest.model import Bold, Digest, Inline, Italic, Item, Link, Paragraph, Text, plain_text
from bot.errors import DigestError

__all__ = ["parse_digest", "parse_file", "parse_inline"]


# ---------------------------------------------------------------------------------------------
# Paragraphs

def _joins_without_space(char: str) -> bool:
    """Characters between which a soft line break vanishes: Chinese and Japanese letters and punctuation."""
    if not char:
        return False
    code = ord(char)
    if 0xAC00 <= code <= 0xD7AF:  # Korean separates words with spaces
        return False
    return (
        is_cjk_letter(char)
        or 0x3000 <= code <= 0x303F     # CJK symbols and punctuation 、。「」
        or 0xFF00 <= code <= 0xFFEF     # full-width forms ，！？（）
        or 0xFE30 <= code <= 0xFE4F     # CJK compatibility forms
        or char in "\u2018\u2019\u201c\u201d\u2014\u2026\u00b7"   # ‘’“”—…· as used in Chinese text
    )


def _resolve_soft_breaks(nodes: Paragraph) -> Paragraph:
    """A line break inside a paragraph becomes a space, or nothing between two CJK characters."""
    flat = plain_text(nodes)
    if "\n" not in flat:
        return nodes
    joiners = iter([
        "" if _joins_without_space(flat[pos - 1] if pos else "")
        and _joins_without_space(flat[pos + 1] if pos + 1 < len(flat) else "") else " "
        for pos in (match.start() for match in _NEWLINE.finditer(flat))
    ])

    def rebuild(children: tuple[Inline, ...]) -> tuple[Inline, ...]:
        out: list[Inline] = []
        for node in children:
            if isinstance(node, Text):
                if "\n" in node.text:
                    head, *rest = node.text.split("\n")
                    node = Text(head + "".join(next(joiners) + part for part in rest))
                out.append(node)
            elif isinstance(node, Bold):
                out.append(Bold(rebuild(node.children)))
            elif isinstance(node, Italic):
                out.append(Italic(rebuild(node.children)))
            elif isinstance(node, Link):
                out.append(Link(node.url, rebuild(node.children)))
            else:
                out.append(node)
        return tuple(out)

    return rebuild(nodes)


def _paragraph(source: str, prefix: str = "") -> Paragraph:
    nodes = parse_inline(source)
    if "\n" in source:
        nodes = _resolve_soft_breaks(nodes)
    if not prefix:
        return nodes
    if nodes and isinstance(nodes[0], Text):
        return (Text(prefix + nodes[0].text), *nodes[1:])
    return (Text(prefix), *nodes)


# ---------------------------------------------------------------------------------------------
# Blocks

@dataclass(frozen=True, slots=True)
class _Line:
    number: int          # 1-based, in the original file
    text: str            # trailing whitespace removed
    comment_at: int = 0  # inside an HTML comment block: the line that block opened on
    after_comment: str = ""  # on the line that closes it: the text after `-->`, which a reader sees

    @property
    def comment(self) -> bool:
        return self.comment_at > 0


_NEWLINE = re.compile("\n")
_RULE = re.compile(r" {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})")
_HEADING_MARKS = re.compile(r" {0,3}(#+)")
_ITEM = re.compile(r"(\d{1,9})([.)])(?:[ \t]+(.*))?")
_BULLET = re.compile(r"[-*+][ \t]+(.*)")
_ORDERED = re.compile(r"(\d{1,9})([.)])[ \t]+(.*)")
_QUOTE_MARKS = re.compile(r"(?:>\s*)*+")
_MARKER = re.compile(r"\s*categor(?:y|ies)\s*[:：]", re.IGNORECASE)
_NAME_SEPARATORS = re.compile(r"[,，、;；\n]")
_LINKISH = re.compile(r"[*_]{0,3}(?:\[|<)")
# Code points no platform accepts in a message: NUL, and surrogates, which are halves of UTF-16
# pairs rather than characters (a str holds them only when something decoded it wrongly).
_UNSENDABLE = re.compile("[\x00\ud800-\udfff]")


def _indent(text: str) -> int:
    column = 0
    for char in text:
        if char == " ":
            column += 1
        elif char == "\t":
            column += 4 - column % 4
        else:
            break
    return column


def _is_rule_text(text: str) -> bool:
    return _RULE.fullmatch(text) is not None


def _heading_text(text: str) -> str | None:
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


def _is_rule(line: _Line) -> bool:
    return not line.comment and _is_rule_text(line.text)


def _heading(line: _Line) -> str | None:
    return None if line.comment else _heading_text(line.text)


def _item_match_text(text: str) -> re.Match[str] | None:
    if _indent(text) > 3:
        return None
    return _ITEM.fullmatch(text.lstrip(" "))


def _item_match(line: _Line) -> re.Match[str] | None:
    return None if line.comment else _item_match_text(line.text)


def _looks_like_item_text(text: str) -> bool:
    match = _item_match_text(text)
    return match is not None and _LINKISH.match(match.group(3) or "") is not None


def _looks_like_item(line: _Line) -> bool:
    return not line.comment and _looks_like_item_text(line.text)


def _content_indent(line: _Line) -> int:
    """The column where an item's own text starts (summary lines indented this far or more belong
    to it, even when they look like list items)."""
    stripped = line.text.lstrip(" ")
    marker_end = len(line.text) - len(stripped) + len(stripped.split(None, 1)[0])
    rest = line.text[marker_end:]
    gap = _indent(rest)
    return marker_end + (gap if 1 <= gap <= 4 else 1)


def _html_comments(text: str) -> Iterator[str]:
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


def _marker_names(comment: str) -> list[str]:
    """The names in a `categories: A, B` comment, or nothing for any other comment."""
    marker = _MARKER.match(comment)
    if marker is None:
        return []
    return [name.strip() for name in _NAME_SEPARATORS.split(comment[marker.end():].strip())]


def _paragraphs(lines: list[_Line]) -> tuple[Paragraph, ...]:
    """Paragraph text into model paragraphs: headings stand alone (bold), each list line is its own
    paragraph ("• " or its number in front), quotes lose their `>`, rules and comments vanish."""
    paragraphs: list[Paragraph] = []
    current: list[str] = []
    prefix = ""

    def flush() -> None:
        nonlocal prefix
        if current:
            paragraphs.append(_paragraph("\n".join(current), prefix))
        current.clear()
        prefix = ""

    for line in lines:
        text = line.text.strip()
        if line.comment or not text or _is_rule_text(text):
            flush()
            if line.after_comment:
                paragraphs.append(_paragraph(line.after_comment))
            continue
        heading = _heading_text(text)
        if heading is not None:
            flush()
            if heading:
                paragraphs.append((Bold(_paragraph(heading)),))
            continue
        text = text[_QUOTE_MARKS.match(text).end():]  # type: ignore[union-attr]
        if not text:
            flush()
            continue
        bullet = _BULLET.fullmatch(text)
        ordered = _ORDERED.fullmatch(text)
        if bullet:
            flush()
            prefix = "• "
            current.append(bullet.group(1))
        elif ordered:
            flush()
            prefix = f"{ordered.group(1)}{ordered.group(2)} "
            current.append(ordered.group(3))
        else:
            current.append(text)
    flush()
    return tuple(paragraphs)


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
    head: _Line
    content_indent: int
    body: list[_Line] = field(default_factory=list)


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
            unsendable = _UNSENDABLE.search(text)
            if unsendable is not None and unsendable.group() == "\x00":
                raise self.fail("binary data (a NUL character), not a Markdown digest",
                                _line_of(text[:unsendable.start()]))
            if unsendable is not None:
                raise self.fail(f"a lone surrogate (U+{ord(unsendable.group()):04X}) is not text: "
                                "the digest was decoded wrongly", _line_of(text[:unsendable.start()]))
        return text.removeprefix("\ufeff")

    def lines(self, text: str) -> list[_Line]:
        raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return [_Line(number, line.rstrip()) for number, line in enumerate(raw, start=1)]

    # -- front matter -------------------------------------------------------------------------

    def front_matter(self, lines: list[_Line]) -> tuple[dict[str, Any], dict[str, tuple[int, Any]], int, int]:
        """(values, {key: (line, node)}, line of the opening ---, index of the first body line)."""
        first = next(index for index, line in enumerate(lines) if line.text.strip())
        opening = lines[first]
        if opening.text != "---":
            raise self.fail("no front matter: a digest starts with a '---' line, then title: and date:, "
                            "then another '---' line", opening.number)
        closing = next((index for index in range(first + 1, len(lines)) if lines[index].text in ("---", "...")),
                       None)
        if closing is None:
            raise self.fail("front matter is never closed: no '---' line after this one", opening.number)
        base = opening.number + 1
        text = "\n".join(line.text for line in lines[first + 1:closing])
        node, data = self.load_yaml(text, base, opening.number, lines[closing].number)
        if data is None:
            raise self.fail("front matter is empty: it needs title: and date:", opening.number)
        if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
            raise self.fail("front matter must be 'key: value' lines (title:, date:, categories:)", base)
        keys: dict[str, tuple[int, Any]] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                line = base + _line_in(text, key_node.start_mark)
                if key_node.value in keys:
                    # YAML would quietly keep the last one; a digest with two dates is a mistake.
                    raise self.fail(f"front matter has {shown(key_node.value)[1:-1]}: twice "
                                    f"(also line {keys[key_node.value][0]})", line)
                keys[key_node.value] = (line, value_node)
        return data, keys, opening.number, closing + 1

    def load_yaml(self, text: str, base: int, opening: int, closing: int) -> tuple[yaml.Node | None, Any]:
        """The composed and the constructed front matter, within bot.bounded's bounds."""
        loader: _FrontMatterLoader | None = None
        try:
            loader = _FrontMatterLoader(text)   # refuses control characters at once
            node = compose(loader)
            if node is None:
                return None, None
            _check_scalars(node, lambda message, mark: self.fail(f"front matter {message}",
                                                                 base + _line_in(text, mark)))
            return node, loader.construct_document(node)
        except BoundsError as exc:
            # Only YAML's own line count is known here, which also breaks lines at U+2028 and kin.
            line = opening if exc.line is None else min(base + exc.line - 1, closing)
            raise self.fail(f"front matter is too complex to read: {exc.message}", line) from None
        except yaml.YAMLError as exc:
            where = _yaml_error_line(exc, text)
            raise self.fail(f"front matter is not valid YAML: {_yaml_problem(exc)}",
                            opening if where is None else base + where) from None
        except (ValueError, TypeError, ArithmeticError, LookupError):
            # A tagged value YAML cannot convert that the checks above did not foresee.
            raise self.fail("front matter has a value YAML cannot read", base) from None
        finally:
            if loader is not None:
                loader.dispose()

    def title(self, data: dict[str, Any], keys: dict[str, tuple[int, Any]], opening: int) -> str:
        if "title" not in data:
            raise self.fail("front matter has no title:", opening)
        line, node = keys.get("title", (opening, None))
        value = data["title"]
        if value is None or not isinstance(node, yaml.ScalarNode):
            raise self.fail("title must be a line of text", line)
        title = " ".join(str(node.value).split())
        if not title:
            raise self.fail("title is empty", line)
        return title

    def date(self, data: dict[str, Any], keys: dict[str, tuple[int, Any]],
             opening: int) -> tuple[dt.date, dt.datetime | None]:
        if "date" not in data:
            raise self.fail("front matter has no date:", opening)
        line, node = keys.get("date", (opening, None))
        written = node.value if isinstance(node, yaml.ScalarNode) else data["date"]
        parsed = _parse_date(written)
        if parsed is None:
            # shown(): the value may be anything YAML builds, and must not be rendered whole.
            raise self.fail("date must be ISO 8601, like 2025-10-01 or 2025-10-01T09:30:00+08:00 "
                            f"(found {shown(written)})", line)
        return parsed

    def categories(self, data: dict[str, Any], keys: dict[str, tuple[int, Any]]) -> tuple[str, ...]:
        if data.get("categories") is None:
            return ()
        line, node = keys.get("categories", (None, None))
        names: list[str] = []
        if isinstance(node, yaml.ScalarNode):
            names = [part.strip() for part in _NAME_SEPARATORS.split(node.value)]
        elif isinstance(node, yaml.SequenceNode):
            for element in node.value:
                if not isinstance(element, yaml.ScalarNode):
                    raise self.fail("categories must be a list of names, like [Hardware, Large Models]",
                                    line)
                names.append(" ".join(element.value.split()))
        else:
            raise self.fail("categories must be a list of names, like [Hardware, Large Models]", line)
        return tuple(dict.fromkeys(name for name in names if name))

    # -- body ---------------------------------------------------------------------------------

    def mark_comments(self, lines: list[_Line]) -> list[_Line]:
        """Flags the lines of HTML comment blocks (a line that starts with `<!--` up to `-->`)."""
        out: list[_Line] = []
        open_at = 0
        for line in lines:
            stripped = line.text.strip()
            if not open_at and stripped.startswith("<!--"):
                close = _comment_close(stripped, 4)
                if close < 0:
                    open_at = line.number
                out.append(_Line(line.number, line.text, line.number,
                                 stripped[close:].strip() if close >= 0 else ""))
            elif open_at:
                close = _comment_close(stripped, 0)
                out.append(_Line(line.number, line.text, open_at, stripped[close:].strip() if close >= 0 else ""))
                if close >= 0:
                    open_at = 0
            else:
                out.append(line)
        if open_at:
            raise self.fail("HTML comment is never closed (no '-->' after it)", open_at)
        return out

    def body(self, lines: list[_Line], after_front_matter: int) -> tuple[
            tuple[Paragraph, ...], tuple[Item, ...], str | None, tuple[Paragraph, ...]]:
        candidates = [index for index, line in enumerate(lines) if _item_match(line)]
        # A numbered list in the intro is not the item list; the item list is the one with links.
        start = next((index for index in candidates if _looks_like_item(lines[index])),
                     candidates[0] if candidates else len(lines))
        for line in lines[:start]:
            if line.comment and _looks_like_item_text(line.text):
                raise self.fail(f"HTML comment hides line {line.number}, which looks like an item: "
                                "close it with '-->' before that line", line.comment_at)
        if not candidates:
            raise self.fail("no items: expected a numbered list like '1.  [Title](https://…)'", after_front_matter)
        items, end = self.items(lines, start)
        intro = _paragraphs(lines[:start])
        heading, commentary = self.commentary(lines[end:])
        return intro, items, heading, commentary

    def items(self, lines: list[_Line], start: int) -> tuple[tuple[Item, ...], int]:
        # For each line: does the next top-level structure (an item, or a rule/heading) hold an item?
        next_is_item: list[bool] = [False] * (len(lines) + 1)
        for index in range(len(lines) - 1, -1, -1):
            line = lines[index]
            if _item_match(line):
                next_is_item[index] = True
            elif _is_rule(line) or _heading(line) is not None:
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
            indent = _indent(line.text)
            if line.comment:
                self.check_hidden(line, indent, current)
            if indent <= 3 and (_is_rule(line) or _heading(line) is not None):
                end = index
                break
            match = _item_match(line)
            if match and (current is None or indent == 0 or indent < current.content_indent):
                number = int(match.group(1))
                if number in seen:
                    raise self.fail(f"item number {number} is used twice (first on line {seen[number]})",
                                    line.number)
                seen[number] = line.number
                raw_items.append(_RawItem(number, line, _content_indent(line)))
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

    def check_hidden(self, line: _Line, indent: int, current: _RawItem | None) -> None:
        """A comment ends with the item it opens in (as an HTML block ends with its list item in
        CommonMark): one that runs on into the next item or past the end of the list would hide
        what a Markdown viewer shows, so it is an error naming the line the comment opened on."""
        if indent <= 3 and (_is_rule_text(line.text) or _heading_text(line.text) is not None):
            raise self.fail(f"HTML comment is not closed before line {line.number}, where the item list "
                            "ends: close it with '-->' inside its item", line.comment_at)
        if _item_match_text(line.text) and (current is None or indent == 0 or indent < current.content_indent):
            raise self.fail(f"HTML comment hides line {line.number}, which starts an item: close it with "
                            "'-->' before that line", line.comment_at)

    def item(self, raw: _RawItem) -> Item:
        match = _item_match(raw.head) or _never()
        head_text = (match.group(3) or "").strip()
        body = raw.body
        nodes = _resolve_soft_breaks(parse_inline(head_text))
        link = _first_link(nodes)
        if link is None:
            # A title wrapped over several lines: the link may close on a later line.
            continuation: list[_Line] = []
            for line in body:
                if line.comment or not line.text.strip():
                    break
                continuation.append(line)
            if continuation:
                joined = "\n".join([head_text, *(line.text.strip() for line in continuation)])
                nodes = _resolve_soft_breaks(parse_inline(joined))
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
        markers = [name for comment in _html_comments(block) for name in _marker_names(comment)]
        categories = tuple(dict.fromkeys(" ".join(name.split()) for name in markers if name.strip()))
        return Item(
            number=raw.number,
            title=title,
            url=link.url,
            summary=_paragraphs(body),
            categories=categories,
            line=raw.head.number,
        )

    def commentary(self, lines: list[_Line]) -> tuple[str | None, tuple[Paragraph, ...]]:
        for index, line in enumerate(lines):
            heading = _heading(line)
            if heading is not None:
                text = " ".join(plain_text(_paragraph(heading)).split()) or None
                return text, _paragraphs(lines[:index] + lines[index + 1:])
        return None, _paragraphs(lines)


# ---------------------------------------------------------------------------------------------
# YAML

class _FrontMatterLoader(BoundedLoaderMixin, yaml.SafeLoader):
    """SafeLoader within bot.bounded's depth and alias bounds that leaves timestamps as written, so
    a date keeps its offset and a bad date is reported as a bad date rather than as a crash inside
    the YAML library."""


def _timestamp_as_written(loader: _FrontMatterLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)
    return str(loader.construct_scalar(node))


_FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_written)

# Numbers longer than this are refused before conversion: int() refuses 4,300 digits anyway, and a
# sexagesimal `1:2:3:…` costs the square of its length to build.
_MAX_NUMBER_CHARS = 64
_CHECKED_TAGS = {"tag:yaml.org,2002:int": "an integer", "tag:yaml.org,2002:float": "a number",
                 "tag:yaml.org,2002:bool": "true or false"}
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


_Fail = Callable[[str, yaml.Mark], DigestError]


def _check_scalars(root: yaml.Node, fail: _Fail) -> None:
    """Raises fail(message, mark) for the first scalar, in document order, that no platform
    could show (NUL, surrogates from `\\ud800` escapes) or that YAML cannot convert (`!!int abc`).

    Each distinct node is visited once, however often aliases repeat it.
    """
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            stack.extend(child for pair in reversed(node.value) for child in reversed(pair))
        elif isinstance(node, yaml.ScalarNode):
            _check_scalar(node, fail)


def _check_scalar(node: yaml.ScalarNode, fail: _Fail) -> None:
    value: str = node.value
    mark = node.start_mark
    unsendable = _UNSENDABLE.search(value)
    if unsendable is not None:
        what = "a NUL character" if unsendable.group() == "\x00" else "a lone surrogate"
        raise fail(f"has {what} (U+{ord(unsendable.group()):04X}), which is not text", mark)
    expected = _CHECKED_TAGS.get(node.tag)
    if expected is None:
        return
    if len(value) > _MAX_NUMBER_CHARS:
        raise fail(f"has a value too long to read as {expected} ({len(value):,} characters)", mark)
    try:
        _FrontMatterLoader.yaml_constructors[node.tag](_CONSTRUCTOR, node)
    except (ValueError, TypeError, ArithmeticError, LookupError):
        raise fail(f"has a value YAML cannot read as {expected}: {shown(value)}", mark) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        return f"U+{exc.character:04X} is not allowed" if isinstance(exc.character, int) else exc.reason
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
    # A problem may quote a tag or a key as written; keep the line short and printable.
    return shown(" ".join(str(problem).split()), 120)[1:-1]


def _yaml_error_line(exc: yaml.YAMLError, text: str) -> int | None:
    """0-based line of the YAML text the error is on, when known."""
    if isinstance(exc, yaml.reader.ReaderError):
        return text.count("\n", 0, exc.position)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return None if mark is None else _line_in(text, mark)


def _line_in(text: str, mark: yaml.Mark) -> int:
    """0-based line of a mark, counted as the digest counts lines: YAML also breaks lines at NEL,
    U+2028 and U+2029, so its own mark.line can point past the line that is meant."""
    return text.count("\n", 0, mark.index)


def _never() -> re.Match[str]:
    raise AssertionError("a line checked as an item no longer matches")


def _line_of(prefix: str | bytes) -> int:
    if isinstance(prefix, bytes):
        return prefix.replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
    return prefix.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1


def _parse_date(value: object) -> tuple[dt.date, dt.datetime | None] | None:
    """(calendar date as written, full timestamp if a time was given) from whatever YAML produced."""
    if isinstance(value, dt.datetime):
        return value.date(), value
    if isinstance(value, dt.date):
        return value, None
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if ":" not in text and len(text) <= 10:
            return dt.date.fromisoformat(text), None
        stamp = dt.datetime.fromisoformat(text)
        return stamp.date(), stamp
    except ValueError:
        pass
    # YAML's own timestamp spellings with a time, e.g. "2025-10-01 09:30:00 +8".
    written = _CONSTRUCTOR.timestamp_regexp.match(text)
    if written is None or written.group("hour") is None:
        return None
    try:
        loaded = _CONSTRUCTOR.construct_yaml_timestamp(yaml.ScalarNode("tag:yaml.org,2002:timestamp", text))
    except (ValueError, OverflowError):
        return None
    if isinstance(loaded, dt.datetime):
        return loaded.date(), loaded
    return None


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
    lines = parser.lines(decoded)
    if not any(line.text.strip() for line in lines):
        raise parser.fail("empty file: a digest needs front matter, an intro, items and commentary", 1)
    data, keys, opening, body_start = parser.front_matter(lines)
    title = parser.title(data, keys, opening)
    date, published_at = parser.date(data, keys, opening)
    categories = parser.categories(data, keys)
    body = parser.mark_comments(lines[body_start:])
    after_front_matter = lines[body_start].number if body_start < len(lines) else lines[-1].number
    intro, items, heading, commentary = parser.body(body, after_front_matter)
    return Digest(
        title=title,
        date=date,
        published_at=published_at,
        categories=categories,
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
