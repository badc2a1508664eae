"""Slack renderer: every payload is one Slack accepts, within the limits, with no text lost and no ping."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.digest.model import Bold, Code, Digest, Inline, Italic, Item, Link, Paragraph, Text, plain_text
from bot.platforms.slack import LIMITS, SlackLimits, render_digest, render_items, render_notice
from bot.text.scripts import graphemes
from tests.conftest import EXAMPLES, reference_digests
from tests.fakes.slackcheck import (
    block_text_length,
    check_post_message,
    emphasis_spans,
    live_mentions,
    mrkdwn_links,
    mrkdwn_to_plain,
    payload_texts,
    styled_text,
    text_objects,
)

ZWSP = "\u200b"
SMALL = SlackLimits(max_blocks=6, max_block_text=1_800, max_section_text=400, max_header_text=40,
                    max_fallback_text=300, max_link_url=300, max_part_title=20)

# ---------------------------------------------------------------------------------------------
# Strategies: digests built straight from the model, full of what breaks formatters
# ---------------------------------------------------------------------------------------------

EMOJI = ["👨‍👩‍👧‍👦", "🏳️‍🌈", "🇨🇳", "🇺🇸", "👍🏽", "👩🏽‍🔬", "🧑‍🤝‍🧑", "❤️‍🔥", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🇦", "é", "각"]
SPECIALS = ["<", ">", "&", "*", "_", "`", "|", "~", "<!channel>", "<!here>", "<!everyone>", "<@U123>",
            "<#C123|general>", "@channel", "&amp;", "&lt;", "**", "__", "[t](u)", "> ", "\n", "a_b", "5*3",
            "https://bare.example.com/x_y?a=1&b=2", "<https://evil.example.com|click>", ZWSP, ":smile:"]
CJK = "中文字粗体所有权借用芯片模型。，！？；：“”「」（）《》"
WORDS = ["alpha", "beta", "model", "chip", "GPU", "数据", "中心", "発表", "한국어", "Ünïcödé", "3.14", "e.g."]


# One flat pool keeps generation cheap: hypothesis spends its time on structure, not on characters.
TOKENS = [*EMOJI, *SPECIALS, *WORDS, *CJK, "中文", "模型发布", "。", "，", " ", " ", "  ", ". ", "a", "xyz", ",", "!",
          "?", "'", '"', "(", ")", "-", "e", "Q"]
texts = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=10).map("".join)
# Titles and labels with something visible in them: a blank link label shows the URL instead.
visible_texts = texts.filter(lambda text: bool(text.strip()))

url_tails = st.lists(st.sampled_from(["a", "b_c", "|", "<", ">", "&", "?q=1", "&x=2", "(x)", "%7C", "中",
                                      "#frag", " ", "*", "~"]), max_size=6).map("".join)
urls = st.builds(lambda host, tail: f"https://{host}.example.com/{tail}",
                 st.sampled_from(["news", "a-b", "xn--fiq"]), url_tails)


def inline_nodes(depth: int) -> st.SearchStrategy[Inline]:
    leaves = st.one_of(texts.map(Text), texts.map(Code))
    if depth == 0:
        return leaves
    children = st.lists(inline_nodes(depth - 1), min_size=1, max_size=2).map(tuple)
    return st.one_of(
        leaves, leaves,
        children.map(Bold),
        children.map(Italic),
        st.builds(Link, urls, visible_texts.map(lambda label: (Text(label),))),
    )


paragraphs = st.lists(inline_nodes(2), min_size=1, max_size=4).map(tuple)


@st.composite
def items(draw: st.DrawFn, number: int = 1) -> Item:
    summary = tuple(draw(st.lists(paragraphs, min_size=0, max_size=2)))
    return Item(number=number, title=draw(visible_texts), url=draw(urls), summary=summary)


@st.composite
def digests(draw: st.DrawFn, max_items: int = 6) -> Digest:
    count = draw(st.integers(0, max_items))
    return Digest(
        title=draw(st.one_of(visible_texts, st.just("x" * 200), visible_texts.map(lambda t: t * 30))),
        date=draw(st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31))),
        published_at=None,
        categories=(),
        intro=tuple(draw(st.lists(paragraphs, max_size=2))),
        items=tuple(draw(items(number)) for number in range(1, count + 1)),
        commentary_heading=draw(st.one_of(st.none(), visible_texts)),
        commentary=tuple(draw(st.lists(paragraphs, max_size=2))),
    )


@st.composite
def giant_digests(draw: st.DrawFn) -> Digest:
    """One item far over a message (over 12,500 characters), between ordinary ones."""
    base = draw(digests(max_items=3))
    pieces = tuple(draw(st.lists(inline_nodes(1), min_size=2, max_size=8))) * draw(st.integers(1, 300))
    filler = draw(visible_texts)
    missing = max(0, 12_500 - len(plain_text(pieces)))
    giant_paragraph: Paragraph = (*pieces, Text(filler * (missing // len(filler) + 1)), *pieces)
    giant = Item(number=len(base.items) + 1, title=draw(visible_texts), url=draw(urls),
                 summary=(giant_paragraph, *draw(st.lists(paragraphs, max_size=2))))
    return Digest(base.title, base.date, None, (), base.intro, (*base.items, giant), base.commentary_heading,
                  base.commentary)


@st.composite
def crowded_digests(draw: st.DrawFn) -> Digest:
    """Hundreds of items, more than fifty blocks' worth."""
    base = draw(digests(max_items=2))
    pool = draw(st.lists(items(), min_size=1, max_size=5))
    count = draw(st.integers(150, 400))
    many = tuple(Item(number, pool[number % len(pool)].title, pool[number % len(pool)].url,
                      pool[number % len(pool)].summary) for number in range(1, count + 1))
    return Digest(base.title, base.date, None, (), base.intro, many, base.commentary_heading, base.commentary)


