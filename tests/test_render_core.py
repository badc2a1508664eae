"""The shared rendering core on its own: the generic packer, part markers, the ellipsis cutter, styled runs."""

from __future__ import annotations

import re

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digest.model import Bold, Code, Italic, Link, Text
from bot.render import links
from bot.render.ellipsis import shorten
from bot.render.markup import write
from bot.render.measure import Limit, chars, utf8_bytes, utf16_units
from bot.render.packing import Block, pack
from bot.render.parts import marker_room, number_parts, part_marker
from bot.render.runs import Run, flatten, link_or_text

PROPERTY = settings(max_examples=120, deadline=None)

# No proper piece of a multi-code-point cluster here is a cluster of the pool on its own, so a part
# holding a cluster that is not in the pool proves a cut inside one.
TOKENS = ["中文", "模型发布", "word", "Ünïcödé", "👨‍👩‍👧‍👦", "🇨🇳", "ทำ", "क्ष", "한국어", "né\u0301",
          " ", " ", ". ", "。", "！", "，", "\n"]
_MARKUP_CHARS = re.compile(r"\*\*|[_`]")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
_MARKER = re.compile(r"\A\(\d+/\d+\)\n")
_FALLBACK_URL = re.compile(r"\(https://news\.example\.com/\d+\)")


class MarkdownLike:
    """A Discord-like writer: **bold**, _italic_, `code`, [label](url). Test text has no markup characters."""

    def text(self, text: str) -> str:
        return text

    def code(self, text: str) -> str:
        return f"`{text}`"

    def link(self, label: str, url: str) -> str:
        return f"[{label}]({url})"

    def style(self, inner: str, bold: bool, italic: bool) -> str:
        marker = ("**" if bold else "") + ("_" if italic else "")
        return f"{marker}{inner}{marker[::-1]}"


MARKUP = MarkdownLike()
words = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=10).map("".join)


@st.composite
def runs(draw: st.DrawFn) -> Run:
    kind = draw(st.sampled_from(["text", "text", "text", "code", "link"]))
    text = draw(words)
    if kind != "text":
        # Platforms give a blank link label its URL and never write blank code.
        text = " ".join(text.split()) or "x"
    url = f"https://news.example.com/{draw(st.integers(0, 999))}" if kind == "link" else ""
    return Run(kind, text, draw(st.booleans()), draw(st.booleans()), url)


blocks = st.builds(Block, st.lists(runs(), min_size=1, max_size=12), st.sampled_from(["\n\n", "\n"]))
sections = st.lists(st.lists(blocks, min_size=1, max_size=4), min_size=1, max_size=6)


def visible(part: str) -> str:
    """What a reader sees of a part: marker, markup and link targets gone."""
    part = _MARKER.sub("", part)
    return _MARKUP_CHARS.sub("", _LINK.sub(lambda match: match.group(1), part))


def squeezed(text: str) -> str:
    return "".join(text.split())


@PROPERTY
@given(sections, st.integers(60, 400), st.integers(120, 900))
def test_every_part_fits_in_chars_and_bytes_and_nothing_is_lost(
        sections: list[list[Block]], max_chars: int, max_bytes: int) -> None:
    parts = pack(sections, MARKUP, [Limit(chars, max_chars), Limit(utf8_bytes, max_bytes)])
    for part in parts:
        assert len(part) <= max_chars
        assert len(part.encode("utf-8")) <= max_bytes
    expected = "".join(run.text for blocks in sections for block in blocks for run in block.runs)
    # Whitespace at a cut may move or go with the separator it replaces; every other character stays, in
    # order. A link too big for half a part reads "label (url)".
    shown = _FALLBACK_URL.sub("", squeezed("".join(visible(part) for part in parts)))
    assert shown == squeezed(expected)


@PROPERTY
@given(sections, st.integers(60, 300))
def test_no_part_breaks_a_grapheme_cluster_a_link_or_a_span(sections: list[list[Block]], max_bytes: int) -> None:
    parts = pack(sections, MARKUP, [Limit(utf8_bytes, max_bytes)])
    pool = {cluster for token in TOKENS for cluster in regex.findall(r"\X", token)} | set("`*_[]()/:.0123456789")
    labels = {(run.text, run.url) for blocks in sections for block in blocks for run in block.runs
              if run.kind == "link"}
    for part in parts:
        body = _MARKER.sub("", part)
        for match in _LINK.finditer(body):
            assert (match.group(1), match.group(2)) in labels
        without_links = _LINK.sub("", body)
        assert "[" not in without_links and "](" not in without_links
        assert without_links.count("`") % 2 == 0
        assert without_links.count("**") % 2 == 0
        for cluster in regex.findall(r"\X", visible(part)):
            assert cluster in pool or cluster.isspace() or cluster.isascii()


