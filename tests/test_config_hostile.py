"""Hostile configs through the real entry point: every problem is one line naming the file, exit 2, bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from tests.conftest import ROOT


@dataclass(frozen=True)
class Y:
    """A YAML fragment written as is after `key: `."""

    text: str


BASE: dict[str, Any] = {
    "version": Y("1"),
    "timezone": Y("UTC"),
    "language": Y("en"),
    "digests": {"source": Y("./digests"), "poll_interval": Y("5m"), "poll_deadline": Y("6h"),
                "catch_up": Y("6h"), "fetch_timeout": Y("20s")},
    "categories": {"Hardware": {"aliases": Y("[hw]"), "keywords": Y("[chip]")},
                   "Software": {"aliases": Y("[sw]"), "keywords": Y("[compiler]")}},
    "store": Y('"memory://"'),
    "store_prefix": Y('"digestbot:"'),
    "telegram": {"token": Y('""'), "base_url": Y("https://api.telegram.org/bot"), "updates": Y("polling"),
                 "webhook_url": Y("https://bot.example.com/telegram/webhook"), "webhook_secret": Y('""'),
                 "rate_limit_scale": Y("1")},
    "slack": {"token": Y('""'), "signing_secret": Y('""'), "app_token": Y('""'),
              "base_url": Y("https://slack.com/api/"), "admins": Y("[U1]"), "public_replies": Y("false"),
              "rate_limit_scale": Y("1")},
    "server": {"listen": Y('"127.0.0.1:8080"'), "max_body_bytes": Y("1048576")},
    "delivery": {"lease_ttl": Y("60s"), "max_attempts": Y("5"), "backoff_base": Y("1s"), "backoff_max": Y("60s")},
    "channels": [{"name": Y("terminal"), "platform": Y("console"), "chat": Y("tty"), "schedule": Y('"09:30"'),
                  "timezone": Y("UTC")}],
}


def render(tree: Any, indent: str = "") -> str:
    if isinstance(tree, Y):
        return " " + tree.text + "\n"
    if isinstance(tree, dict):
        body = "".join(f"{indent}{key}:{render(value, indent + '  ')}" for key, value in tree.items())
    else:
        body = "".join(f"{indent}-\n{render(item, indent + '  ').lstrip(chr(10))}" for item in tree)
    return ("\n" if indent else "") + body


def replaced(tree: Any, where: tuple[Any, ...], value: Any) -> Any:
    if not where:
        return value
    head, rest = where[0], where[1:]
    if isinstance(tree, dict):
        copy = dict(tree)
        copy[head] = replaced(copy.get(head, {}), rest, value)
        return copy
    items = list(tree)
    items[head] = replaced(items[head], rest, value)
    return items


def q(text: str) -> Y:
    """A string as a JSON string, which is a YAML double-quoted scalar (escapes included)."""
    return Y(json.dumps(text))


# -- wrong values, by what a key takes --------------------------------------------------------

# Wrong for every key: a NUL inside a string, and a string longer than any value.
EVERYWHERE = [q("a\x00b"), q("z" * 9000)]
NOT_A_MAPPING = [Y('"x"'), Y("[1, 2]"), Y("5")]
WRONG: dict[str, list[Y]] = {
    "version": [Y('"abc"'), Y("1.5"), Y("-3"), Y("2"), Y("[1]"), Y("{a: 1}"), Y("true")],
    "zone": [q("Mars/Olympus"), q("../etc/passwd"), q("a" * 300), Y('""'), Y("5"), Y("[UTC]"), Y("{a: 1}")],
    "language": [q("fr"), Y("5"), Y("[zh]"), Y("true")],
    "source": [q("https://x.example/{date:%H}.md"), q("ftp://x.example/{date:%Y-%m-%d}"),
               q("https://x.example/{0}.md"), q("https://x.example/{date!s:>999999999}"),
               q("https://x.example/{date:%Y-%m-%d"), q("https://x.example/{date.year}"), Y('""'), Y("5"),
               Y("[a]"), q("~no_such_user_zz/digests"), q("https://exa mple.com/{date}")],
    "duration": [q("soon"), Y("-5"), Y("1e300"), Y(".inf"), Y(".nan"), Y("[1]"), Y("true"), q("5 parsecs")],
    "store": [q("postgres://db/bot"), q("sqlite://bot.db"), q("redis:///0"), q("redis://h:99999/0"),
              q("digestbot.db"), q("sqlite:///~no_such_user_zz/x.db"), Y("5"), Y("[memory://]"), Y('""')],
    "prefix": [q("has space"), Y('""'), q("x" * 65), Y("5"), Y("[a]")],
    "credential": [Y("5"), Y("[a]"), Y("{a: 1}"), Y("true"), q("two words"), q("tab\there")],
    "webhook_secret": [q("has space!"), q("x" * 300), Y("5"), Y("[a]")],
    "url": [q("not a url"), q("ftp://x.example/"), q("https://"), q("http://exa mple.com/"), Y("5"), Y("[a]")],
    "updates": [q("sometimes"), Y("5"), Y("[polling]")],
    "webhook_url": [q("http://bot.example.com/hook"), q("notaurl"), Y("5"), q("https://")],
    "scale": [Y("0"), Y("-1"), Y("1001"), q("fast"), Y("[1]"), Y("true"), Y(".nan"), Y(".inf")],
    "list": [q("U123"), Y("5"), Y("{a: 1}"), Y("[[1]]"), Y('[""]')],
    "clash": [Y("[HARD-ware]"), Y('["hard ware"]'), Y("[ＨＡＲＤ＿ＷＡＲＥ]"), Y('["---"]')],
    "bool": [q("maybe"), Y("5"), Y("[true]")],
    "listen": [q("everywhere"), Y("5"), q("h:99999"), q("[::1]"), Y("[a]")],
    "body": [Y("100"), Y("10000000000000"), q("abc"), Y("1.5"), Y("[1]")],
    "attempts": [Y("0"), Y("101"), q("abc")],
    "name": [Y('""'), q("a b"), q("a/b"), Y("5"), Y("[a]"), q("n" * 101), q("tab\there")],
    "platform": [q("fax"), Y("5"), Y("[console]")],
    "chat": [Y("[1]"), Y("{a: 1}"), Y("true"), q("a b"), Y("1.5")],
    "schedule": [q("25:00"), q("9:75"), q("61 * * * *"), q("0 0 31 2 *"), q("* * * * * *"), q("@daily"),
                 q("1 " * 150), Y("930"), Y("[a]"), Y('""'), q("*/0 * * * *")],
    "section": NOT_A_MAPPING,
    "channels": [Y('"x"'), Y("{a: 1}"), Y("5")],
    "unknown": [Y("1"), Y("[a]"), q("x")],
}


@dataclass(frozen=True)
class Slot:
    path: str                     # the key path the one problem is reported at
    where: tuple[Any, ...]        # where in BASE the wrong value goes
    family: str


SLOTS = [
    Slot("version", ("version",), "version"),
    Slot("timezone", ("timezone",), "zone"),
    Slot("language", ("language",), "language"),
    Slot("digests", ("digests",), "section"),
    Slot("digests.source", ("digests", "source"), "source"),
    *(Slot(f"digests.{key}", ("digests", key), "duration") for key in ("poll_interval", "poll_deadline",
                                                                        "fetch_timeout")),
    Slot("categories", ("categories",), "section"),
    Slot("categories.Hardware.aliases", ("categories", "Hardware", "aliases"), "list"),
    Slot("categories.Software.keywords", ("categories", "Software", "keywords"), "list"),
    Slot("categories.Software.aliases", ("categories", "Software", "aliases"), "clash"),
    Slot("store", ("store",), "store"),
    Slot("store_prefix", ("store_prefix",), "prefix"),
    Slot("telegram", ("telegram",), "section"),
    Slot("telegram.token", ("telegram", "token"), "credential"),
    Slot("telegram.base_url", ("telegram", "base_url"), "url"),
    Slot("telegram.updates", ("telegram", "updates"), "updates"),
    Slot("telegram.webhook_url", ("telegram", "webhook_url"), "webhook_url"),
    Slot("telegram.webhook_secret", ("telegram", "webhook_secret"), "webhook_secret"),
    Slot("telegram.rate_limit_scale", ("telegram", "rate_limit_scale"), "scale"),
    Slot("telegram.tokn", ("telegram", "tokn"), "unknown"),
    Slot("slack", ("slack",), "section"),
    *(Slot(f"slack.{key}", ("slack", key), "credential") for key in ("token", "signing_secret", "app_token")),
    Slot("slack.base_url", ("slack", "base_url"), "url"),
    Slot("slack.admins", ("slack", "admins"), "list"),
    Slot("slack.public_replies", ("slack", "public_replies"), "bool"),
    Slot("slack.rate_limit_scale", ("slack", "rate_limit_scale"), "scale"),
    Slot("server", ("server",), "section"),
    Slot("server.listen", ("server", "listen"), "listen"),
    Slot("server.max_body_bytes", ("server", "max_body_bytes"), "body"),
    Slot("delivery", ("delivery",), "section"),
    Slot("delivery.lease_ttl", ("delivery", "lease_ttl"), "duration"),
    Slot("delivery.max_attempts", ("delivery", "max_attempts"), "attempts"),
    Slot("delivery.backoff_base", ("delivery", "backoff_base"), "duration"),
    Slot("delivery.backoff_max", ("delivery", "backoff_max"), "duration"),
    Slot("digests.catch_up", ("digests", "catch_up"), "duration"),
    Slot("channels", ("channels",), "channels"),
    Slot("channels[0].name", ("channels", 0, "name"), "name"),
    Slot("channels[0].platform", ("channels", 0, "platform"), "platform"),
    Slot("channels[0].chat", ("channels", 0, "chat"), "chat"),
    Slot("channels[0].schedule", ("channels", 0, "schedule"), "schedule"),
    Slot("channels[0].timezone", ("channels", 0, "timezone"), "zone"),
    Slot("channels[0].colour", ("channels", 0, "colour"), "unknown"),
    Slot("timezon", ("timezon",), "unknown"),
]


def _covered(slot: Slot, chosen: list[Slot]) -> bool:
    """Whether another chosen slot replaces a section this slot lies in (or lies in this one)."""
    return any(other is not slot and (slot.where[:len(other.where)] == other.where
                                      or other.where[:len(slot.where)] == slot.where) for other in chosen)


@st.composite
def wrong_configs(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A config with wrong values at a few distinct keys, and the key paths each should be reported at."""
    chosen = draw(st.lists(st.sampled_from(SLOTS), min_size=1, max_size=6, unique_by=lambda slot: slot.path))
    chosen = [slot for slot in chosen if not _covered(slot, chosen)] or chosen[:1]
    tree: Any = BASE
    for slot in chosen:
        values = WRONG[slot.family] + ([] if slot.family == "unknown" else EVERYWHERE)
        tree = replaced(tree, slot.where, draw(st.sampled_from(values)))
    return render(tree), [slot.path for slot in chosen]


