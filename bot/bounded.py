"""Reading untrusted files and YAML within fixed bounds of size, nesting and alias expansion."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from typing import Any

import yaml

# A config or a digest is a few kilobytes; anything near these is a mistake or an attack, and a
# bound here is what keeps `-c /dev/zero` from filling memory.
MAX_FILE_BYTES = 4 * 1024 * 1024
# Deeper than any hand-written document nests, shallow enough that composing and constructing
# (both recursive inside PyYAML) stay far from Python's recursion limit.
MAX_YAML_DEPTH = 64
# Nodes that aliases may add on top of the document as written. An alias bomb (`&a [*a, *a, …]`
# nine levels deep) expands to billions of nodes from a few hundred bytes; every later walk over
# the values (validation, masking, messages) would pay for that expansion.
MAX_ALIAS_EXPANSION = 10_000
# Characters that aliases may add: an alias to one long string used thousands of times is a bomb
# in few nodes.
MAX_ALIAS_CHARS = 1_000_000
# Values quoted in error messages are cut to this many characters.
MAX_SHOWN_CHARS = 80


class BoundsError(Exception):
    """Input beyond one of the bounds above; the message is one line meant for a person."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line   # 1-based, when known


def read_file(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most max_bytes.

    Opened without blocking and checked before reading, so that a FIFO, a device such as /dev/zero
    or a socket is refused at once instead of hanging or streaming forever. OSError subclasses
    (FileNotFoundError, IsADirectoryError, PermissionError) pass through for the caller to word.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(f"{os.fspath(path)} is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise BoundsError("not a regular file (a pipe, a device or a socket)")
        if info.st_size > max_bytes:
            raise BoundsError(f"too large: {info.st_size:,} bytes (at most {max_bytes:,})")
        chunks: list[bytes] = []
        total = 0
        while True:
            # A file that grows while it is read is still cut at the bound.
            chunk = os.read(fd, min(1 << 16, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise BoundsError(f"too large: more than {max_bytes:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def shown(value: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """repr() of a value for an error message, never longer than about `limit` characters.

    Strings and numbers are cut without building their whole text (a 5,000-digit integer is
    refused by int→str conversion itself); containers are named, not rendered.
    """
    if isinstance(value, str):
        text = repr(value[:limit])
        return text if len(value) <= limit else text[:-1] + "…" + text[-1]
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > limit * 3:
            return f"a {value.bit_length():,}-bit integer"
        text = repr(value)
        return text if len(text) <= limit else text[:limit] + "…"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return f"a mapping of {len(value)} key(s)"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item(s)"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class BoundedLoaderMixin:
    """Mixed into a yaml loader class: refuses nesting deeper than MAX_YAML_DEPTH while scanning
    and composing."""

    _depth = 0

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        # PyYAML's scanner looks ahead over every open flow level at each token, so `[[[[…` costs
        # the square of its depth before the composer ever sees it; refuse it where it starts.
        if self.flow_level >= MAX_YAML_DEPTH:  # type: ignore[attr-defined]
            mark = self.get_mark()  # type: ignore[attr-defined]
            raise BoundsError(f"nested more than {MAX_YAML_DEPTH} levels deep", mark.line + 1)
        super().fetch_flow_collection_start(token_class)  # type: ignore[misc]

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[attr-defined]
                raise BoundsError(f"nested more than {MAX_YAML_DEPTH} levels deep", mark.line + 1)
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def check_expansion(root: yaml.Node, budget: int = MAX_ALIAS_EXPANSION,
                    char_budget: int = MAX_ALIAS_CHARS) -> None:
    """Raises BoundsError when aliases make the document larger than written by over `budget`
    nodes or `char_budget` characters of scalars.

    The walk counts every occurrence of a node, as a later walk over the constructed values would
    meet it, and stops as soon as a budget is spent: its cost is bounded by the document's own
    size plus the budget, never by the expansion.
    """
    distinct: set[int] = set()
    repeats = 0
    repeated_chars = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in distinct:
            repeats += 1
            if isinstance(node, yaml.ScalarNode):
                repeated_chars += len(node.value)
            if repeats > budget or repeated_chars > char_budget:
                raise BoundsError(f"aliases repeat values beyond {budget:,} extra values or {char_budget:,} "
                                  "extra characters (an alias bomb?)", node.start_mark.line + 1)
        else:
            distinct.add(id(node))
        stack.extend(_children(node))


def compose(loader: yaml.SafeLoader) -> yaml.Node | None:
    """The loader's single document as a node tree, within the depth and expansion bounds.

    Raises yaml.YAMLError for syntax and BoundsError for bounds; RecursionError cannot happen
    within MAX_YAML_DEPTH, but a loader that does not use BoundedLoaderMixin is still caught.
    """
    if not isinstance(loader, BoundedLoaderMixin):
        raise TypeError("compose() needs a loader class that mixes in BoundedLoaderMixin")
    try:
        node = loader.get_single_node()
    except RecursionError:
        raise BoundsError(f"nested more than {MAX_YAML_DEPTH} levels deep") from None
    if node is not None:
        check_expansion(node)
    return node


@contextlib.contextmanager
def disposing(loader: yaml.SafeLoader) -> Iterator[yaml.SafeLoader]:
    try:
        yield loader
    finally:
        loader.dispose()
