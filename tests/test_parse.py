"""The digest parser: every accepted spelling of the format, and every kind of malformed input."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digest.model import Bold, Code, Digest, Italic, Link, Paragraph, Text, plain_text
from bot.digest.parse import parse_digest, parse_file, parse_inline
from bot.errors import DigestError
from tests.conftest import EXAMPLES, reference_digests

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.md"))


def digest(body: str, front: str = 'title: "T"\ndate: 2025-10-01') -> str:
    return f"---\n{front}\n---\n\n{body}"


ITEMS = """Intro.

---

1.  [First](https://a.example/1)

    Summary one.

2.  [Second](https://a.example/2)

    Summary two.

---

### Commentary

Closing.
"""


def error_of(text: str | bytes, source: str = "d.md") -> DigestError:
    with pytest.raises(DigestError) as caught:
        parse_digest(text, source)
    return caught.value


# -- the reference digest and the examples -----------------------------------------------------

@pytest.fixture(scope="module")
def reference() -> Digest:
    paths = [path for path in reference_digests() if path.name == "2025-09-25.md"]
    if not paths:
        pytest.skip("the reference digest folder is not beside the repository")
    return parse_file(paths[0])


def test_reference_digest_has_ten_items_and_commentary(reference: Digest) -> None:
    assert reference.title.startswith("2025.09.25")
    assert reference.date == dt.date(2025, 9, 25)
    assert reference.published_at is not None
    assert reference.published_at.utcoffset() == dt.timedelta(hours=8)
    assert reference.published_at.microsecond == 660_000
    assert reference.categories == ("AI Infrastructure", "Large Models", "Developer Tools", "Hardware")
    assert [item.number for item in reference.items] == list(range(1, 11))
    assert all(item.url.startswith("https://") for item in reference.items)
    assert all(len(item.summary) == 1 for item in reference.items)
    assert len(reference.intro) == 1
    assert reference.commentary_heading == "点评"
    assert len(reference.commentary) == 5


def test_reference_digest_bold_spans_become_structure(reference: Digest) -> None:
    bolds = [node for item in reference.items for node in item.summary[0] if isinstance(node, Bold)]
    assert len(bolds) >= 15
    every_paragraph = [*reference.intro, *(p for item in reference.items for p in item.summary),
                       *reference.commentary]
    assert not any("**" in plain_text(paragraph) for paragraph in every_paragraph)


def test_reference_item_lines_point_at_the_source(reference: Digest) -> None:
    lines = Path(reference.source).read_text(encoding="utf-8").splitlines()
    for item in reference.items:
        assert lines[item.line - 1].startswith(f"{item.number}.")
        assert item.url in lines[item.line - 1]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: path.name)
def test_every_example_parses(path: Path) -> None:
    parsed = parse_file(path)
    assert parsed.source == str(path)
    assert parsed.items
    assert parsed.commentary
    assert parsed.date.isoformat() == path.stem


def test_examples_have_distinct_dates_and_date_spellings() -> None:
    parsed = [parse_file(path) for path in EXAMPLE_FILES]
    assert len({digest.date for digest in parsed}) == len(parsed) >= 3
    offsets = {None if d.published_at is None else d.published_at.utcoffset() for d in parsed}
    assert None in offsets and dt.timedelta(hours=8) in offsets
    assert max(d.date for d in parsed) <= dt.date(2025, 10, 3)


# -- front matter ------------------------------------------------------------------------------

@pytest.mark.parametrize(("written", "date", "published_at"), [
    ("2025-10-01", dt.date(2025, 10, 1), None),
    ('"2025-10-01"', dt.date(2025, 10, 1), None),
    ("2025-10-01T09:30:00+08:00", dt.date(2025, 10, 1),
     dt.datetime(2025, 10, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))),
    ("2025-09-30T23:30:00-04:00", dt.date(2025, 9, 30),
     dt.datetime(2025, 9, 30, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-4)))),
    ("2025-10-01T01:00:00Z", dt.date(2025, 10, 1), dt.datetime(2025, 10, 1, 1, 0, tzinfo=dt.UTC)),
    ("2025-10-01T07:45:00", dt.date(2025, 10, 1), dt.datetime(2025, 10, 1, 7, 45)),
    ("2025-10-01 07:45", dt.date(2025, 10, 1), dt.datetime(2025, 10, 1, 7, 45)),
    ("2025-09-25T09:19:23.660+08:00", dt.date(2025, 9, 25),
     dt.datetime(2025, 9, 25, 9, 19, 23, 660_000, tzinfo=dt.timezone(dt.timedelta(hours=8)))),
])
def test_date_spellings(written: str, date: dt.date, published_at: dt.datetime | None) -> None:
    parsed = parse_digest(digest(ITEMS, f"title: T\ndate: {written}"))
    assert parsed.date == date
    assert parsed.published_at == published_at
    if published_at is not None:
        assert parsed.published_at is not None
        assert parsed.published_at.utcoffset() == published_at.utcoffset()


def test_the_calendar_date_is_the_one_written_not_converted_to_utc() -> None:
    parsed = parse_digest(digest(ITEMS, "title: T\ndate: 2025-10-02T01:00:00+08:00"))
    assert parsed.date == dt.date(2025, 10, 2)


@pytest.mark.parametrize("categories", [
    "categories: [Hardware, \"Large Models\", 开发工具]",
    "categories:\n  - Hardware\n  - Large Models\n  - 开发工具",
    "categories: Hardware, Large Models, 开发工具",
])
def test_categories_flow_block_or_comma_list(categories: str) -> None:
    parsed = parse_digest(digest(ITEMS, f"title: T\ndate: 2025-10-01\n{categories}"))
    assert parsed.categories == ("Hardware", "Large Models", "开发工具")


def test_categories_are_optional_and_title_keeps_its_text() -> None:
    parsed = parse_digest(digest(ITEMS, "title: 2025.10\ndate: 2025-10-01\nextra: ignored"))
    assert parsed.categories == ()
    assert parsed.title == "2025.10"


# -- body structure ----------------------------------------------------------------------------

def test_sections_are_split_into_intro_items_and_commentary() -> None:
    parsed = parse_digest(digest(ITEMS))
    assert [plain_text(p) for p in parsed.intro] == ["Intro."]
    assert [(item.number, item.title, item.url) for item in parsed.items] == [
        (1, "First", "https://a.example/1"), (2, "Second", "https://a.example/2")]
    assert [item.summary_text for item in parsed.items] == ["Summary one.", "Summary two."]
    assert parsed.commentary_heading == "Commentary"
    assert [plain_text(p) for p in parsed.commentary] == ["Closing."]


def test_item_lines_are_numbered_in_the_original_file() -> None:
    parsed = parse_digest(digest(ITEMS))
    assert [item.line for item in parsed.items] == [10, 14]


@pytest.mark.parametrize("indent", [" ", "  ", "   ", "    ", "\t", " \t"])
def test_summary_indentation_of_one_to_four_spaces_or_tabs(indent: str) -> None:
    body = f"Intro.\n\n---\n\n1. [A](https://a.example)\n\n{indent}Line one\n{indent}line two.\n\n" \
           f"2) [B](https://b.example)\n\n{indent}Other.\n\n---\n\n## Commentary\n\nEnd.\n"
    parsed = parse_digest(digest(body))
    assert [item.summary_text for item in parsed.items] == ["Line one line two.", "Other."]


def test_parenthesis_numbering_and_two_digit_numbers() -> None:
    lines = [f"{n}) [Item {n}](https://x.example/{n})\n\n    Text {n}.\n" for n in range(1, 12)]
    parsed = parse_digest(digest("Intro.\n\n---\n\n" + "\n".join(lines)))
    assert [item.number for item in parsed.items] == list(range(1, 12))
    assert parsed.items[10].summary_text == "Text 11."
    assert parsed.commentary_heading is None and parsed.commentary == ()


def test_several_summary_paragraphs_and_a_summary_right_under_the_title() -> None:
    body = "Intro.\n\n---\n\n1. [A](https://a.example)\n   First paragraph\n   continues.\n\n" \
           "   Second paragraph.\n\n---\n\n### 点评\n\nDone.\n"
    item = parse_digest(digest(body)).items[0]
    assert [plain_text(p) for p in item.summary] == ["First paragraph continues.", "Second paragraph."]


def test_a_title_wrapped_over_two_lines() -> None:
    body = "1.  [A long title that\n    wraps](https://a.example)\n\n    Summary.\n"
    item = parse_digest(digest(body)).items[0]
    assert (item.title, item.url, item.summary_text) == ("A long title that wraps", "https://a.example", "Summary.")


def test_text_after_the_link_stays_in_the_title() -> None:
    item = parse_digest(digest("1. [Title](https://a.example) (via Example News)\n")).items[0]
    assert item.title == "Title (via Example News)"
    assert item.url == "https://a.example"


def test_a_numbered_list_without_links_in_the_intro_is_not_the_item_list() -> None:
    body = "Today:\n\n1. first point\n2. second point\n\n---\n\n1. [A](https://a.example)\n\n    S.\n"
    parsed = parse_digest(digest(body))
    assert [plain_text(p) for p in parsed.intro] == ["Today:", "1. first point", "2. second point"]
    assert [item.title for item in parsed.items] == ["A"]


def test_commentary_keeps_paragraphs_and_list_lines() -> None:
    body = "1. [A](https://a.example)\n\n---\n\n## Commentary\n\nFirst\nparagraph.\n\n" \
           "- one\n* two\n  continued\n+ three\n1. numbered\n\nLast.\n"
    parsed = parse_digest(digest(body))
    assert parsed.commentary_heading == "Commentary"
    assert [plain_text(p) for p in parsed.commentary] == [
        "First paragraph.", "• one", "• two continued", "• three", "1. numbered", "Last."]


def test_commentary_without_a_rule_before_its_heading() -> None:
    body = "1. [A](https://a.example)\n\n    S.\n\n### 点评 ###\n\n评论。\n"
    parsed = parse_digest(digest(body))
    assert parsed.commentary_heading == "点评"
    assert [plain_text(p) for p in parsed.commentary] == ["评论。"]
    assert parsed.items[0].summary_text == "S."


def test_unindented_text_between_items_belongs_to_the_item_before() -> None:
    body = "1. [A](https://a.example)\n\nNot indented.\n\n2. [B](https://b.example)\n\n---\n\n### C\n\nX.\n"
    parsed = parse_digest(digest(body))
    assert [item.summary_text for item in parsed.items] == ["Not indented.", ""]


# -- category markers --------------------------------------------------------------------------

def test_category_marker_inside_an_item() -> None:
    body = "1.  [A](https://a.example)\n\n    <!-- categories: Hardware, 开发工具 -->\n\n    Summary.\n\n" \
           "2.  [B](https://b.example)\n\n    Other.\n"
    parsed = parse_digest(digest(body))
    assert parsed.items[0].categories == ("Hardware", "开发工具")
    assert parsed.items[0].summary_text == "Summary."
    assert parsed.items[1].categories == ()


@pytest.mark.parametrize("marker", [
    "    <!-- categories: Hardware，大模型 -->",
    "    <!--\n    categories: Hardware、大模型\n    -->",
    "    <!-- Category: Hardware; 大模型 -->",
])
def test_category_marker_spellings(marker: str) -> None:
    body = f"1.  [A](https://a.example)\n\n    Summary.\n{marker}\n"
    item = parse_digest(digest(body)).items[0]
    assert item.categories == ("Hardware", "大模型")
    assert item.summary_text == "Summary."


def test_marker_on_the_item_line_and_other_comments_are_invisible() -> None:
    body = "<!-- editor: check the intro -->\nIntro <!-- hidden --> text.\n\n---\n\n" \
           "1. [A](https://a.example) <!-- categories: Hardware -->\n\n    Sum<!-- x -->mary.\n"
    parsed = parse_digest(digest(body))
    assert parsed.items[0].categories == ("Hardware",)
    assert parsed.items[0].title == "A"
    assert parsed.items[0].summary_text == "Summary."
    assert [plain_text(p) for p in parsed.intro] == ["Intro  text."]


# -- line endings and encodings ----------------------------------------------------------------

@pytest.mark.parametrize("transform", [
    lambda text: text.replace("\n", "\r\n"),
    lambda text: text.replace("\n", "\r"),
    lambda text: "\ufeff" + text,
    lambda text: text.replace("\n", "  \t\n"),
    lambda text: ("\ufeff" + text.replace("\n", "\r\n")).encode("utf-8"),
], ids=["crlf", "cr", "bom", "trailing-space", "bom-crlf-bytes"])
def test_line_endings_bom_and_trailing_whitespace_change_nothing(transform: object) -> None:
    assert callable(transform)
    text = digest(ITEMS.replace("Summary one.", "Summary\none **bold**\n继续\n中文."))
    assert parse_digest(transform(text)) == parse_digest(text)


def test_errors_count_lines_the_same_with_crlf() -> None:
    text = digest("Intro.\n\n---\n\n1. [A](https://a.example)\n\n2. no link\n")
    assert error_of(text.replace("\n", "\r\n")).line == error_of(text).line == 12


# -- inline markup -----------------------------------------------------------------------------

def test_bold_italic_code_and_links() -> None:
    nodes = parse_inline("**b** __b2__ *i* _i2_ `c` [l](https://x.example/a_(b)) <https://y.example/?a=1&b=2>")
    assert nodes == (
        Bold((Text("b"),)), Text(" "), Bold((Text("b2"),)), Text(" "), Italic((Text("i"),)), Text(" "),
        Italic((Text("i2"),)), Text(" "), Code("c"), Text(" "), Link("https://x.example/a_(b)", (Text("l"),)),
        Text(" "), Link("https://y.example/?a=1&b=2", (Text("https://y.example/?a=1&b=2"),)),
    )


@pytest.mark.parametrize("text", [
    "snake_case_name", "a_b_c and __init__x", "5 * 3 = 15", "2 * 2 grid", "a < b && c > d", "x | y",
    "<!channel> <!here> <@U123ABC>", "&amp; &lt; &#64;", "** not bold **", "file_name_.py",
])
def test_text_that_is_not_markup_stays_as_written(text: str) -> None:
    assert parse_inline(text) == (Text(text),)


def test_backslash_escapes_are_honoured() -> None:
    assert parse_inline(r"\*lit\* \_lit\_ \[x\](y) \`c\` \\ \q") == (Text(r"*lit* _lit_ [x](y) `c` \ \q"),)


def test_emphasis_nesting_and_the_rule_of_three() -> None:
    assert parse_inline("***x***") == (Italic((Bold((Text("x"),)),)),)
    assert parse_inline("*a **b** c*") == (Italic((Text("a "), Bold((Text("b"),)), Text(" c"))),)
    assert parse_inline("*foo**bar*") == (Italic((Text("foo**bar"),)),)


def test_bold_around_cjk_quotes_and_next_to_cjk_letters() -> None:
    assert parse_inline("启动了“**AI加速计划**”，") == (
        Text("启动了“"), Bold((Text("AI加速计划"),)), Text("”，"))
    assert parse_inline("**“加速”**的") == (Bold((Text("“加速”"),)), Text("的"))
    assert parse_inline("中**粗体**中") == (Text("中"), Bold((Text("粗体"),)), Text("中"))


def test_code_spans_with_backticks_inside() -> None:
    assert parse_inline("``a ` b``") == (Code("a ` b"),)
    assert parse_inline("` `` `") == (Code("``"),)
    assert parse_inline("`unclosed") == (Text("`unclosed"),)


def test_link_destinations() -> None:
    assert parse_inline("[t](<https://x.example/a b>)") == (Link("https://x.example/a%20b", (Text("t"),)),)
    assert parse_inline('[t](https://x.example "Title")') == (Link("https://x.example", (Text("t"),)),)
    assert parse_inline("[t](https://x.example/?q=a|b&c=(1))") == (
        Link("https://x.example/?q=a|b&c=(1)", (Text("t"),)),)
    assert parse_inline("[t] (https://x.example)") == (Text("[t] (https://x.example)"),)
    assert parse_inline("[**b** and `c`](https://x.example)") == (
        Link("https://x.example", (Bold((Text("b"),)), Text(" and "), Code("c"))),)
    assert parse_inline("<mailto:a@b.example> <a@b.example>") == (
        Link("mailto:a@b.example", (Text("mailto:a@b.example"),)), Text(" "),
        Link("mailto:a@b.example", (Text("a@b.example"),)))


def test_only_web_and_mail_autolinks() -> None:
    assert parse_inline("<javascript:alert(1)>") == (Text("<javascript:alert(1)>"),)
    assert parse_inline("<https://a.example/x|label>") == (
        Link("https://a.example/x|label", (Text("https://a.example/x|label"),)),)
    assert parse_inline("<https://a.example/x y>") == (Text("<https://a.example/x y>"),)


def summary_of(lines: str) -> Paragraph:
    return parse_digest(digest(f"1. [A](https://a.example)\n\n{lines}\n")).items[0].summary[0]


@pytest.mark.parametrize(("lines", "expected"), [
    ("    one\n    two", "one two"),
    ("    中文\n    继续", "中文继续"),
    ("    中文，\n    继续。", "中文，继续。"),
    ("    中文\n    English", "中文 English"),
    ("    English\n    中文", "English 中文"),
    ("    한국어\n    문장", "한국어 문장"),
])
def test_soft_line_breaks(lines: str, expected: str) -> None:
    assert plain_text(summary_of(lines)) == expected


def test_soft_break_between_cjk_across_markup() -> None:
    paragraph = summary_of("    这是\n    **粗体**\n    文字")
    assert paragraph == (Text("这是"), Bold((Text("粗体"),)), Text("文字"))


def test_emphasis_may_span_lines() -> None:
    assert summary_of("    a **bold\n    words** b") == (Text("a "), Bold((Text("bold words"),)), Text(" b"))


# -- malformed input ---------------------------------------------------------------------------

MALFORMED: list[tuple[str, str | bytes, int, str]] = [
    ("empty", b"", 1, "empty file"),
    ("blank", "\n  \n\t\n", 1, "empty file"),
    ("binary", b"---\ntitle: x\n\x00\x01\x02", 3, "binary"),
    ("not-utf8", b"---\ntitle: T\ndate: 2025-10-01\n---\n\nIntro \xff\xfe\n", 6, "not UTF-8"),
    ("latin1", "---\ntitle: Café\n".encode("latin-1"), 2, "not UTF-8"),
    ("no-front-matter", "# Title\n\n1. [A](https://a.example)\n", 1, "no front matter"),
    ("unclosed-front-matter", "\n---\ntitle: T\ndate: 2025-10-01\n\n1. [A](https://a.example)\n", 2,
     "never closed"),
    ("bad-yaml", "---\ntitle: [T\ndate: 2025-10-01\n---\n1. [A](https://a.example)\n", 3, "not valid YAML"),
    ("bad-yaml-indent", "---\ntitle: T\n date: 2025\n  x: : y\n---\n1. [A](https://a.example)\n", 3,
     "not valid YAML"),
    ("yaml-tab", "---\ntitle: T\n\tdate: 2025-10-01\n---\n1. [A](https://a.example)\n", 3, "not valid YAML"),
    ("front-matter-list", "---\n- a\n- b\n---\n1. [A](https://a.example)\n", 2, "key: value"),
    ("front-matter-empty", "---\n---\n1. [A](https://a.example)\n", 1, "front matter is empty"),
    ("missing-title", "---\ndate: 2025-10-01\n---\n1. [A](https://a.example)\n", 1, "no title"),
    ("empty-title", "---\ntitle: \"  \"\ndate: 2025-10-01\n---\n1. [A](https://a.example)\n", 2, "title is empty"),
    ("null-title", "---\ntitle:\ndate: 2025-10-01\n---\n1. [A](https://a.example)\n", 2, "title"),
    ("list-title", "---\ntitle: [a, b]\ndate: 2025-10-01\n---\n1. [A](https://a.example)\n", 2, "title"),
    ("missing-date", "---\ntitle: T\n---\n1. [A](https://a.example)\n", 1, "no date"),
    ("bad-date", "---\ntitle: T\n\ndate: 2025-13-45\n---\n1. [A](https://a.example)\n", 4, "ISO 8601"),
    ("word-date", "---\ntitle: T\ndate: yesterday\n---\n1. [A](https://a.example)\n", 3, "ISO 8601"),
    ("list-date", "---\ntitle: T\ndate: [2025-10-01]\n---\n1. [A](https://a.example)\n", 3, "ISO 8601"),
    ("bad-categories", "---\ntitle: T\ndate: 2025-10-01\ncategories: {a: b}\n---\n1. [A](https://a.example)\n",
     4, "categories"),
    ("no-items", "---\ntitle: T\ndate: 2025-10-01\n---\n\nIntro.\n\n---\n\n### C\n\nText.\n", 5, "no items"),
    ("no-body", "---\ntitle: T\ndate: 2025-10-01\n---\n", 5, "no items"),
    ("item-without-link", "---\ntitle: T\ndate: 2025-10-01\n---\n\n1. [A](https://a.example)\n\n"
     "2. Just a title\n\n    Summary.\n", 8, "item 2 has no link"),
    ("item-with-empty-url", "---\ntitle: T\ndate: 2025-10-01\n---\n\n1. [A]()\n", 6, "item 1 has no link"),
    ("item-with-empty-title", "---\ntitle: T\ndate: 2025-10-01\n---\n\n1. [](https://a.example)\n", 6,
     "empty title"),
    ("duplicate-number", "---\ntitle: T\ndate: 2025-10-01\n---\n\n1. [A](https://a.example)\n\n"
     "1. [B](https://b.example)\n", 8, "used twice (first on line 6)"),
    ("unclosed-comment", "---\ntitle: T\ndate: 2025-10-01\n---\n\n1. [A](https://a.example)\n\n"
     "    <!-- categories: Hardware\n\n    Summary.\n", 8, "comment"),
]


@pytest.mark.parametrize(("text", "line", "words"), [case[1:] for case in MALFORMED],
                         ids=[case[0] for case in MALFORMED])
def test_malformed_input_names_file_and_line(text: str | bytes, line: int, words: str) -> None:
    error = error_of(text, "digests/2025-10-01.md")
    assert error.source == "digests/2025-10-01.md"
    assert error.line == line
    assert words in error.reason
    assert str(error) == f"digests/2025-10-01.md:{line}: {error.reason}"
    assert "\n" not in str(error)


def test_parse_file_errors_name_the_path_as_given(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_bytes(b"---\ntitle: T\n")
    with pytest.raises(DigestError, match=re.escape(f"{path}:1: front matter is never closed")):
        parse_file(path)
    with pytest.raises(DigestError) as missing:
        parse_file(tmp_path / "absent.md")
    assert str(missing.value) == f"{tmp_path / 'absent.md'}: no such file"
    with pytest.raises(DigestError, match="is a directory"):
        parse_file(tmp_path)


# -- robustness --------------------------------------------------------------------------------

MARKDOWN_ALPHABET = st.sampled_from([*"ab 中文\n\t*_`[]()<>!\\-#>|&:1.", "---", "1. ", "    ", "<!--", "-->",
                                     "**", "](", "http://x"])


@settings(max_examples=300, deadline=None)
@given(st.lists(MARKDOWN_ALPHABET, max_size=60).map("".join))
def test_any_body_parses_or_raises_a_digest_error(body: str) -> None:
    try:
        parsed = parse_digest(digest(body))
    except DigestError as error:
        assert error.line is not None and error.line >= 1
        assert "\n" not in str(error)
    else:
        assert parsed.items


def well_formed(nodes: Paragraph) -> bool:
    """No empty text nodes, no two text nodes in a row, no empty emphasis: what renderers rely on."""
    previous_text = False
    for node in nodes:
        if isinstance(node, Text):
            if not node.text or previous_text:
                return False
        elif isinstance(node, Bold | Italic | Link) and not well_formed(node.children):
            return False
        previous_text = isinstance(node, Text)
    return True


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_inline_parsing_is_total_and_keeps_plain_text(text: str) -> None:
    nodes = parse_inline(text)
    assert well_formed(nodes)
    if not set("*_`[]<\\") & set(text):
        assert nodes == ((Text(text),) if text else ())


def test_the_documented_example_parses_as_documented() -> None:
    document = (EXAMPLES.parent / "docs" / "format.md").read_text(encoding="utf-8")
    example = re.search(r"```markdown\n(.*?)```", document, re.DOTALL)
    assert example is not None
    parsed = parse_digest(example.group(1), "docs/format.md")
    assert [item.number for item in parsed.items] == [1, 2]
    assert parsed.items[0].categories == ("Hardware", "开发工具")
    assert parsed.commentary_heading == "点评"
    assert plain_text(parsed.commentary[-1]) == "• List lines are kept, one per line."


def test_a_link_inside_link_text_keeps_only_its_text() -> None:
    assert parse_inline("[a [b](https://u.example) c](https://v.example)") == (
        Link("https://v.example", (Text("a b c"),)),)


@pytest.mark.parametrize("text", [
    "*a " * 500 + "a* " * 500,
    "[" * 500 + "a" + "](https://u.example)" * 500,
    "*" * 3000 + "a" + "*" * 3000,
    "[" * 3000 + "`" * 3000,
], ids=["nested-emphasis", "nested-links", "long-runs", "unmatched"])
def test_pathological_nesting_stays_shallow(text: str) -> None:
    def depth(nodes: Paragraph) -> int:
        return max([0, *(1 + depth(node.children) for node in nodes if isinstance(node, Bold | Italic | Link))])

    parsed = parse_digest(digest(f"1. [A](https://a.example)\n\n    {text}\n"))
    assert depth(parsed.items[0].summary[0]) <= 12


def test_yaml_values_yaml_cannot_convert_are_reported() -> None:
    error = error_of("---\ntitle: !!int abc\ndate: 2025-10-01\n---\n1. [A](https://a.example)\n")
    assert error.line == 2
    assert "front matter" in error.reason


def test_a_front_matter_key_given_twice_is_an_error_naming_both_lines() -> None:
    text = ("---\ntitle: One\ndate: 2025-10-01\ndate: 2025-10-02\n---\n\nIntro.\n\n---\n\n"
            "1.  [A](https://a.example)\n\n    S.\n")
    with pytest.raises(DigestError) as caught:
        parse_digest(text, "twice.md")
    assert str(caught.value) == "twice.md:4: front matter has date: twice (also line 3)"


@pytest.mark.parametrize(("text", "expected"), [
    ("[**“a”*](https://u.example)", (Link("https://u.example", (Text("*"), Italic((Text("“a”"),)))),)),
    ("[*“a”**](https://u.example)", (Link("https://u.example", (Italic((Text("“a”"),)), Text("*"))),)),
    ("[[*b]__**__**]()", (Text("["), Italic((Text("b]"), Bold((Text("**"),)))), Text("*"))),
])
def test_emphasis_in_link_text_pairs_as_if_the_text_stood_alone(text: str, expected: Paragraph) -> None:
    # A run at the very start or end of link text has nothing beside it there, not the bracket.
    assert parse_inline(text) == expected
