"""The Telegram renderer, checked message by message against Telegram's own parser (tdlib)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.digest.model import Bold, Code, Digest, Inline, Italic, Item, Link, Paragraph, Text
from bot.digest.parse import parse_file
from bot.platforms.telegram import (
    LIMITS,
    TelegramLimits,
    render_digest,
    render_items,
    render_notice,
    telegram_link_url,
)
from bot.render import Payload, links
from bot.text.scripts import graphemes
from bot.text.segments import BreakLevel, break_levels, split_text
from tests.conftest import EXAMPLES, reference_digests
from tests.fakes import tdparse

PROPERTY_SETTINGS = settings(max_examples=80, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ALLOWED_TAGS = {"b", "i", "code", "a"}
MARKER = re.compile(r"\((\d+)/(\d+)\)")

# --------------------------------------------------------------------------------------------
# What a reader must get: an oracle built from the model, independent of the renderer's layout code.


def _unspaced(text: str) -> str:
    # Telegram trims each message and the renderer drops separators at cuts, so the comparison
    # of all messages against the model ignores whitespace, and nothing else. Telegram's server
    # turns control characters into spaces, so they count as whitespace too.
    return "".join(char for char in text if not char.isspace() and unicodedata.category(char) != "Cc")


def _blank(text: str) -> bool:
    # Invisible characters do not make a heading or a link label (tdlib's notion of empty text).
    return not _unspaced(text).strip("\u200b\u200c\u200d\u200e\u200f\ufeff")


@dataclass
class Expected:
    """Visible text (without whitespace) and the link targets, in reading order."""

    text: list[str]
    links: list[tuple[str, str]]
    limits: TelegramLimits = LIMITS

    def add_plain(self, text: str) -> None:
        self.text.append(_unspaced(text))

    def add_link(self, url: str, label: str) -> None:
        if telegram_link_url(url, self.limits) is not None:
            target = tdparse.normalized_link(url)
            assert target is not None, f"renderer links {url!r}, which Telegram would drop"
            shown = url if _blank(label) else label
            self.add_plain(shown)
            self.links.append((target, _unspaced(shown)))
        elif _blank(label):
            self.add_plain(url)
        else:
            self.add_plain(f"{label}({url})" if links.url_beside(label, url) else label)

    def add_paragraph(self, nodes: Paragraph) -> None:
        for node in nodes:
            if isinstance(node, Text | Code):
                self.add_plain(node.text)
            elif isinstance(node, Link):
                self.add_link(node.url, _plain(node.children))
            else:
                self.add_paragraph(node.children)


def _plain(nodes: Sequence[Inline]) -> str:
    parts: list[str] = []
    for node in nodes:
        parts.append(node.text if isinstance(node, Text | Code) else _plain(node.children))
    return "".join(parts)


def expected_digest(digest: Digest, limits: TelegramLimits = LIMITS) -> Expected:
    expected = Expected([], [], limits)
    if not _blank(digest.title):
        expected.add_plain(digest.title)
    expected.add_plain(digest.date.isoformat())
    for paragraph in digest.intro:
        expected.add_paragraph(paragraph)
    _expect_items(expected, digest.items)
    if digest.commentary_heading and not _blank(digest.commentary_heading):
        expected.add_plain(digest.commentary_heading)
    for paragraph in digest.commentary:
        expected.add_paragraph(paragraph)
    return expected


def _expect_items(expected: Expected, items: Sequence[Item]) -> None:
    for item in items:
        expected.add_plain(f"{item.number}.")
        expected.add_link(item.url, item.title)
        for paragraph in item.summary:
            expected.add_paragraph(paragraph)


# --------------------------------------------------------------------------------------------
# Checking rendered messages


@dataclass
class Message:
    payload: Payload
    parsed: tdparse.ParsedText
    # Where the reader's content starts and ends once the part marker is taken out.
    body: str
    body_start: int


def _merge_links(links: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    merged: list[tuple[str, str]] = []
    for url, label in links:
        if merged and merged[-1][0] == url:
            merged[-1] = (url, merged[-1][1] + label)
        else:
            merged.append((url, label))
    return merged


def check_messages(payloads: Sequence[Payload], expected: Expected | None = None,
                   first_line: str | None = None, limits: TelegramLimits = LIMITS,
                   whole_clusters: bool = True) -> list[Message]:
    """Every limit and rule for each message, then (given ``expected``) nothing lost, in order."""
    assert payloads, "nothing to send"
    total = len(payloads)
    messages: list[Message] = []
    for number, payload in enumerate(payloads, start=1):
        assert set(payload) == {"text", "parse_mode", "link_preview_options"}
        assert payload["parse_mode"] == "HTML"
        assert payload["link_preview_options"] == {"is_disabled": True}
        html = payload["text"]
        assert len(html.encode("utf-8")) <= limits.max_html_bytes
        tags = {tag.lower() for tag in re.findall(r"</?\s*([A-Za-z][A-Za-z0-9-]*)", html)}
        assert tags <= ALLOWED_TAGS, f"part {number}: tags {tags - ALLOWED_TAGS}"
        assert "\r" not in html
        assert tdparse.check_send_message(payload) is None, (number, tdparse.check_send_message(payload))
        parsed = tdparse.parse_html(html)
        assert len(parsed.text) <= limits.max_chars
        assert len(parsed.entities) <= limits.max_entities
        assert tdparse.entity_payload_bytes(parsed.entities) <= tdparse.MAX_ENTITY_BYTES
        our_measure = sum(limits.entity_overhead_bytes + len((entity.url or "").encode("utf-8"))
                          for entity in parsed.entities)
        assert our_measure <= limits.max_entity_bytes
        body, body_start = _without_marker(parsed.text, number, total)
        if whole_clusters:
            _check_cut_edges(body, number, total)
        messages.append(Message(payload, parsed, body, body_start))
    if first_line is not None:
        assert messages[0].body.startswith(first_line), (messages[0].body[:200], first_line[:200])
    if expected is not None:
        seen = "".join(_unspaced(message.body) for message in messages)
        wanted = "".join(expected.text)
        assert seen == wanted, _first_difference(seen, wanted)
        assert _merge_links(_links_in(messages)) == _merge_links(expected.links)
    return messages


def _without_marker(text: str, number: int, total: int) -> tuple[str, int]:
    if total == 1:
        return text, 0
    marker = f"({number}/{total})"
    if text.startswith(marker + "\n"):
        return text[len(marker) + 1:], len(marker) + 1
    assert number == 1, f"part {number} must start with {marker}: {text[:40]!r}"
    # The first message carries its marker on the date line.
    position = text.index(f" {marker}")
    return text[:position] + text[position + len(marker) + 1:], 0


def _check_cut_edges(body: str, number: int, total: int) -> None:
    """No cut between messages falls inside a grapheme cluster (checked without the renderer's helper)."""
    stripped = body.strip()
    if not stripped:
        return
    edges = []
    if number > 1:
        first = stripped[0]
        assert unicodedata.category(first) not in ("Mn", "Me", "Mc"), f"part {number} starts with a mark"
        assert first not in "\u200d\ufe0f" and not 0x1F3FB <= ord(first) <= 0x1F3FF, f"part {number} start"
        edges.append(stripped[:8])
    if number < total:
        assert stripped[-1] != "\u200d", f"part {number} ends with a ZWJ"
        edges.append(stripped[-8:][::-1])
    for edge in edges:
        run = 0
        for char in edge:
            if not 0x1F1E6 <= ord(char) <= 0x1F1FF:
                break
            run += 1
        # Flags come in pairs in the generated text; an odd run at a cut means a flag was split.
        assert run % 2 == 0 or run == len(edge), f"part {number} splits a flag"


def _links_in(messages: Sequence[Message]) -> list[tuple[str, str]]:
    """Link targets in order; a link cut across messages counts once (its pieces are merged)."""
    links: list[tuple[str, str]] = []
    for message in messages:
        for entity in message.parsed.entities:
            if entity.type == "text_link":
                assert entity.url is not None
                links.append((entity.url, _unspaced(message.parsed.entity_text(entity))))
    return links


def _first_difference(seen: str, wanted: str) -> str:
    for index, (left, right) in enumerate(zip(seen, wanted, strict=False)):
        if left != right:
            return f"differs at {index}: got {seen[index:index + 40]!r}, want {wanted[index:index + 40]!r}"
    return f"lengths differ: got {len(seen)}, want {len(wanted)}; tail {seen[-40:]!r} / {wanted[-40:]!r}"


# --------------------------------------------------------------------------------------------
# Generated digests

TOKENS = [
    "人工智能", "芯片", "模型", "发布", "。", "！", "？", "；", "，", "、", "“引号”", "「括号」", "（注）",
    "．", "｡", "…", "AI", "GPU", "Hello", "world", "e.g.", "3.14", "a.com", " ", " ", " ", "\n", ". ",
    "! ", "? ", "; ", "<", ">", "&", "&amp;", '"', "'", "*", "**", "_", "__", "`", "|", "<!channel>",
    "<!here>", "<@U123>", "<b>", "</i>", "[x](y)", "#tag", "@name", "/cmd", "👍", "👍🏽", "👨‍👩‍👧‍👦",
    "🏳️‍🌈", "👩🏽‍🔬", "🇨🇳", "🇺🇸", "🇯🇵", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "e\u0301", "n\u0303\u0323", "각",
    "\u1100\u1161\u11a8", "क्ष", "😀", "\u3000", "\u00a0", "ｆｕｌｌ", "１２３", "ß", "İ",
]

texts = st.lists(st.sampled_from(TOKENS), max_size=24).map("".join)
nonblank_texts = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12).map("".join)