def check_config(tmp_path: Path, text: str | bytes, capsys: pytest.CaptureFixture[str]) -> tuple[int, Path, list[str]]:
    path = tmp_path / "config.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    code = main(["check-config", "-c", str(path)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, path, captured.err.splitlines()


def test_the_base_config_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, lines = check_config(tmp_path, render(BASE), capsys)
    assert (code, lines) == (0, [])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wrong_configs())
def test_each_wrong_value_is_one_line_at_its_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 case: tuple[str, list[str]]) -> None:
    text, expected = case
    code, path, lines = check_config(tmp_path, text, capsys)
    assert code == 2
    assert len(lines) == len(expected), lines
    for key_path in expected:
        matching = [line for line in lines if line.startswith(f"{path}: {key_path}")
                    and line[len(f"{path}: {key_path}")] in ":["]
        assert len(matching) == 1, (key_path, lines)
    assert all(len(line) < 600 for line in lines), lines


# -- whole-document attacks: one line, naming the file and the line -------------------------------

def _bomb(levels: int) -> str:
    parts = ["&l0 [x, x, x, x, x, x, x, x, x]"]
    parts += [f"&l{level} [{', '.join([f'*l{level - 1}'] * 9)}]" for level in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


DOCUMENT_ATTACKS = st.one_of(
    st.sampled_from(["!!int abc", "!!float x", "!!timestamp 2025-99-99", "!!bool maybe", "!!binary aGk=",
                     "!!set {a: null}", "!!omap [a: 1]", "!!python/object:os.system x", "!custom x",
                     "!!str [1]", "!!map x", "*nope", "!!int 0x", "!!int 1:" + ":".join(["59"] * 3000)]),
    st.integers(65, 5000).map(lambda digits: "9" * digits),
    st.integers(65, 5000).map(lambda digits: "-" + "1" * digits + ".5"),
    st.integers(65, 3000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(65, 3000).map(lambda depth: "{a: " * depth + "1" + "}" * depth),
    st.integers(6, 9).map(_bomb),
    st.integers(600, 2000).map(lambda copies: f'[&s "{"x" * 8000}", ' + ", ".join(["*s"] * copies) + "]"),
)
LEAVES = [slot for slot in SLOTS if slot.family not in ("section", "channels", "unknown")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(LEAVES), DOCUMENT_ATTACKS)
def test_a_hostile_document_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], slot: Slot,
                                        attack: str) -> None:
    code, path, lines = check_config(tmp_path, render(replaced(BASE, slot.where, Y(attack))), capsys)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: ") and "YAML" in lines[0] and "line " in lines[0], lines
    assert len(lines[0]) < 400


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_control_character_anywhere_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  data: st.DataObject) -> None:
    text = render(BASE)
    at = data.draw(st.integers(0, len(text)))
    character = data.draw(st.sampled_from([chr(c) for c in [*range(0, 9), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]]))
    code, path, lines = check_config(tmp_path, text[:at] + character + text[at:], capsys)
    assert code == 2
    line = text.count("\n", 0, at) + 1
    assert lines == [f"{path}: not readable as YAML: line {line} contains "
                     f"{'a NUL byte' if character == chr(0) else f'the character U+{ord(character):04X}'}, "
                     "which YAML does not allow"]