# ---------------------------------------------------------------------------------------------
# What every rendering must satisfy
# ---------------------------------------------------------------------------------------------

_LINK_OPEN = re.compile(r"<([^|>]*)")
_FOLLOWABLE_TARGET = re.compile(r"(?:(?:https?|ftps?)://[^/?#:@\s]|mailto:[^@]+@|tel:\+?[0-9(])", re.IGNORECASE)


def squeeze(text: str) -> str:
    return "".join(char for char in text if not char.isspace() and char != ZWSP)


def assert_valid_payloads(payloads: Sequence[dict[str, Any]], limits: SlackLimits = LIMITS) -> None:
    assert payloads
    for number, payload in enumerate(payloads, start=1):
        assert set(payload) == {"text", "blocks", "unfurl_links", "unfurl_media"}
        assert payload["unfurl_links"] is False and payload["unfurl_media"] is False
        blocks = payload["blocks"]
        assert check_post_message(payload) is None, payload
        assert 0 < len(blocks) <= limits.max_blocks
        assert block_text_length(blocks) <= limits.max_block_text
        assert 0 < len(payload["text"]) <= limits.max_fallback_text
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= limits.max_section_text
            elif block["type"] == "header":
                assert len(block["text"]["text"]) <= limits.max_header_text
            elif block["type"] == "context":
                assert len(block["elements"]) <= limits.max_context_elements
        for kind, text in [*text_objects(blocks), ("mrkdwn", payload["text"])]:
            assert live_mentions(text) == [], text
            if kind == "mrkdwn":
                # Every "<" we write opens a link to a real URL (with a host where the scheme
                # needs one); digest text never makes one.
                for target in _LINK_OPEN.findall(text):
                    assert _FOLLOWABLE_TARGET.match(target), text
            else:
                assert not re.search(r"<[!@#]", text)
        if len(payloads) > 1:
            context = next(block for block in blocks if block["type"] == "context")
            assert f"({number}/{len(payloads)})" in context["elements"][0]["text"]


def reader_text(payloads: Sequence[dict[str, Any]]) -> str:
    """Header and sections as a reader sees them, all parts together (context lines left out)."""
    out = []
    for payload in payloads:
        blocks = [block for block in payload["blocks"] if block["type"] != "context"]
        out.extend(payload_texts({"blocks": blocks}))
    return squeeze("".join(out))