url_hosts = st.sampled_from(["example.com", "news.example.cn", "a.b", "sub.domain.example.org",
                             "例子.中国", "xn--fsq.com", "1.2.3.4", "EXAMPLE.COM", "a-b_c.io"])
url_tails = st.lists(st.sampled_from(["/", "path", "?q=1", "&b=2", "<x>", '"q"', "'", "#frag", "%20",
                                      "中文", "😀", "|", "(", ")", "[a]", "~", ":", ";", "=", "+"]),
                     max_size=8).map("".join)
good_urls = st.builds(lambda scheme, host, port, tail: f"{scheme}://{host}{port}{tail}",
                      st.sampled_from(["https", "http", "HTTPS"]), url_hosts,
                      st.sampled_from(["", ":8080", ":443"]), url_tails)
odd_urls = st.sampled_from(["ftp://files.example.com/x", "javascript:alert(1)", "http://localhost/",
                            "/relative/path", "", "https://example.com/a b", "mailto:x@example.com",
                            "https://example.com:99999/", "https://" + "x" * 2100 + ".com/",
                            "https://example.com/" + "&" * 1500])
urls = st.one_of(good_urls, good_urls, good_urls, odd_urls)


def inline_nodes(depth: int = 2) -> st.SearchStrategy[Inline]:
    leaves: st.SearchStrategy[Inline] = st.one_of(st.builds(Text, texts), st.builds(Code, texts))
    if depth == 0:
        return leaves
    children = st.lists(inline_nodes(depth - 1), min_size=1, max_size=3).map(tuple)
    plain_children = st.lists(st.builds(Text, texts), min_size=1, max_size=2).map(tuple)
    return st.one_of(
        leaves, leaves,
        st.builds(Bold, children), st.builds(Italic, children),
        # Markdown never nests a link in a link; the oracle relies on that.
        st.builds(Link, urls, st.one_of(plain_children, st.lists(
            st.one_of(st.builds(Text, texts), st.builds(Bold, plain_children)), min_size=1, max_size=2).map(tuple))),
    )