def test_block_nesting_3000_deep_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sequences = "version: 1\nx:\n" + "- " * 3000 + "a\n"
    mappings = "version: 1\n" + "".join(" " * depth + "a:\n" for depth in range(200))
    for text in (sequences, mappings):
        code, path, lines = check_config(tmp_path, text, capsys)
        assert code == 2
        assert lines == [f"{path}: YAML at line {3 if text is sequences else 65}: nested more than 64 levels deep"]


def test_binary_and_oversized_files_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.config import MAX_CONFIG_BYTES

    cases = {
        b"version: 1\n\xff\xfe\n": "not UTF-8 text (byte 11)",
        b"version: 1\n#" + b"x" * MAX_CONFIG_BYTES + b"\n": "cannot be read as a config: too large",
    }
    for content, fragment in cases.items():
        code, path, lines = check_config(tmp_path, content, capsys)
        assert code == 2
        assert len(lines) == 1 and lines[0].startswith(f"{path}: {fragment}"), lines


# -- bounded memory ---------------------------------------------------------------------------------

def _many_unknown_keys() -> str:
    return "".join(f"k{index}: {index}\n" for index in range(3000))


MEMORY_CASES: dict[str, Callable[[], str]] = {
    "node bomb under telegram.token": lambda: "version: 1\ntelegram:\n  token: " + _bomb(9) + "\n",
    "size bomb under slack.admins": lambda: (f'a: &s "{"x" * 8000}"\nslack:\n  admins: [' + ", ".join(["*s"] * 2000)
                                            + "]\n"),
    "3000-deep flow": lambda: "version: " + "[" * 3000 + "]" * 3000 + "\n",
    "a 5,000-digit number": lambda: "version: " + "9" * 5000 + "\n",
    "3,000 unknown keys": _many_unknown_keys,
    "a 100 KB value": lambda: f'timezone: "{"x" * 100_000}"\n',
}


