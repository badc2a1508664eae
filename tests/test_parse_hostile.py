"""The digest parser against hostile input: markup built to be slow, comments that hide items,
YAML tags, bombs and nesting, surrogates and NUL, mixed line endings. Only one-line DigestErrors
escape, memory and work stay bounded by the input's size, and no item is ever silently lost."""

from __future__ import annotations

import os
import re
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.bounded import MAX_FILE_BYTES
from bot.cli import main
from bot.digest import inline
from bot.digest.model import Bold, Digest, Italic, Link, Paragraph, Text, plain_text
from bot.digest.parse import parse_digest, parse_file, parse_inline
from bot.errors import DigestError

SOURCE = "hostile.md"
BODY = ("Intro.\n\n---\n\n1.  [First item](https://news.example.com/1)\n\n    Summary one.\n\n"
        "2.  [Second item](https://news.example.com/2)\n\n    Summary two.\n\n---\n\n### Commentary\n\nEnd.\n")


def front(*lines: str) -> str:
    return "\n".join(["---", 'title: "Hostile"', *lines, "---", ""])


def with_date(*lines: str) -> str:
    return front("date: 2025-10-01", *lines)


def lines_in(text: str | bytes) -> int:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1


def outcome(text: str | bytes) -> Digest | DigestError:
    """The digest or its DigestError; any other exception escaping fails the test that calls it."""
    try:
        return parse_digest(text, SOURCE)
    except DigestError as error:
        return error


def assert_one_line(error: DigestError, text: str | bytes) -> None:
    message = str(error)
    assert error.source == SOURCE
    assert error.line is not None and 1 <= error.line <= lines_in(text), message
    assert message.startswith(f"{SOURCE}:{error.line}: ")
    assert "\n" not in message and "\r" not in message
    assert len(message) < 300
    message.encode("utf-8")   # printable: no lone surrogate reaches a message


def error_of(text: str | bytes) -> DigestError:
    result = outcome(text)
    assert isinstance(result, DigestError), f"expected an error, got a digest of {len(result.items)} items"
    assert_one_line(result, text)
    return result