def link_targets(payloads: Sequence[dict[str, Any]]) -> list[str]:
    targets: list[str] = []
    for payload in payloads:
        for kind, text in text_objects(payload["blocks"]):
            if kind == "mrkdwn":
                targets.extend(urllib.parse.unquote(url) for url, _ in mrkdwn_links(text))
    return targets


def assert_in_order(haystack: str, needles: Sequence[str]) -> None:
    position = 0
    for needle in needles:
        found = haystack.find(needle, position)
        assert found >= 0, f"lost or out of order: {needle[:80]!r}"
        position = found + len(needle)


def paragraph_urls(paragraph: Paragraph) -> list[str]:
    found: list[str] = []
    for node in paragraph:
        if isinstance(node, Link):
            found.append(node.url)
        elif isinstance(node, Bold | Italic):
            found.extend(paragraph_urls(node.children))
    return found


def assert_nothing_lost(digest: Digest, payloads: Sequence[dict[str, Any]]) -> None:
    expected = [squeeze(digest.title)]
    expected += [squeeze(plain_text(paragraph)) for paragraph in digest.intro]
    urls: list[str] = []
    for item in digest.items:
        expected.append(squeeze(f"{item.number}. {item.title}"))
        expected += [squeeze(plain_text(paragraph)) for paragraph in item.summary]
        urls.append(item.url)
        for paragraph in item.summary:
            urls += paragraph_urls(paragraph)
    if digest.commentary_heading:
        expected.append(squeeze(digest.commentary_heading))
    expected += [squeeze(plain_text(paragraph)) for paragraph in digest.commentary]
    assert_in_order(reader_text(payloads), [needle for needle in expected if needle])
    targets = link_targets(payloads)
    reader = reader_text(payloads)
    position = 0
    for url in urls:
        wanted = urllib.parse.unquote(url.strip())
        if wanted in targets[position:]:
            position = targets.index(wanted, position) + 1
        else:
            # Too long to keep whole as a link under these limits: written out for the reader instead.
            assert squeeze(url) in reader, f"url lost or out of order: {url!r}"


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

DAY = dt.date(2025, 10, 2)


def sections(payloads: Sequence[dict[str, Any]]) -> list[str]:
    return [block["text"]["text"] for payload in payloads for block in payload["blocks"] if block["type"] == "section"]


PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(digests())
def test_any_digest_renders_to_payloads_slack_accepts_without_losing_text(digest: Digest) -> None:
    payloads = render_digest(digest)
    assert_valid_payloads(payloads)
    assert_nothing_lost(digest, payloads)


@PROPERTY
@given(digests())
def test_small_limits_force_every_kind_of_split_and_still_lose_nothing(digest: Digest) -> None:
    payloads = render_digest(digest, limits=SMALL)
    assert_valid_payloads(payloads, SMALL)
    assert_nothing_lost(digest, payloads)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(giant_digests())
def test_a_giant_item_is_spread_over_sections_and_messages(digest: Digest) -> None:
    payloads = render_digest(digest)
    assert_valid_payloads(payloads)
    assert_nothing_lost(digest, payloads)
    assert len(payloads) >= 2


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(crowded_digests())
def test_hundreds_of_items_split_between_items(digest: Digest) -> None:
    payloads = render_digest(digest)
    assert_valid_payloads(payloads)
    assert_nothing_lost(digest, payloads)
    assert len(payloads) >= 3


@PROPERTY
@given(st.text(min_size=1, max_size=400), st.sampled_from([LIMITS, SMALL]))
def test_notices_keep_every_word(text: str, limits: SlackLimits) -> None:
    payloads = render_notice(text, limits=limits)
    if not text.replace(ZWSP, "").strip():
        assert payloads == []
        return
    assert_valid_payloads(payloads, limits)
    assert_in_order(reader_text(payloads), [squeeze(text)])


@settings(max_examples=60, deadline=None)
@given(digests(), st.data())
def test_render_items_shows_the_chosen_items(digest: Digest, data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(digest.items), max_size=4) if digest.items else st.just([]))
    heading = data.draw(visible_texts)
    payloads = render_items(heading, chosen, digest)
    assert_valid_payloads(payloads)
    subset = Digest(heading, digest.date, None, (), (), tuple(chosen))
    assert_nothing_lost(subset, payloads)