@pytest.mark.parametrize("make", MEMORY_CASES.values(), ids=MEMORY_CASES.keys())
def test_memory_stays_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Callable[[], str]) -> None:
    text = make()
    tracemalloc.start()
    try:
        code, _, lines = check_config(tmp_path, text, capsys)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 2 and lines
    # The file's own size several times over (PyYAML keeps tokens, events and nodes), never the expansion.
    assert peak < 40 * len(text) + 16 * 1024 * 1024, f"peak {peak:,} bytes for a {len(text):,}-byte file"


# -- through a separate process, as a user runs it ----------------------------------------------

def run_check_config(config: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # The timeout only guards against a hang; what is asserted is the outcome.
    return subprocess.run([sys.executable, "-m", "bot", "check-config", "-c", config], capture_output=True,
                          stdin=subprocess.DEVNULL,
                          text=True, env=env, timeout=timeout)


def test_dev_zero_and_a_fifo_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    for config in ("/dev/zero", str(fifo), "/dev/stdin"):
        result = run_check_config(config)
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines() == [
            f"{config}: cannot be read as a config: not a regular file (a pipe, a device or a socket)"]
        assert result.stdout == ""


def test_alias_bomb_and_deep_nesting_through_a_process(tmp_path: Path) -> None:
    for name, text in (("bomb", "version: 1\nstore: " + _bomb(9) + "\n"),
                       ("deep", "version: 1\nchannels: " + "[" * 3000 + "]" * 3000 + "\n"),
                       ("tag", "version: !!int abc\n")):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        result = run_check_config(str(path))
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(f"{path}: YAML"), result.stderr
        assert "Traceback" not in result.stderr