paragraphs = st.lists(inline_nodes(), min_size=1, max_size=6).map(tuple)


@st.composite
def items(draw: st.DrawFn, count: int) -> tuple[Item, ...]:
    return tuple(
        Item(number, draw(texts), draw(urls), tuple(draw(st.lists(paragraphs, max_size=3))))
        for number in range(1, count + 1)
    )


@st.composite
def digests(draw: st.DrawFn, max_items: int = 12) -> Digest:
    count = draw(st.integers(0, max_items))
    return Digest(
        title=draw(texts),
        date=draw(st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))),
        published_at=None,
        categories=(),
        intro=tuple(draw(st.lists(paragraphs, max_size=2))),
        items=draw(items(count)),
        commentary_heading=draw(st.one_of(st.none(), texts)),
        commentary=tuple(draw(st.lists(paragraphs, max_size=2))),
    )


GIANT_KINDS = ["sentences", "one_sentence_cjk", "one_sentence_words", "emoji_run", "bold_span",
               "link_label", "many_bold_spans", "code_span"]


def giant_paragraph(kind: str, seed: str, url: str) -> Paragraph:
    """More than 10,000 characters of one kind of trouble."""
    seed = seed or "字"
    if kind == "sentences":
        return (Text((seed + "这是一个句子。Another one! ") * (11000 // (len(seed) + 17) + 1)),)
    if kind == "one_sentence_cjk":
        return (Text("长" * 10500 + seed),)
    if kind == "one_sentence_words":
        return (Text("word " * 2100 + seed),)
    if kind == "emoji_run":
        return (Text("👨‍👩‍👧‍👦🇨🇳👍🏽🏳️‍🌈" * 1000),)
    if kind == "bold_span":
        return (Bold((Text("粗体文字" * 2600 + seed),)),)
    if kind == "link_label":
        return (Link(url, (Text("链接文字 " * 2100),)),)
    if kind == "code_span":
        return (Code("x<y & z " * 1400),)
    return tuple(node for _ in range(800) for node in (Bold((Text("b"),)), Text(" and "), Italic((Text(seed),))))


@st.composite
def digests_with_giant_item(draw: st.DrawFn) -> tuple[Digest, str]:
    digest = draw(digests(max_items=4))
    kind = draw(st.sampled_from(GIANT_KINDS))
    paragraph = giant_paragraph(kind, draw(texts), draw(good_urls))
    position = draw(st.integers(0, len(digest.items)))
    giant = Item(0, draw(texts), draw(urls), (*draw(st.lists(paragraphs, max_size=1)), paragraph))
    listed = [*digest.items[:position], giant, *digest.items[position:]]
    renumbered = tuple(Item(index, item.title, item.url, item.summary) for index, item in enumerate(listed, 1))
    return Digest(digest.title, digest.date, None, (), digest.intro, renumbered, digest.commentary_heading,
                  digest.commentary), kind


@st.composite
def digests_with_hundreds_of_items(draw: st.DrawFn) -> Digest:
    digest = draw(digests(max_items=6))
    pattern = digest.items or draw(items(3))
    count = draw(st.integers(100, 400))
    repeated = tuple(Item(number, pattern[number % len(pattern)].title, pattern[number % len(pattern)].url,
                          pattern[number % len(pattern)].summary) for number in range(1, count + 1))
    return Digest(digest.title, digest.date, None, (), digest.intro, repeated, digest.commentary_heading,
                  digest.commentary)


def _first_line(digest: Digest) -> str:
    return (f"{digest.title}\n" if not _blank(digest.title) else "") + digest.date.isoformat()


# --------------------------------------------------------------------------------------------
# Properties


@PROPERTY_SETTINGS
@given(digests())
def test_every_digest_renders_into_messages_telegram_accepts_losing_nothing(digest: Digest) -> None:
    payloads = render_digest(digest)
    short_title = len(digest.title) < 1000
    check_messages(payloads, expected_digest(digest), _first_line(digest) if short_title else None)


@st.composite
def small_limits(draw: st.DrawFn) -> TelegramLimits:
    """Tight budgets, so that small digests exercise every kind of cut; each still fits one
    grapheme inside bold, italic, code and a link of the longest URL allowed."""
    url_bytes = draw(st.integers(30, 200))
    return TelegramLimits(
        max_chars=draw(st.integers(40, 600)),
        max_entities=draw(st.integers(4, 12)),
        max_entity_bytes=4 * 20 + url_bytes + draw(st.integers(0, 600)),
        entity_overhead_bytes=20,
        max_html_bytes=6 * url_bytes + 200 + draw(st.integers(0, 3000)),
        max_link_url_bytes=url_bytes,
    )


@settings(PROPERTY_SETTINGS, max_examples=80)
@given(digests(), small_limits())
def test_tight_limits_force_every_kind_of_cut_and_still_lose_nothing(digest: Digest, limits: TelegramLimits) -> None:
    payloads = render_digest(digest, limits=limits)
    check_messages(payloads, expected_digest(digest, limits), limits=limits)
    heading = "分类 Category"
    expected = Expected([], [], limits)
    expected.add_plain(heading)
    _expect_items(expected, digest.items)
    check_messages(render_items(heading, digest.items, digest, limits=limits), expected, limits=limits)


def test_more_than_999_messages_are_numbered_with_room_for_the_digits() -> None:
    limits = TelegramLimits(max_chars=40)
    digest = _digest([Item(1, "Long", "https://example.com/", ((Text("字" * 30_000),),))])
    messages = check_messages(render_digest(digest, limits=limits), expected_digest(digest, limits), limits=limits)
    total = len(messages)
    assert total > 999
    assert messages[-1].parsed.text.startswith(f"({total}/{total})\n")


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(digests_with_giant_item())
def test_a_giant_item_is_spread_over_several_messages(case: tuple[Digest, str]) -> None:
    digest, kind = case
    event(f"giant paragraph: {kind}")
    payloads = render_digest(digest)
    assert len(payloads) >= 3
    check_messages(payloads, expected_digest(digest), _first_line(digest) if len(digest.title) < 1000 else None)


@settings(PROPERTY_SETTINGS, max_examples=20)
@given(digests_with_hundreds_of_items())
def test_hundreds_of_items(digest: Digest) -> None:
    payloads = render_digest(digest)
    check_messages(payloads, expected_digest(digest))


@settings(PROPERTY_SETTINGS, max_examples=40)
@given(st.text(max_size=30), st.integers(1, 60))
def test_render_items_is_checked_like_a_digest(heading: str, copies: int) -> None:
    digest_items = tuple(Item(number, f"标题 {number} <&>", f"https://example.com/{number}",
                              ((Text("摘要。" * 30), Bold((Text("重点"),))),)) for number in range(1, copies + 1))
    digest = Digest("T", dt.date(2025, 10, 1), None, (), (), digest_items)
    expected = Expected([], [])
    if not _blank(heading):
        expected.add_plain(heading)
    _expect_items(expected, digest_items)
    check_messages(render_items(heading, digest_items, digest), expected)


@PROPERTY_SETTINGS
@given(st.text(min_size=1, max_size=9000, alphabet=st.characters(
    blacklist_categories=("Cs", "Cc", "Zl", "Zp"),
    # Lone regional indicators pair up arbitrarily; the cut-edge check assumes whole flags.
    blacklist_characters="".join(chr(code) for code in range(0x1F1E6, 0x1F200))))
       | st.lists(st.sampled_from(TOKENS), min_size=1, max_size=3000).map("".join))
def test_notices_are_plain_escaped_text(text: str) -> None:
    payloads = render_notice(text)
    if _blank(text):
        assert payloads == []
        return
    messages = check_messages(payloads)
    assert all(not message.parsed.entities for message in messages)
    # Bidi embedding controls are the one thing Telegram's server removes from text.
    assert "".join(_unspaced(message.body) for message in messages) == _unspaced(
        text.translate({code: None for code in range(0x202A, 0x202F)}))


@settings(max_examples=150, deadline=None)
@given(st.one_of(urls, st.text(max_size=40), st.builds(lambda host, tail: f"https://{host}{tail}",
                                                         st.text(min_size=1, max_size=12), st.text(max_size=12))))
def test_every_url_the_renderer_links_is_one_telegram_keeps(url: str) -> None:
    if telegram_link_url(url) is not None:
        assert tdparse.normalized_link(url) is not None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=80).map("".join))
def test_split_points_never_cut_a_grapheme_and_lose_nothing(text: str) -> None:
    pieces = split_text(text, 7)
    assert "".join(pieces) == text
    boundaries = set(_cluster_starts(text))
    position = 0
    for piece in pieces:
        assert position in boundaries or position == 0
        position += len(piece)
        assert len(piece) <= 7 or len(list(graphemes(piece))) == 1


def _cluster_starts(text: str) -> list[int]:
    starts, position = [], 0
    for cluster in graphemes(text):
        starts.append(position)
        position += len(cluster)
    starts.append(position)
    return starts


# --------------------------------------------------------------------------------------------
# Examples


def _digest(items_: Sequence[Item] = (), **fields: object) -> Digest:
    values: dict[str, object] = {"title": "2025.10.01 测试日报", "date": dt.date(2025, 10, 1), "published_at": None,
                                 "categories": (), "intro": ((Text("今天的导语。"),),), "items": tuple(items_),
                                 "commentary_heading": "点评", "commentary": ((Text("结语。"),),)}
    values.update(fields)
    return Digest(**values)  # type: ignore[arg-type]


def test_graphemes_keep_emoji_sequences_flags_and_marks_whole() -> None:
    sample = "👨‍👩‍👧‍👦🇨🇳🇺🇸👍🏽e\u0301각\u1100\u1161\u11a8🏴󠁧󠁢󠁳󠁣󠁴󠁿क्षx"
    assert list(graphemes(sample)) == ["👨‍👩‍👧‍👦", "🇨🇳", "🇺🇸", "👍🏽", "e\u0301", "각",
                                       "\u1100\u1161\u11a8", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "क्ष", "x"]


def test_break_levels_prefer_sentences_in_chinese_and_english() -> None:
    text = "第一句。第二句！Then English. e.g. 3.14 stays\n下一行"
    levels = break_levels(text)
    sentence_cuts = [index for index, level in enumerate(levels) if level == BreakLevel.SENTENCE]
    assert [text[index:index + 3] for index in sentence_cuts] == ["第二句", "The", "e.g", "3.1", "下一行"]
    assert levels[text.index("14")] == BreakLevel.GRAPHEME
    numbered = "1. 标题 and 2. more, non\u00a0breaking"
    numbered_levels = break_levels(numbered)
    assert BreakLevel.SENTENCE not in numbered_levels
    assert numbered_levels[numbered.index("breaking")] == BreakLevel.GRAPHEME


def test_a_bold_span_cut_across_messages_is_closed_and_reopened() -> None:
    bold_text = "加粗的长段落没有任何标点" * 900
    digest = _digest([Item(1, "Only item", "https://example.com/1", ((Text("前言 "), Bold((Text(bold_text),))),))])
    payloads = render_digest(digest)
    messages = check_messages(payloads, expected_digest(digest), _first_line(digest))
    assert len(messages) >= 3
    bold_pieces: list[str] = []
    for message in messages:
        html = message.payload["text"]
        assert html.count("<b>") == html.count("</b>")
        bold_pieces += [message.parsed.entity_text(entity) for entity in message.parsed.entities
                        if entity.type == "bold" and message.parsed.entity_text(entity) not in (digest.title, "点评")]
    middles = [message for message in messages[1:-1] if "前言" not in message.body]
    assert middles
    for middle in middles:
        # A message inside the span is bold from its first character after the marker to its end.
        (entity,) = [entity for entity in middle.parsed.entities if entity.type == "bold"]
        start, end = middle.parsed.entity_span(entity)
        assert start == middle.body_start
        assert middle.parsed.text[end:].strip() == ""
        assert middle.payload["text"].endswith("</b>")
    assert "".join(bold_pieces) == bold_text


def test_part_markers_number_every_message_once_the_total_is_known() -> None:
    summary = ((Text("这一段用来把消息撑满。" * 160),),)
    digest = _digest([Item(number, f"条目 {number}", f"https://example.com/{number}", summary)
                      for number in range(1, 6)])
    payloads = render_digest(digest)
    messages = check_messages(payloads, expected_digest(digest), _first_line(digest))
    total = len(messages)
    assert total >= 3
    assert messages[0].parsed.text.startswith(f"{digest.title}\n2025-10-01 (1/{total})\n")
    for number, message in enumerate(messages[1:], start=2):
        assert message.parsed.text.startswith(f"({number}/{total})\n")
        assert message.parsed.text.count(f"/{total})") == 1


def test_a_short_digest_is_one_message_without_marker_and_with_previews_off() -> None:
    title, url = "标题 <one> & \"two\"", "https://example.com/a?x=1&y=<2>"
    digest = _digest([Item(1, title, url, ((Text("摘要 **不是粗体**"),),))])
    (payload,) = render_digest(digest)
    assert payload["link_preview_options"] == {"is_disabled": True}
    messages = check_messages([payload], expected_digest(digest), _first_line(digest))
    text = messages[0].parsed.text
    assert not MARKER.search(text)
    assert text.startswith("2025.10.01 测试日报\n2025-10-01\n\n今天的导语。\n\n1. 标题 <one> & \"two\"\n")
    bold, link = [entity for entity in messages[0].parsed.entities if entity.type in ("bold", "text_link")][:2]
    assert (bold.type, messages[0].parsed.entity_text(bold)) == ("bold", "2025.10.01 测试日报")
    assert (link.url, messages[0].parsed.entity_text(link)) == (url, title)
    assert "**不是粗体**" in text


def test_summary_formatting_is_kept() -> None:
    summary = ((Text("普通 "), Bold((Text("粗"),)), Text(" "), Italic((Text("斜"),)), Text(" "), Code("x<y"),
                Text(" "), Link("https://example.org/in", (Text("内链"),))),)
    digest = _digest([Item(1, "T", "https://example.com/", summary)])
    (message,) = check_messages(render_digest(digest), expected_digest(digest))
    kinds = {(entity.type, message.parsed.entity_text(entity)) for entity in message.parsed.entities}
    assert {("bold", "粗"), ("italic", "斜"), ("code", "x<y"), ("text_link", "内链"), ("text_link", "T")} <= kinds


def test_unusable_urls_are_shown_as_text_and_blank_labels_become_the_url() -> None:
    digest = _digest([
        Item(1, "FTP mirror", "ftp://files.example.com/x", ()),
        Item(2, "   ", "https://example.com/blank", ()),
        Item(3, "Local", "http://localhost:8080/", ()),
    ])
    (message,) = check_messages(render_digest(digest), expected_digest(digest))
    assert "1. FTP mirror (ftp://files.example.com/x)" in message.parsed.text
    links = [(entity.url, message.parsed.entity_text(entity)) for entity in message.parsed.entities
             if entity.type == "text_link"]
    assert links == [("https://example.com/blank", "https://example.com/blank")]


def test_item_headings_are_never_left_alone_at_the_end_of_a_message() -> None:
    # Each item is too long for one message, so it must be broken up, but never after its heading.
    paragraph = (Text("每段摘要都很长，占满大半条消息。" * 150),)
    digest = _digest([Item(number, f"Heading {number}", f"https://example.com/{number}", (paragraph, paragraph))
                      for number in range(1, 6)])
    messages = check_messages(render_digest(digest), expected_digest(digest), _first_line(digest))
    assert len(messages) >= 4
    for message in messages:
        last_line = message.parsed.text.rstrip().rsplit("\n", 1)[-1]
        assert not re.fullmatch(r"\d+\. Heading \d+", last_line), last_line


def test_a_giant_title_is_split_and_the_first_message_carries_its_marker_in_front() -> None:
    title = "超长标题没有标点" * 700
    digest = _digest([Item(1, "One", "https://example.com/1", ())], title=title)
    messages = check_messages(render_digest(digest), expected_digest(digest))
    total = len(messages)
    assert total >= 2
    assert messages[0].parsed.text.startswith(f"(1/{total})\n超长标题")
    first_bold = messages[0].parsed.entities[0]
    assert first_bold.type == "bold" and messages[0].parsed.entity_span(first_bold)[0] == messages[0].body_start


def test_a_giant_link_title_is_one_link_cut_in_pieces() -> None:
    label = "very long headline words " * 400
    digest = _digest([Item(1, label, "https://example.com/long?x=1&y=2", ((Text("摘要。"),),))])
    messages = check_messages(render_digest(digest), expected_digest(digest))
    assert len(messages) >= 3
    pieces = [(entity.url, message.parsed.entity_text(entity)) for message in messages
              for entity in message.parsed.entities if entity.type == "text_link"]
    assert {url for url, _text in pieces} == {"https://example.com/long?x=1&y=2"}
    assert _unspaced("".join(text for _url, text in pieces)) == _unspaced(label)


def test_a_grapheme_cluster_longer_than_a_message_is_cut_rather_than_lost() -> None:
    monster = "e" + "\u0301" * 9000
    summary = ((Text("前面。"), Bold((Text(monster),)), Text("后面。")),)
    digest = _digest([Item(1, "Zalgo", "https://example.com/", summary)])
    messages = check_messages(render_digest(digest), expected_digest(digest), whole_clusters=False)
    assert len(messages) >= 3


def test_control_characters_are_cleaned_the_way_telegram_would() -> None:
    digest = _digest([Item(1, "tab\there", "https://example.com/", ((Text("a\x00b\r\nc\u2028d\u202ee"),),))])
    (message,) = check_messages(render_digest(digest))
    assert "1. tab here\na b\nc\nde" in message.parsed.text


def test_many_small_entities_split_by_entity_count() -> None:
    paragraph = tuple(node for index in range(450) for node in (Bold((Text(f"b{index}"),)), Text(" ")))
    digest = _digest([Item(1, "Entities", "https://example.com/", (paragraph,))])
    messages = check_messages(render_digest(digest), expected_digest(digest))
    assert len(messages) >= 5
    assert max(len(message.parsed.entities) for message in messages) == LIMITS.max_entities


def test_long_hrefs_split_by_entity_payload_and_html_size() -> None:
    heavy = [Item(number, f"L{number}", f"https://example.com/{number}?" + "&" * 1900, ()) for number in range(1, 30)]
    digest = _digest(heavy)
    messages = check_messages(render_digest(digest), expected_digest(digest))
    assert len(messages) >= 7
    assert all(len(message.payload["text"].encode()) <= LIMITS.max_html_bytes for message in messages)


def test_render_items_and_notice_examples() -> None:
    digest = _digest([Item(number, f"Item {number}", f"https://example.com/{number}", ((Text("Summary."),),))
                      for number in range(1, 4)])
    (payload,) = render_items("硬件 Hardware", digest.items[1:], digest)
    (message,) = check_messages([payload])
    assert message.parsed.text == "硬件 Hardware\n\n2. Item 2\nSummary.\n\n3. Item 3\nSummary."
    assert message.parsed.entities[0].type == "bold"
    assert render_notice("  \n ") == []
    (notice,) = render_notice("没有 2025-10-01 的日报 <yet> & *soon*")
    assert notice == {"text": "没有 2025-10-01 的日报 &lt;yet&gt; &amp; *soon*", "parse_mode": "HTML",
                      "link_preview_options": {"is_disabled": True}}
    long_notice = render_notice("句子。" * 3000)
    check_messages(long_notice)
    assert len(long_notice) == 3


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.md")) + reference_digests(), ids=lambda path: path.name)
def test_example_and_reference_digests(path: Path) -> None:
    digest = parse_file(path)
    check_messages(render_digest(digest), expected_digest(digest), _first_line(digest))


def test_the_tdlib_helper_answers_like_telegram() -> None:
    check = tdparse.check_send_message
    assert check({"text": "<b>x<br></b>", "parse_mode": "HTML"}) == (
        'Bad Request: can\'t parse entities: Unsupported start tag "br" at byte offset 4')
    with pytest.raises(tdparse.TelegramParseError) as refused:
        tdparse.parse_html("<b>unclosed")
    assert refused.value.message.startswith("Can't parse entities:")
    assert check({"text": ""}) == tdparse.ERROR_EMPTY
    assert check({"text": "<b> </b>\n", "parse_mode": "HTML"}) == tdparse.ERROR_EMPTY
    assert check({"text": "字" * 4096}) is None
    assert check({"text": "字" * 4097}) == tdparse.ERROR_TOO_LONG
    # Code points, not UTF-16 units: 4096 emoji are 8192 UTF-16 units and still fit.
    assert check({"text": "😀" * 4096}) is None
    assert check({"text": "<b>a</b> " * 100, "parse_mode": "HTML"}) is None
    assert check({"text": "<b>a</b> " * 101, "parse_mode": "HTML"}) == tdparse.ERROR_TOO_MANY_ENTITIES
    long_link = '<a href="https://example.com/' + "x" * 1000 + '">a</a> '
    assert check({"text": long_link * 10, "parse_mode": "HTML"}) == tdparse.ERROR_ENTITIES_TOO_LONG
    parsed = tdparse.parse_html('😀<b>粗👍🏽</b> <a href="https://example.com">x</a>')
    bold, link = parsed.entities
    assert (bold.type, bold.offset, bold.length) == ("bold", 2, 5)
    assert parsed.entity_text(bold) == "粗👍🏽" and parsed.entity_span(bold) == (1, 4)
    assert link.to_bot_api() == {"type": "text_link", "offset": 8, "length": 1, "url": "https://example.com/"}