def peak_memory(call: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def memory_bound(text: str | bytes) -> int:
    """Generous: Python objects cost tens of bytes each, and a character of markup may become one."""
    return 4_000_000 + 64 * len(text)


# -- strategies --------------------------------------------------------------------------------

# Patterns that made the old parser quadratic, and pieces of every inline construct.
PATTERNS = ["a* ", "[a](", "[a](b (x ", "x <!-- ", "***a", "[", "](u)", "]", "(", ")", "`", "``", "<", "a_",
            "_a", "**", "\\", "<!--", "-->", "<!-->", "<!--->", "<http://a", "<a@b", "\u00a0", "中文", "“",
            "\t", "a", " ", "&amp;", "\ufeff"]
inline_runs = st.lists(st.tuples(st.sampled_from(PATTERNS), st.integers(1, 30)), max_size=6).map(
    lambda parts: "".join(pattern * count for pattern, count in parts))

COMMENT_LINES = ["<!--", "<!-- note", "-->", "end -->", "<!-- categories: Hardware -->", "<!-->", "<!--->",
                 "<!---->", "    <!--", "    -->", "<!-- a --> tail", "  <!-- x -->", "<!-- <!-- -->"]


def alias_bomb(levels: int = 9, width: int = 9) -> list[str]:
    names = "abcdefghijklmnop"
    lines = [f"{names[0]}: &{names[0]} [{','.join(['x'] * width)}]"]
    for level in range(1, levels):
        previous = names[level - 1]
        lines.append(f"{names[level]}: &{names[level]} [{','.join(['*' + previous] * width)}]")
    return lines


HOSTILE_YAML = [
    ["extra: !!int abc"], ["extra: !!float x"], ["extra: !!bool maybe"], ["extra: !!int ''"],
    ["when: !!timestamp 2025-99-99"], ["big: " + "7" * 5000], ["clock: " + "1:" * 2000 + "1"],
    ["deep: " + "[" * 3000 + "]" * 3000], ["deep: " + "{a: " * 300 + "b" + "}" * 300],
    ["deep:", *("  " * depth + "-" for depth in range(1, 120))],
    [*alias_bomb(), "bomb: *i"], ["ref: *nowhere"], ["raw: !!binary '%%%'"], ["code: !!python/object:os.system ls"],
    ['half: "\\ud800"'], ['pair: "\\ud83d\\ude00"'], ['nul: "\\0"'], ["set: !!set {a, b}"],
    ["base: &m {a: 1}", "other:", "  <<: *m"], ["open: [1, 2"], ["  bad: indent"], ["\ttab: x"],
    ["tag: !<tag:e" + "e" * 500 + "> v"], ["title: again"], ["a\x01b: c"], ["key: \u2028x"],
]
HOSTILE_DATES = ["date: *nothing", "date: [2025-10-01]", "date: 2025-13-01", "date: !!timestamp 2025-99-99",
                 "date: 1e999", "date: " + "9" * 5000, 'date: "\\ud800"', "date: {a: 1}", "date:", "date: !!int x"]
VALID_DATES = ["date: 2025-10-01", "date: 2025-10-01T08:30:00+08:00", "date: '2025-10-01 07:45'",
               "date: 2025-10-01 09:30:00 +8"]


@st.composite
def front_matters(draw: st.DrawFn) -> list[str]:
    lines = [draw(st.sampled_from(['title: "Hostile digest"', "title: Plain", 'title: "a\\u00e9b"']))]
    lines.append(draw(st.sampled_from(VALID_DATES + HOSTILE_DATES)) if draw(st.booleans()) else VALID_DATES[0])
    for extra in draw(st.lists(st.sampled_from(HOSTILE_YAML), max_size=2)):
        lines.extend(extra)
    return lines


@st.composite
def hostile_digests(draw: st.DrawFn) -> tuple[str | bytes, dict[int, str]]:
    """A digest with hostile markup everywhere, stray comments, hostile YAML and mixed line endings,
    and the items (number → title) written in it."""
    numbers = draw(st.lists(st.integers(1, 999), min_size=1, max_size=4, unique=True))
    titles = {number: draw(st.from_regex(r"[A-Za-z]{2,8}( [A-Za-z]{2,8}){0,2}", fullmatch=True))
              for number in numbers}
    lines = ["---", *draw(front_matters()), "---", "", draw(inline_runs), "", "---", ""]
    body_start = len(lines)
    for number, title in titles.items():
        lines += [f"{number}.  [{title}](https://news.example.com/{number})", "", "    " + draw(inline_runs), ""]
    lines += ["---", "", "### Commentary", "", draw(inline_runs), ""]
    for _ in range(draw(st.integers(0, 3))):
        lines.insert(draw(st.integers(body_start - 4, len(lines))), draw(st.sampled_from(COMMENT_LINES)))
    endings = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=len(lines), max_size=len(lines)))
    text = "".join(line + ending for line, ending in zip(lines, endings, strict=True))
    if draw(st.booleans()):
        text = "\ufeff" + text
    return (text.encode("utf-8") if draw(st.booleans()) else text), titles


HOSTILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HOSTILE
@given(hostile_digests())
def test_a_hostile_digest_parses_whole_or_fails_in_one_line(case: tuple[str | bytes, dict[int, str]]) -> None:
    text, titles = case
    result = outcome(text)
    if isinstance(result, DigestError):
        assert_one_line(result, text)
        return
    # Nothing lost: every item written is there, with its title.
    parsed = {item.number: item.title for item in result.items}
    assert set(parsed) == set(titles)
    for number, title in titles.items():
        assert title in parsed[number]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_digests())
def test_memory_stays_within_a_multiple_of_the_input(case: tuple[str | bytes, dict[int, str]]) -> None:
    text, _ = case
    assert peak_memory(lambda: outcome(text)) < memory_bound(text)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["\x00", "\ud800", "\udfff", "\udbff\udc00"]))
def test_a_nul_or_surrogate_anywhere_is_an_error_on_its_line(position: int, bad: str) -> None:
    text = with_date() + BODY
    position %= len(text) + 1
    text = text[:position] + bad + text[position:]
    error = error_of(text)
    assert error.line == lines_in(text[:position])
    encoded = text.encode("utf-8", "surrogatepass")
    assert error_of(encoded).line == lines_in(text[:position])


# Without comments, destinations or autolinks nothing but markup characters may vanish.
TEXT_KEEPING = [pattern for pattern in PATTERNS if not set(pattern) & set("<()")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TEXT_KEEPING), st.integers(1, 30)), max_size=8).map(
    lambda parts: "".join(pattern * count for pattern, count in parts)))