def intended_styles(nodes: Sequence[Inline], styles: frozenset[str] = frozenset()) -> list[tuple[str, frozenset[str]]]:
    out: list[tuple[str, frozenset[str]]] = []
    for node in nodes:
        if isinstance(node, Text):
            out.extend((char, styles) for char in node.text)
        elif isinstance(node, Code):
            out.extend((char, styles | {"`"}) for char in node.text)
        elif isinstance(node, Bold):
            out.extend(intended_styles(node.children, styles | {"*"}))
        elif isinstance(node, Italic):
            out.extend(intended_styles(node.children, styles | {"_"}))
        else:
            out.extend(intended_styles(node.children, styles))
    return out


def significant(styled: Sequence[tuple[str, frozenset[str]]]) -> list[tuple[str, frozenset[str]]]:
    # Spaces and literal marker characters may sit just outside a span (a marker cannot take effect
    # next to them); every other character must carry exactly the styles the digest gave it.
    return [(char, styles) for char, styles in styled if not char.isspace() and char not in "*_~`" + ZWSP]


@PROPERTY
@given(st.lists(paragraphs, min_size=1, max_size=3), st.sampled_from([LIMITS, SMALL]))
def test_formatting_is_exactly_what_the_digest_says(intro: list[Paragraph], limits: SlackLimits) -> None:
    digest = Digest("T", DAY, None, (), tuple(intro), ())
    payloads = render_digest(digest, limits=limits)
    seen = [pair for text in sections(payloads) for pair in styled_text(text)]
    wanted = [pair for paragraph in intro for pair in intended_styles(paragraph)]
    assert significant(seen) == significant(wanted)


# ---------------------------------------------------------------------------------------------
# Focused cases
# ---------------------------------------------------------------------------------------------

def digest_of(*summary: Inline, title: str = "Daily", url: str = "https://example.com/a", **fields: Any) -> Digest:
    item = Item(1, fields.pop("item_title", "First"), url, ((*summary,),) if summary else ())
    return Digest(title, DAY, None, (), fields.pop("intro", ()), (item,), **fields)


def test_html_specials_are_entities_in_text_and_labels() -> None:
    payloads = render_digest(digest_of(Text("a < b && c > d"), item_title="AT&T <beta>"))
    item = sections(payloads)[0]
    assert "a &lt; b &amp;&amp; c &gt; d" in item
    assert "|AT&amp;T &lt;beta&gt;>" in item
    assert "<beta>" not in item


def test_pipe_and_angle_brackets_in_a_url_are_percent_encoded() -> None:
    payloads = render_digest(digest_of(url="https://x.example.com/s?q=a|b&c=<d>"))
    item = sections(payloads)[0]
    assert "<https://x.example.com/s?q=a%7Cb&amp;c=%3Cd%3E|First>" in item
    assert mrkdwn_links(item)[0] == ("https://x.example.com/s?q=a%7Cb&c=%3Cd%3E", "First")


@pytest.mark.parametrize("mention", ["<!channel>", "<!here>", "<!everyone>", "<@U123ABC>", "<#C42|general>",
                                     "<!subteam^S012>"])
def test_mentions_in_digest_text_never_ping(mention: str) -> None:
    digest = digest_of(Text(f"hey {mention} there"), title=f"T {mention}", item_title=mention,
                       commentary_heading=mention, commentary=((Text(mention),),))
    for payload in render_digest(digest):
        for _, text in [*text_objects(payload["blocks"]), ("fallback", payload["text"])]:
            assert live_mentions(text) == []
        for block in payload["blocks"]:
            if block["type"] == "section":
                assert block["text"]["verbatim"] is True
    assert mention in "".join(payload_texts(render_digest(digest)[0]))


def test_a_link_without_a_scheme_is_shown_as_text() -> None:
    item = sections(render_digest(digest_of(url="!here")))[0]
    assert "<" not in item and "!here" in mrkdwn_to_plain(item)


