"""Front matter: bounded YAML loading, duplicate keys, and the title, date and categories checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from bot.bounded import BoundedLoaderMixin, BoundsError, compose, shown
from bot.digest.blocks import NAME_SEPARATORS, Fail, Line
from bot.digest.chars import UNSENDABLE
from bot.errors import DigestError

__all__ = ["FrontMatter", "read_front_matter"]


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """What the front matter says, checked, and where the body starts."""

    title: str
    date: dt.date
    published_at: dt.datetime | None
    categories: tuple[str, ...]
    body_start: int     # index in the lines of the first line after the closing `---`


def read_front_matter(lines: list[Line], fail: Fail) -> FrontMatter:
    """The front matter that opens lines (of which at least one is not blank); raises fail(…) for
    the first problem, naming its line."""
    reader = _Reader(fail)
    data, keys, opening, body_start = reader.front_matter(lines)
    title = reader.title(data, keys, opening)
    date, published_at = reader.date(data, keys, opening)
    categories = reader.categories(data, keys)
    return FrontMatter(title, date, published_at, categories, body_start)


class _Reader:
    """The checks, in the order a writer fixes them: the block itself, its YAML, then each key."""

    def __init__(self, fail: Fail) -> None:
        self.fail = fail

    def front_matter(self, lines: list[Line]) -> tuple[dict[str, Any], dict[str, tuple[int, Any]], int, int]:
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
            names = [part.strip() for part in NAME_SEPARATORS.split(node.value)]
        elif isinstance(node, yaml.SequenceNode):
            for element in node.value:
                if not isinstance(element, yaml.ScalarNode):
                    raise self.fail("categories must be a list of names, like [Hardware, Large Models]",
                                    line)
                names.append(" ".join(element.value.split()))
        else:
            raise self.fail("categories must be a list of names, like [Hardware, Large Models]", line)
        return tuple(dict.fromkeys(name for name in names if name))


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


# Makes the error for a message about the YAML node at a mark.
_FailAt = Callable[[str, yaml.Mark], DigestError]


def _check_scalars(root: yaml.Node, fail: _FailAt) -> None:
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


def _check_scalar(node: yaml.ScalarNode, fail: _FailAt) -> None:
    value: str = node.value
    mark = node.start_mark
    unsendable = UNSENDABLE.search(value)
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