def test_hostile_runs_lose_only_markup(source: str) -> None:
    flat = plain_text(parse_inline(source))
    for letter in ("a", "中", "文", "“", "\u00a0", "\t", "&"):
        assert flat.count(letter) == source.count(letter)
    # A code span's padding (one space inside each end, which CommonMark strips) is markup too: at
    # most one space per run of backticks.
    padding = len(re.findall(r"`+", source))
    assert source.count(" ") - padding <= flat.count(" ") <= source.count(" ")


def test_a_code_span_loses_its_padding_spaces_and_nothing_else() -> None:
    assert plain_text(parse_inline("` a* `")) == "a*"
    assert plain_text(parse_inline("`  a  `")) == " a "


# -- the reported cases --------------------------------------------------------------------------

def test_the_alias_bomb_is_refused_before_it_expands() -> None:
    text = front(*alias_bomb(), "date: *i") + BODY
    assert len(front(*alias_bomb(), "date: *i").encode()) < 400
    peak = peak_memory(lambda: outcome(text))
    error = error_of(text)
    assert "alias" in error.reason
    assert peak < 5_000_000


@pytest.mark.parametrize(("lines", "line", "words"), [
    (["date: 2025-10-01", "extra: !!int abc"], 4, "integer"),
    (["date: 2025-10-01", "extra: !!float x"], 4, "number"),
    (["date: 2025-10-01", "flag: !!bool perhaps"], 4, "true or false"),
    (["date: !!timestamp 2025-99-99"], 3, "ISO 8601"),
    (["date: 2025-10-01", "big: " + "1" * 5000], 4, "too long"),
    (["date: " + "1" * 5000], 3, "too long"),
    (["date: 2025-10-01", "deep: " + "[" * 3000 + "]" * 3000], 4, "nested"),
    (["date: 2025-10-01", "deep:", *("  " * depth + "-" for depth in range(1, 200))], 68, "nested"),
    (['title: "a\\ud800b"', "date: 2025-10-01"], 3, "surrogate"),
    (["date: 2025-10-01", 'note: "\\0"'], 4, "NUL"),
    (["date: 2025-10-01", "bad\x01key: 1"], 4, "U+0001"),
    (["date: 2025-10-01", "code: !!python/object:os.system ls"], 4, "constructor"),
], ids=["int", "float", "bool", "timestamp", "big-int", "big-date", "flow-depth", "block-depth", "surrogate",
        "nul", "control", "python-tag"])
def test_hostile_front_matter_values_are_one_line_errors(lines: list[str], line: int, words: str) -> None:
    text = front(*lines) + BODY
    error = error_of(text)
    assert error.line == line
    assert words in error.reason


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029"])
def test_yaml_line_breaks_that_are_not_digest_line_breaks_keep_lines_right(separator: str) -> None:
    # YAML breaks lines at NEL, U+2028 and U+2029 too; the digest's lines do not.
    assert error_of(front(f'note: "a{separator}b{separator}c"', "date: 2025-10-01", "n: !!int x") + BODY).line == 5
    # YAML notices the key it split off only at the next key, on line 4 (its own count says 5).
    assert error_of(front(f"note: a{separator}b", "date: 2025-10-01") + BODY).line == 4


def test_a_timestamp_tag_elsewhere_is_only_text() -> None:
    assert parse_digest(with_date("when: !!timestamp 2025-99-99") + BODY).date.isoformat() == "2025-10-01"


def test_an_error_never_renders_a_huge_value() -> None:
    error = error_of(front("date: [" + ", ".join(["2025-10-01"] * 5000) + "]") + BODY)
    assert "a list of 5000 item(s)" in error.reason
    error = error_of(front("date: " + "x" * 100_000) + BODY)
    assert len(str(error)) < 300