@pytest.mark.parametrize("literal", ["*not bold*", "_not italic_", "~not struck~", "`not code`", "*a* _b_",
                                     "__init__", "** double **"])
def test_literal_markers_do_not_format(literal: str) -> None:
    item = sections(render_digest(digest_of(Text(f"x {literal} y"))))[0]
    summary = item.split("\n", 1)[1]
    assert emphasis_spans(summary) == []
    assert mrkdwn_to_plain(summary) == f"x {literal} y"


def test_snake_case_and_arithmetic_stay_as_written() -> None:
    item = sections(render_digest(digest_of(Text("snake_case_name and 5*3 and a~b"))))[0]
    assert "snake_case_name and 5*3 and a~b" in item


def test_bold_and_italic_between_cjk_get_zero_width_spaces() -> None:
    digest = digest_of(Text("中"), Bold((Text("粗体"),)), Text("文"), Italic((Text("斜体"),)), Text("字"))
    summary = sections(render_digest(digest))[0].split("\n", 1)[1]
    assert summary == f"中{ZWSP}*粗体*{ZWSP}文{ZWSP}_斜体_{ZWSP}字"
    assert [(marker, summary[opener + 1:closer]) for marker, opener, closer in emphasis_spans(summary)] == [
        ("*", "粗体"), ("_", "斜体")]


def test_bold_next_to_spaces_needs_no_extra_characters() -> None:
    summary = sections(render_digest(digest_of(Text("a "), Bold((Text(" b "),)), Text(" c"))))[0].split("\n", 1)[1]
    assert summary == "a  *b*  c"


def test_code_and_links_inside_summaries() -> None:
    digest = digest_of(Text("run "), Code("a < b"), Text(" then see "),
                       Link("https://docs.example.com/x|y", (Text("the docs"),)), Text("."))
    summary = sections(render_digest(digest))[0].split("\n", 1)[1]
    assert summary == "run `a &lt; b` then see <https://docs.example.com/x%7Cy|the docs>."
    assert [marker for marker, _, _ in emphasis_spans(summary)] == ["`"]


def test_a_backtick_inside_code_stays_visible_and_closes_nothing() -> None:
    summary = sections(render_digest(digest_of(Code("a`b"))))[0].split("\n", 1)[1]
    assert mrkdwn_to_plain(summary) == "a`b"


def test_a_line_starting_with_a_quote_mark_is_not_a_block_quote() -> None:
    intro = ((Text("> not a quote"),),)
    first = sections(render_digest(digest_of(intro=intro)))[0]
    assert not first.startswith("&gt;")
    assert mrkdwn_to_plain(first) == "> not a quote"


def test_layout_header_context_intro_items_commentary_with_dividers() -> None:
    digest = digest_of(Text("summary"), intro=((Text("intro"),),), commentary_heading="点评",
                       commentary=((Text("closing"),),))
    [payload] = render_digest(digest)
    kinds = [block["type"] for block in payload["blocks"]]
    assert kinds == ["header", "context", "section", "divider", "section", "divider", "section"]
    assert payload["blocks"][0]["text"] == {"type": "plain_text", "text": "Daily", "emoji": False}
    assert payload["blocks"][1]["elements"][0]["text"] == "2025-10-02"
    assert payload["blocks"][4]["text"]["text"] == "*1. <https://example.com/a|First>*\nsummary"
    assert payload["blocks"][6]["text"]["text"] == "*点评*\nclosing"
    assert payload["text"] == "Daily · 2025-10-02\n1. First"
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False


def test_a_long_title_is_shortened_in_the_header_and_given_in_full_below() -> None:
    title = "标题" * 100 + " end"
    [payload] = render_digest(digest_of(title=title))
    header = payload["blocks"][0]["text"]["text"]
    assert len(header) <= 150 and header.endswith("…")
    first = next(block for block in payload["blocks"] if block["type"] == "section")
    assert mrkdwn_to_plain(first["text"]["text"]) == title


