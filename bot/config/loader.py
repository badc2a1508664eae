"""Reading the config file: bounded reads, YAML with core-schema values, ${ENV} substitution, a line per key path."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.bounded import BoundedLoaderMixin, BoundsError, compose, disposing, read_file, shown
from bot.checking import MAX_KEY_CHARS, join
from bot.errors import ConfigError

# A config value is a name, a URL, a token or a schedule; nothing written by hand comes near this,
# and every later check (zones, cron, URLs, masking) may then take a value's length as small.
MAX_VALUE_CHARS = 8192
# Digits (and signs, dots, exponents) of one number: int("9" * 5000) is refused by Python itself,
# and `!!int 1:2:3:…` (base 60) costs the square of its length.
MAX_NUMBER_CHARS = 64
# A config is a few kilobytes and thousands of channels fit in this; the YAML parser reads about
# 100 KB a second, so the bound is also what keeps a hostile file to a few seconds.
MAX_CONFIG_BYTES = 256 * 1024

_CORE_PREFIX = "tag:yaml.org,2002:"
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_CORE_TAGS = frozenset({_NULL_TAG, _BOOL_TAG, _INT_TAG, _FLOAT_TAG, _STR_TAG, _SEQ_TAG, _MAP_TAG})
# Implicit resolvers replaced (bool, int, float) or dropped (timestamp, `=` as a value key).
_REPLACED_RESOLVERS = frozenset({_BOOL_TAG, _INT_TAG, _FLOAT_TAG, "tag:yaml.org,2002:timestamp",
                                 "tag:yaml.org,2002:value"})


class _ValueError(yaml.MarkedYAMLError):
    """A scalar its tag cannot stand for (`!!int abc`); worded for a person, with its line."""


class _Loader(BoundedLoaderMixin, yaml.SafeLoader):
    """YAML with 1.2-style plain scalars and only the core schema's types.

    YAML 1.1 reads `schedule: 9:30` as the number 570 (base 60), `updates: off` as false and
    `0755` as octal; in a config file each of those is a surprise, so only true/false are booleans,
    numbers are decimal and dates stay strings. Tags beyond the core schema (`!!timestamp`,
    `!!binary`, `!!set`, `!!python/…`) would only bring types no setting takes.
    """

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        self._short_number(node, "whole number")
        try:
            return int(super().construct_yaml_int(node))
        except ValueError:
            raise _ValueError(None, None, "!!int needs a whole number like 42", node.start_mark) from None

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        self._short_number(node, "number")
        try:
            return float(super().construct_yaml_float(node))
        except ValueError:
            raise _ValueError(None, None, "!!float needs a number like 2.5", node.start_mark) from None

    def construct_yaml_bool(self, node: yaml.ScalarNode) -> bool:
        try:
            return bool(super().construct_yaml_bool(node))
        except KeyError:
            raise _ValueError(None, None, "!!bool needs true or false", node.start_mark) from None

    def construct_unsupported(self, node: yaml.Node) -> Any:
        tag = "!!" + node.tag.removeprefix(_CORE_PREFIX) if node.tag.startswith(_CORE_PREFIX) else node.tag
        raise _ValueError(None, None, f"the tag {shown(tag, MAX_KEY_CHARS)} is not supported; a config "
                                      "holds strings, numbers, true/false, lists and mappings", node.start_mark)

    def _short_number(self, node: yaml.ScalarNode, what: str) -> None:
        text = self.construct_scalar(node)
        if len(text) > MAX_NUMBER_CHARS:
            raise _ValueError(None, None, f"a {what} of {len(text):,} characters is too long "
                                          f"(at most {MAX_NUMBER_CHARS})", node.start_mark)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _REPLACED_RESOLVERS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(_INT_TAG, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?
                   |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.VERBOSE),
    list("-+0123456789."),
)
_Loader.yaml_constructors = {tag: constructor for tag, constructor in yaml.SafeLoader.yaml_constructors.items()
                             if tag in _CORE_TAGS}
_Loader.add_constructor(_INT_TAG, _Loader.construct_yaml_int)
_Loader.add_constructor(_FLOAT_TAG, _Loader.construct_yaml_float)
_Loader.add_constructor(_BOOL_TAG, _Loader.construct_yaml_bool)
_Loader.add_constructor(None, _Loader.construct_unsupported)

# `$${` writes a literal `${`; `${NAME}` and `${NAME:-default}` are references; a lone `${` is a mistake.
_REFERENCE = re.compile(r"\$(?P<escaped>\$\{)|\$\{(?P<body>[^}]*)\}|\$\{")
_REFERENCE_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.DOTALL)


def line_of(path: str, lines: Mapping[str, int]) -> int | None:
    """The line of a key path, or of its nearest ancestor present in the file."""
    while path:
        if path in lines:
            return lines[path]
        parent = re.sub(r"(\.[^.]*|\[\d+\])$", "", path)
        path = "" if parent == path else parent
    return None


@dataclass
class Document:
    """What reading the YAML learned: the values, and every problem found on the way."""

    data: Any = None
    readable: bool = True                    # False: not YAML at all (or beyond a bound); data is None
    problems: list[tuple[str, str]] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)    # key paths already reported; no second complaint
    lines: dict[str, int] = field(default_factory=dict)   # key path → line of its key (or list item)

    def refuse(self, message: str) -> Document:
        self.problems.append(("", message))
        self.readable = False
        return self


def _expand(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Substitute the references in one string; return the result and what went wrong."""
    mistakes: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "${"
        body = match.group("body")
        if body is None:
            mistakes.append("'${' without a closing '}'")
            return ""
        reference = _REFERENCE_BODY.fullmatch(body)
        if reference is None:
            mistakes.append("is not a reference inside ${…}; write ${NAME} or ${NAME:-default}")
            return ""
        name, default = reference.group("name"), reference.group("default")
        if name in env:
            return env[name]
        if default is not None:
            return default
        mistakes.append(f"environment variable {name} is not set (write ${{{name}:-}} if it may be empty)")
        return ""

    return _REFERENCE.sub(replace, text), mistakes


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\0), which no setting can hold"
    if len(text) > MAX_VALUE_CHARS:
        return f"is {len(text):,} characters long; a config value has at most {MAX_VALUE_CHARS:,}"
    return None