def test_an_unclosed_comment_cannot_hide_the_items_after_it(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    text = with_date() + ("Intro.\n\n---\n\n1.  [One](https://a.example/1)\n\n    <!-- categories: Hardware\n\n"
                          "2.  [Two](https://a.example/2)\n\n3.  [Three](https://a.example/3)\n\n    Fine -->\n")
    error = error_of(text)
    assert error.line == 11   # where the comment opened
    assert "line 13" in error.reason
    path = tmp_path / "hidden.md"
    path.write_text(text, encoding="utf-8")
    assert main(["check", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"{path}:11: {error.reason}"


@pytest.mark.parametrize(("body", "line"), [
    ("<!-- draft\n\n1.  [Hidden](https://a.example/1)\n\n-->\n\n2.  [Shown](https://a.example/2)\n", 5),
    ("1.  [A](https://a.example/1)\n\n    <!-- x\n\n---\n\n### Commentary\n\nText -->\n", 7),
    ("1.  [A](https://a.example/1)\n\n    <!-- x\n\n### Commentary -->\n", 7),
    ("1.  [A](https://a.example/1)\n    <!--\n2.  [B](https://a.example/2)\n    -->\n", 6),
], ids=["intro-hides-item", "item-hides-rule", "item-hides-heading", "item-hides-next"])
def test_a_comment_that_would_hide_structure_names_its_line(body: str, line: int) -> None:
    assert error_of(with_date() + body).line == line


def test_comments_that_stay_in_their_item_hide_nothing_else() -> None:
    body = ("1.  [A](https://a.example/1)\n\n    <!--\n    an editor's note\n       2. a nested list line\n"
            "    -->\n    <!-- categories: Hardware -->\n\n    Summary.\n\n<!-- between items -->\n\n"
            "2.  [B](https://a.example/2)\n")
    parsed = parse_digest(with_date() + body)
    assert [(item.number, item.categories, item.summary_text) for item in parsed.items] == [
        (1, ("Hardware",), "Summary."), (2, (), "")]


def test_complete_empty_comments_and_text_after_a_comment() -> None:
    assert parse_inline("a<!-->b<!--->c<!---->d") == (Text("abcd"),)
    body = "1.  [A](https://a.example/1)\n\n    <!--> Seen <!---> too.\n    <!-- hidden\n    --> and this.\n"
    assert parse_digest(with_date() + body).items[0].summary_text == "Seen  too.\n\nand this."


def test_a_no_break_space_does_not_end_a_link_destination() -> None:
    assert parse_inline("[t](https://a.example/x\u00a0y)") == (Link("https://a.example/x\u00a0y", (Text("t"),)),)
    assert parse_inline("[t](https://a.example/x y)") == (Text("[t](https://a.example/x y)"),)


def test_destination_parentheses_nest_at_most_32_deep() -> None:
    deep = "(" * 32 + ")" * 32
    assert parse_inline(f"[t](u{deep})") == (Link(f"u{deep}", (Text("t"),)),)
    deeper = "(" * 33 + ")" * 33
    assert plain_text(parse_inline(f"[t](u{deeper})")) == f"[t](u{deeper})"


def test_links_nested_any_depth_keep_only_the_outer_one() -> None:
    nodes = parse_inline("[" * 3000 + "a" + "](https://u.example)" * 3000)
    assert nodes == (Link("https://u.example", (Text("a"),)),)


def test_emphasis_beyond_the_run_budget_is_kept_as_text() -> None:
    count = inline.MAX_EMPHASIS_RUNS
    nodes = parse_inline("**b** " * count)
    assert sum(isinstance(node, Bold) for node in nodes) == count // 2
    assert plain_text(nodes).count("b") == count
    assert plain_text(nodes).count("**") == count   # the second half, as written


def test_emphasis_nests_at_most_twelve_deep_around_links_too() -> None:
    def depth(nodes: Paragraph) -> int:
        return max([0, *(1 + depth(node.children) for node in nodes if isinstance(node, Bold | Italic | Link))])

    inner = "*" * 20 + "x" + "*" * 20
    nodes = parse_inline("*" * 20 + f"[{inner}](https://u.example)" + "*" * 20)
    assert depth(nodes) <= inline.MAX_EMPHASIS_DEPTH + 1


# -- reading files -------------------------------------------------------------------------------

def test_parse_file_refuses_a_fifo_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "digest.md"
    os.mkfifo(fifo)
    with pytest.raises(DigestError) as caught:
        parse_file(fifo)
    assert str(caught.value) == f"{fifo}: cannot read: not a regular file (a pipe, a device or a socket)"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_parse_file_refuses_a_device() -> None:
    with pytest.raises(DigestError, match="not a regular file"):
        parse_file("/dev/zero")


def test_parse_file_refuses_a_file_over_the_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "huge.md"
    with path.open("wb") as out:
        out.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(DigestError, match="too large"):
        parse_file(path)


# -- linear work ---------------------------------------------------------------------------------

def backtick_runs(size: int) -> str:
    parts, total, length = [], 0, 1
    while total < size:
        parts.append("`" * length + "x")
        total += length + 1
        length += 1
    return "".join(parts)


LINEAR_CASES: dict[str, Callable[[int], str]] = {
    "a* ": lambda n: "a* " * n, "[a](": lambda n: "[a](" * n, "[a](b (x ": lambda n: "[a](b (x " * n,
    "x <!-- ": lambda n: "x <!-- " * n, "***a": lambda n: "***a" * n,
    "nested [": lambda n: "[" * n + "a" + "](u)" * n, "[ then ](": lambda n: "[" * n + "](" * n,
    "backtick runs": lambda n: backtick_runs(4 * n), "< runs": lambda n: "<" * 4 * n, "a_": lambda n: "a_" * n,
    "*a a*": lambda n: "*a " * n + "a* " * n, "_a a_": lambda n: "_a " * n + "a_ " * n,
    "[a]((": lambda n: "[a](" + "(" * n, "[a](<": lambda n: "[a](<" * n, "[a](b \"": lambda n: '[a](b "' * n,
    "`` ` ``": lambda n: "`` ` " * n, "\\*": lambda n: "\\*" * n, "mixed": lambda n: "*[`<!--_a]( " * n,
}


@pytest.mark.parametrize("build", LINEAR_CASES.values(), ids=LINEAR_CASES.keys())
def test_inline_work_grows_linearly(build: Callable[[int], str]) -> None:
    # The parser counts characters passed over and loop rounds; four times the input, four times that.
    _, small = inline._counted_parse(build(1000))
    _, large = inline._counted_parse(build(4000))
    assert large <= 4.5 * small


def bytecodes(call: Callable[[], object]) -> int:
    """Python bytecodes run inside bot/digest while `call` runs: a measure of work, not of time."""
    root = str(Path(inline.__file__).parent)
    count = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if not frame.f_code.co_filename.startswith(root):
            return None
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return local

    def local(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        nonlocal count
        if event == "opcode":
            count += 1
        return local

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        call()
    except DigestError:
        pass
    finally:
        sys.settrace(previous)
    return count


def items_with(summary: Callable[[int], str], count: int) -> str:
    return with_date() + "Intro.\n\n---\n\n" + "".join(
        f"{n}.  [Item {n}](https://a.example/{n})\n\n    {summary(n)}\n\n" for n in range(1, count + 1))


BLOCK_CASES: dict[str, Callable[[int], str]] = {
    "items": lambda n: items_with(lambda k: f"Summary **{k}** with [a link](https://b.example/{k}).", n // 10),
    "markers": lambda n: items_with(lambda k: "x <!-- " * 10 + "<!-- categories: A -->", n // 10),
    "comment lines": lambda n: items_with(lambda k: "<!-- c -->\n    text", n // 10),
    "quote marks": lambda n: with_date() + "1.  [A](https://a.example)\n\n    " + "> " * n + "x\n",
    "heading spaces": lambda n: with_date() + "1.  [A](https://a.example)\n\n## a" + " " * n + "b\n\nEnd.\n",
    "soft breaks": lambda n: with_date() + "1.  [A](https://a.example)\n\n" + "    中文\n" * n,
    "marker spaces": lambda n: with_date() + "1.  [A](https://a.example)\n\n    <!-- categories: a"
                               + " " * n + "b -->\n",
}


@pytest.mark.parametrize("build", BLOCK_CASES.values(), ids=BLOCK_CASES.keys())
def test_block_work_grows_linearly(build: Callable[[int], str]) -> None:
    small = bytecodes(lambda: parse_digest(build(500)))
    large = bytecodes(lambda: parse_digest(build(2000)))
    # The front matter is a fixed cost in both; the rest must not grow faster than the text.
    assert large <= 4.5 * small


@pytest.mark.parametrize("build", LINEAR_CASES.values(), ids=LINEAR_CASES.keys())
def test_pathological_inputs_stay_within_memory(build: Callable[[int], str]) -> None:
    text = with_date() + "1.  [A](https://a.example)\n\n    " + build(5000) + "\n"
    assert peak_memory(lambda: outcome(text)) < memory_bound(text)