def test_header_never_cuts_an_emoji_sequence() -> None:
    title = "👨‍👩‍👧‍👦" * 40
    header = render_digest(digest_of(title=title))[0]["blocks"][0]["text"]["text"]
    assert header.endswith("…") and set(graphemes(header[:-1])) == {"👨‍👩‍👧‍👦"}


def test_parts_are_marked_and_split_between_items() -> None:
    summary = (Text("word " * 500),)
    digest = Digest("Big day", DAY, None, (), (), tuple(Item(n, f"T{n}", f"https://e.com/{n}", (summary,))
                                                           for n in range(1, 11)))
    payloads = render_digest(digest)
    assert len(payloads) >= 3
    total = len(payloads)
    for number, payload in enumerate(payloads, start=1):
        context = next(block for block in payload["blocks"] if block["type"] == "context")
        assert context["elements"][0]["text"].endswith(f"({number}/{total})")
        first = next(block for block in payload["blocks"] if block["type"] == "section")
        assert first["text"]["text"].startswith("*")  # every part starts at an item
        if number > 1:
            assert payload["text"].startswith(f"Big day ({number}/{total})")
            assert "header" not in [block["type"] for block in payload["blocks"]]
    assert_valid_payloads(payloads)


def test_a_long_bold_span_is_closed_and_reopened_across_sections() -> None:
    digest = digest_of(Bold((Text("强调的句子。" * 1_200),)))
    texts = sections(render_digest(digest))
    assert len(texts) >= 3
    for text in texts[1:]:
        spans = emphasis_spans(text)
        assert spans and all(marker == "*" for marker, _, _ in spans)
        assert mrkdwn_to_plain(text).replace("强调的句子。", "") == ""


def test_splits_fall_between_sentences_and_never_inside_links_or_emoji() -> None:
    sentence = (Text("一句话👨‍👩‍👧‍👦，"), Link("https://e.com/a|b", (Text("链接文字"),)), Text("结束。"))
    digest = digest_of(*(sentence * 400))
    texts = sections(render_digest(digest))
    assert len(texts) >= 2
    for text in texts[1:]:
        assert text.startswith("一句话")  # after a sentence end
        plain = mrkdwn_to_plain(text)
        assert not plain.startswith("\u200d") and not plain.endswith("\u200d")
    for text in texts:
        assert text.count("<") == text.count(">") == len(mrkdwn_links(text))


def test_fallback_text_is_cut_cleanly() -> None:
    many = tuple(Item(n, "标题" * 60 + "👍🏽", f"https://e.com/{n}", ()) for n in range(1, 41))
    payloads = render_digest(Digest("T", DAY, None, (), (), many))
    [payload] = payloads
    lines = payload["text"].split("\n")
    assert len(payload["text"]) <= 4_000
    assert lines[0] == "T · 2025-10-02" and lines[-1] == "…"
    assert all(re.fullmatch(r"\d+\. (标题){60}👍🏽", line) for line in lines[1:-1])


def test_render_items_uses_the_heading_and_names_the_digest() -> None:
    digest = digest_of(Text("one"), title="Daily AI")
    [payload] = render_items("Hardware", digest.items, digest)
    assert payload["blocks"][0]["text"]["text"] == "Hardware"
    assert payload["blocks"][1]["elements"][0]["text"] == "Daily AI · 2025-10-02"
    assert payload["text"] == "Hardware\n1. First"
    assert render_items("Nothing", [], digest)[0]["blocks"][0]["text"]["text"] == "Nothing"


def test_render_notice_is_plain_escaped_text() -> None:
    [payload] = render_notice("No digest yet for 2025-10-02 <today> *sorry*.\n\nLatest: 2025-10-01.")
    assert [block["type"] for block in payload["blocks"]] == ["section"]
    assert mrkdwn_to_plain(payload["blocks"][0]["text"]["text"]) == (
        "No digest yet for 2025-10-02 <today> *sorry*.\n\nLatest: 2025-10-01.")
    assert payload["unfurl_links"] is False
    assert render_notice("  \n ") == []


def test_a_long_notice_is_split_into_marked_parts() -> None:
    payloads = render_notice("行" * 30_000)
    assert len(payloads) >= 3
    assert_valid_payloads(payloads)
    assert squeeze("".join("".join(payload_texts(p)) for p in payloads)).count("行") == 30_000