@PROPERTY
@given(sections)
def test_parts_are_numbered_once_the_total_is_known(sections: list[list[Block]]) -> None:
    parts = pack(sections, MARKUP, [Limit(utf16_units, 80)])
    if len(parts) > 1:
        assert [part.split("\n", 1)[0] for part in parts] == [part_marker(k, len(parts)) for k in
                                                              range(1, len(parts) + 1)]
    else:
        assert not _MARKER.match(parts[0]) if parts else True


def test_a_paragraph_longer_than_a_wecom_message_is_cut_at_sentences_within_4096_bytes() -> None:
    sentence = "某公司发布了新一代推理芯片，能效提升**显著**。"
    paragraph = [Run("text", sentence * 120), Run("link", "更新日志", url="https://docs.example.com/1")]
    parts = pack([[Block(paragraph)]], MARKUP, [Limit(utf8_bytes, 4096)])
    assert len(parts) > 1
    for number, part in enumerate(parts, start=1):
        assert len(part.encode("utf-8")) <= 4096
        assert part.startswith(f"({number}/{len(parts)})\n")
    # Each part but the last ends where a sentence ends.
    assert all(_MARKER.sub("", part).endswith("。") for part in parts[:-1])
    assert parts[-1].endswith("[更新日志](https://docs.example.com/1)")


def test_sections_stay_together_when_they_fit_a_part() -> None:
    item = [Block([Run("text", "1. ", bold=True), Run("link", "Title", True, url="https://a.example/x")]),
            Block([Run("text", "Summary sentence. " * 3)], "\n")]
    parts = pack([item, item, item], MARKUP, [Limit(chars, 150)])
    assert all(part.count("**1. ") == part.count("Summary sentence. Summary") for part in parts)
    assert len(parts) == 3


def test_a_link_too_long_for_half_a_part_is_shown_as_label_and_url() -> None:
    url = "https://example.com/" + "x" * 100
    parts = pack([[Block([Run("link", "label", url=url)])]], MARKUP, [Limit(chars, 120)])
    assert "".join(_MARKER.sub("", part) for part in parts).replace("\n", "") == links.as_text("label", url)


def test_a_budget_without_room_for_the_marker_is_refused() -> None:
    with pytest.raises(ValueError):
        pack([[Block([Run("text", "x")])]], MARKUP, [Limit(chars, 5)])


def test_styled_spans_keep_edge_whitespace_outside_and_share_one_span() -> None:
    runs = [Run("text", " bold ", bold=True), Run("code", "x", bold=True), Run("text", " plain")]
    assert write(runs, MARKUP) == " **bold `x`** plain"


def test_number_parts_repacks_when_the_count_needs_more_digits() -> None:
    reserved: list[int] = []

    def pack_with(digits: int) -> list[int]:
        reserved.append(digits)
        return list(range(1000 if digits < 4 else 999))

    assert len(number_parts(pack_with)) == 999
    assert reserved == [3, 4]
    assert marker_room(3) == len(" (999/999)")
    assert marker_room(6, " · ") == len(" · (999999/999999)")


@pytest.mark.parametrize(("text", "limit", "at_breaks", "expected"), [
    ("short", 10, False, "short"),
    ("one two three", 9, False, "one two…"),
    ("One. Two three", 12, True, "One.…"),
    ("👨‍👩‍👧‍👦👨‍👩‍👧‍👦", 10, False, "👨‍👩‍👧‍👦…"),
    ("👨‍👩‍👧‍👦👨‍👩‍👧‍👦", 5, False, "…"),
    ("👨‍👩‍👧‍👦👨‍👩‍👧‍👦", 5, True, "👨‍👩‍👧‍👦…"),
])
def test_shorten_cuts_at_a_cluster_or_a_break(text: str, limit: int, at_breaks: bool, expected: str) -> None:
    assert shorten(text, limit, at_breaks=at_breaks) == expected


@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join), st.integers(3, 60))
def test_shorten_stays_within_bytes_and_cuts_between_clusters(text: str, limit: int) -> None:
    short = shorten(text, limit, utf8_bytes)
    assert utf8_bytes(short) <= limit or short == text
    kept = short.removesuffix("…") if short != text else short
    assert text.startswith(kept)
    assert regex.findall(r"\X", kept) == regex.findall(r"\X", text)[:len(regex.findall(r"\X", kept))]


def test_flatten_gives_one_run_per_styled_piece_and_links_by_the_policy() -> None:
    paragraph = (Text("a "), Bold((Text("b "), Italic((Code("c"),)))),
                 Link("https://x.example/1", (Text("x"),)), Link("javascript:alert(1)", (Text("bad"),)))

    def link(url: str, label: str, bold: bool, italic: bool) -> list[Run]:
        return link_or_text(url, label, bold, italic, links.SLACK)

    assert flatten(paragraph, link) == [
        Run("text", "a "), Run("text", "b ", bold=True), Run("code", "c", True, True),
        Run("link", "x", url="https://x.example/1"), Run("text", "bad (javascript:alert(1))")]