class _Walk:
    """One pass over the composed YAML: substitutes ${…}, refuses unusable strings, notes lines."""

    def __init__(self, document: Document, env: Mapping[str, str]) -> None:
        self.document = document
        self.env = env
        self.seen: set[int] = set()

    def problem(self, path: str, message: str) -> None:
        self.document.problems.append((path, message))
        self.document.failed.add(path)

    def node(self, node: yaml.Node, path: str) -> None:
        self.document.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in self.seen:     # an anchor used twice is one node: look at it once
            return
        self.seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            self.scalar(node, path)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.node(item, f"{path}[{index}]")
        elif isinstance(node, yaml.MappingNode):
            self.mapping(node, path)

    def scalar(self, node: yaml.ScalarNode, path: str) -> None:
        if node.tag != _STR_TAG:
            return
        if "${" in node.value:
            node.value, mistakes = _expand(node.value, self.env)
            for mistake in mistakes:
                self.problem(path, mistake)
        problem = _string_problem(node.value)
        if problem is not None:
            # Emptied, so that no later check meets the value; the problem is already reported.
            node.value = ""
            self.problem(path, problem)

    def mapping(self, node: yaml.MappingNode, path: str) -> None:
        keys_seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            child = join(path, key)
            if key != "<<" and isinstance(key_node, yaml.ScalarNode):
                problem = _string_problem(key) if isinstance(key, str) else None
                if problem is not None:
                    self.problem(child, f"this key {problem}")
                elif key in keys_seen:
                    self.document.problems.append(
                        (child, f"repeated at line {key_node.start_mark.line + 1}; only one of the two would count"))
                else:
                    self.document.lines[child] = key_node.start_mark.line + 1
                keys_seen.add(key)
            self.node(value_node, child)


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "an unknown line"
    if isinstance(exc, _ValueError):
        return f"YAML value at {where}: {exc.problem}"
    what = exc.problem or exc.context or "malformed YAML"
    if exc.context and exc.problem and exc.context_mark:
        what = f"{what} ({exc.context} at line {exc.context_mark.line + 1})"
    return f"YAML syntax error at {where}: {' '.join(str(what).split())}"


def _reader_message(exc: yaml.reader.ReaderError, text: str) -> str:
    line = text.count("\n", 0, max(exc.position, 0)) + 1
    character = exc.character if isinstance(exc.character, int) else 0
    name = "a NUL byte" if character == 0 else f"the character U+{character:04X}"
    return f"not readable as YAML: line {line} contains {name}, which YAML does not allow"


def read_yaml(text: str, env: Mapping[str, str]) -> Document:
    """The document's values with references substituted; syntax errors and bounds as one line each."""
    document = Document()
    try:
        loader = _Loader(text)      # the reader checks every character here, before any parsing
    except yaml.reader.ReaderError as exc:
        return document.refuse(_reader_message(exc, text))
    with disposing(loader):
        try:
            node = compose(loader)
            if node is None:
                return document
            _Walk(document, env).node(node, "")
            document.data = loader.construct_document(node)
        except BoundsError as exc:
            where = f" at line {exc.line}" if exc.line is not None else ""
            return document.refuse(f"YAML{where}: {exc.message}")
        except yaml.reader.ReaderError as exc:
            return document.refuse(_reader_message(exc, text))
        except yaml.MarkedYAMLError as exc:
            return document.refuse(_syntax_message(exc))
        except yaml.YAMLError as exc:
            return document.refuse(f"not readable as YAML: {' '.join(str(exc).split())[:200]}")
    return document


def source_name(path: str | os.PathLike[str]) -> str:
    """The config file as error lines name it: as given, unless that would break the line."""
    text = os.fspath(path)
    return text if text.isprintable() and len(text) <= 1024 else shown(text, 200)


def read_config_text(path: str | os.PathLike[str], source: str) -> tuple[str, Path]:
    """The config file's text and its path; ConfigError (one line) when it cannot be read as text."""
    def refused(message: str) -> ConfigError:
        return ConfigError(source, [("", message)])

    if "\x00" in os.fspath(path):
        raise refused("the file name contains a NUL character")
    config_path = Path(path)
    try:
        config_path = config_path.expanduser()
    except RuntimeError:
        pass                # `~name` of nobody: read as written, and fail as a missing file would
    try:
        raw_bytes = read_file(config_path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        raise refused("no such file (copy config.example.yaml to start one)") from None
    except IsADirectoryError:
        raise refused("is a folder, not a config file") from None
    except BoundsError as exc:
        raise refused(f"cannot be read as a config: {exc.message}") from None
    except OSError as exc:
        raise refused(f"cannot read the file: {exc.strerror or type(exc).__name__}") from None
    try:
        return raw_bytes.decode("utf-8-sig"), config_path
    except UnicodeDecodeError as exc:
        raise refused(f"not UTF-8 text (byte {exc.start})") from None