def test_limits_that_cannot_hold_a_message_are_refused() -> None:
    with pytest.raises(ValueError):
        SlackLimits(max_section_text=10)
    with pytest.raises(ValueError):
        SlackLimits(max_block_text=3_000)


# ---------------------------------------------------------------------------------------------
# The example digests and the reference format, through the parser
# ---------------------------------------------------------------------------------------------

def _digest_files() -> list[Any]:
    return sorted(EXAMPLES.glob("*.md")) + reference_digests()


@pytest.mark.parametrize("path", _digest_files(), ids=lambda path: path.name)
def test_example_digests_render_within_limits(path: Any) -> None:
    # Imported here so that a broken parser fails these cases only, never the property tests above.
    from bot.digest.parse import parse_file

    digest = parse_file(path)
    for limits in (LIMITS, SMALL):
        payloads = render_digest(digest, limits=limits)
        assert_valid_payloads(payloads, limits)
        assert_nothing_lost(digest, payloads)


# ---------------------------------------------------------------------------------------------
# The checker the fake Slack API answers with
# ---------------------------------------------------------------------------------------------

def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.parametrize(("params", "error"), [
    ({"text": "hi", "blocks": [section("ok")]}, None),
    ({"text": "only text"}, None),
    ({}, "no_text"),
    ({"text": "", "blocks": []}, "no_text"),
    ({"text": "x", "blocks": [section("b")] * 51}, "invalid_blocks"),
    ({"text": "x", "blocks": [section("s" * 3_001)]}, "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]},
     "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}]}, "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}]},
     "invalid_blocks"),
    ({"text": "x", "blocks": [section("")]}, "invalid_blocks"),
    ({"text": "x", "blocks": [{**section("b"), "colour": "red"}]}, "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "no_such_block"}]}, "invalid_blocks"),
    ({"text": "x", "blocks": "[not json"}, "invalid_blocks"),
    ({"text": "x", "blocks": [section("s" * 3_000)] * 4}, None),
    ({"text": "x", "blocks": [section("s" * 2_500)] * 5}, "msg_blocks_too_long"),
    ({"text": "t" * 40_001}, "msg_too_long"),
])
def test_checker_answers_like_slack(params: dict[str, Any], error: str | None) -> None:
    assert check_post_message(params) == error


def test_checker_accepts_blocks_sent_as_a_json_string() -> None:
    payload = render_digest(digest_of(Text("x")))[0]
    assert check_post_message({**payload, "blocks": json.dumps(payload["blocks"])}) is None


def test_reader_model_keeps_literal_markers_and_drops_real_ones() -> None:
    assert mrkdwn_to_plain("*bold* _it_ ~gone~ `code` &lt;&amp;&gt;") == "bold it gone code <&>"
    assert mrkdwn_to_plain("中*粗体*文 snake_case 2 * 3") == "中*粗体*文 snake_case 2 * 3"
    assert mrkdwn_links("see <https://a.example/?x=1&amp;y=2|A &amp; B> and <https://b.example>") == [
        ("https://a.example/?x=1&y=2", "A & B"), ("https://b.example", "https://b.example")]
    assert live_mentions("hi <!here> and <@U1> but &lt;!channel&gt;") == ["<!here>", "<@U1>"]


def test_only_followable_schemes_become_links() -> None:
    from bot.digest.model import Digest, Item, Link, Text

    item = Item(1, "Title", "javascript:alert(1)",
                ((Text("see "), Link("data:text/html,hi", (Text("x"),)), Text(" and "),
                  Link("https://ok.example.com/a", (Text("y"),))),))
    digest = Digest("t", dt.date(2025, 10, 1), None, (), (), (item,))
    sections = [block["text"]["text"] for payload in render_digest(digest) for block in payload["blocks"]
                if block["type"] == "section"]
    shown = "\n".join(sections)
    assert "<javascript:" not in shown and "<data:" not in shown
    assert "Title (javascript:alert(1))" in shown and "x (data:text/html,hi)" in shown
    assert "<https://ok.example.com/a|y>" in shown
