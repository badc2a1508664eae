"""Feishu, WeCom and DingTalk renderers: every body within its byte limit as sent (ensure_ascii=False),
Chinese- and emoji-heavy digests included, no text lost, order kept, only each platform's markup."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digest.model import Bold, Code, Digest, Inline, Italic, Item, Link, Text
from bot.digest.parse import parse_digest
from bot.platforms.dingtalk import markdown as dingtalk
from bot.platforms.feishu import card as feishu
from bot.platforms.feishu.limits import LIMITS as FEISHU
from bot.platforms.feishu.signing import signed_body
from bot.platforms.robot_markdown import FENCED, LINK, ZWSP, unplain
from bot.platforms.webhook import wire_size
from bot.platforms.wecom import markdown as wecom
from bot.platforms.wecom.text import text_messages
from tests.test_sources import digest_text

PROPERTY = settings(max_examples=15, deadline=None)
TOKENS = ["人工智能", "模型发布了新的版本", "芯片", "。", "，", "！", "🚀", "👨‍👩‍👧‍👦", "🇨🇳", "😀😀", "word", " ", " ",
          "AI", "*", "**", "_", "`", "[", "]", "(", ")", "#", ">", "<", "&", "|", "~", "\\", '"', "né\u0301",
          ". ", "1. "]
_MARKER = re.compile(r"^\(\d+/\d+\)\n")
_LINK = LINK


def chinese_items(count: int) -> list[tuple[str, str, str]]:
    """Items whose summaries are long Chinese paragraphs with emoji: several messages on every robot."""
    sentence = "这一段新闻讲述了**大模型**在手机芯片上运行的进展 🚀，以及开发者如何使用新的工具包。"
    return [(f"第{number}条：芯片与模型", f"https://news.example.com/zh/{number}", sentence * 12)
            for number in range(1, count + 1)]


words = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12).map("".join)


def long_words(most: int) -> st.SearchStrategy[str]:
    return st.tuples(words, st.integers(1, most)).map(lambda pair: pair[0] * pair[1])


@st.composite
def inline(draw: st.DrawFn, most: int) -> Inline:
    kind = draw(st.sampled_from(["text", "text", "bold", "italic", "code", "link"]))
    text = draw(long_words(most) if kind == "text" else words)
    if kind == "bold":
        return Bold((Text(text),))
    if kind == "italic":
        return Italic((Text(text),))
    if kind == "code":
        return Code(" ".join(text.split()) or "x")
    return Link(f"https://news.example.com/{draw(st.integers(0, 999))}.html", (Text(text),))


@st.composite
def digests(draw: st.DrawFn, most: int = 25) -> Digest:
    """Digests of up to 12 items; `most` bounds how often a text repeats (its length): Feishu's
    20 KB cards need long ones to split at all."""
    paragraph = st.lists(inline(most), min_size=1, max_size=4).map(tuple)
    items = tuple(Item(number, draw(words), f"https://news.example.com/item/{number}.html",
                       tuple(draw(st.lists(paragraph, min_size=1, max_size=3))))
                  for number in range(1, draw(st.integers(1, 12)) + 1))
    return Digest(title=draw(words), date=dt.date(2025, 10, 3), published_at=None, categories=(),
                  intro=tuple(draw(st.lists(paragraph, max_size=2))), items=items,
                  commentary_heading=draw(words), commentary=tuple(draw(st.lists(paragraph, max_size=2))))


# A link too long for half a part is written as "label (url)" by the core's packer: both sides drop
# the test's URLs (which appear nowhere else) and parentheses.
_URL = re.compile(r"https://news\.example\.com/[a-z/]*\d+\.html")


def squeezed(text: str) -> str:
    return "".join(_URL.sub("", text).replace("(", "").replace(")", "").split())


def expected_text(layout: Any, digest: Digest) -> str:
    return squeezed(" ".join(run.text for section in layout.digest(digest) for block in section
                             for run in block.runs))


def shown_markdown(text: str, markup: tuple[str, ...]) -> str:
    """What a reader sees of one part: no marker, links as their labels, no markup, text undefused."""
    text = _LINK.sub(lambda found: found[1], _MARKER.sub("", text))
    for marker in markup:
        text = text.replace(marker, "")
    return unplain(text)


def feishu_shown(payload: dict[str, Any]) -> str:
    contents = [element["text"]["content"] for element in payload["card"]["elements"] if element["tag"] == "div"]
    text = _LINK.sub(lambda found: found[1], _MARKER.sub("", "".join(contents)))
    return html.unescape(text.replace("*", ""))


def check_subset(text: str, allowed: str) -> None:
    """Outside the renderer's own markup, every character that could start markup is fenced (or a twin)."""
    bare = _LINK.sub("", _MARKER.sub("", text)).replace("**", "")
    for marker in allowed:
        bare = bare.replace(marker, "")
    bare = re.sub(f"{ZWSP}[{re.escape(FENCED)}]{ZWSP}", "", bare)
    assert not set(bare) & set(FENCED + "`"), bare


@PROPERTY
@given(digests())
def test_wecom_messages_fit_in_bytes_and_lose_nothing(digest: Digest) -> None:
    payloads = wecom.render_digest(digest)
    for payload in payloads:
        assert set(payload) == {"msgtype", "markdown"}
        assert len(payload["markdown"]["content"].encode("utf-8")) <= 4096
        check_subset(payload["markdown"]["content"], "`")
        for message in text_messages(payload):
            assert len(message["text"]["content"].encode("utf-8")) <= 2048
    shown = "".join(shown_markdown(payload["markdown"]["content"], ("**", "`")) for payload in payloads)
    assert squeezed(shown) == expected_text(wecom.LAYOUT, digest)


def test_a_bracket_in_wecom_code_cannot_open_a_link_written_after_it() -> None:
    url = "https://news.example.com/0.html"
    item = Item(number=1, title="AI", url="https://news.example.com/item/1.html", summary=((Text("x"),),),
                categories=(), line=0)
    digest = Digest(title="AI", date=dt.date(2025, 10, 3), published_at=None, categories=(), intro=(), items=(item,),
                    commentary_heading="C",
                    commentary=((Code("["), Italic((Text("#"),)), Link(url, (Text("*"),))),))
    [payload] = wecom.render_digest(digest)
    content = payload["markdown"]["content"]
    assert "`［`" in content and [match.group(2) for match in LINK.finditer(content)][-1] == url
    shown = shown_markdown(content, ("**", "`"))
    assert squeezed(shown) == expected_text(wecom.LAYOUT, digest)


@PROPERTY
@given(digests(most=150))
def test_dingtalk_bodies_fit_in_bytes_as_sent_and_lose_nothing(digest: Digest) -> None:
    payloads = dingtalk.render_digest(digest)
    for payload in payloads:
        assert wire_size(payload) <= 20_000
        assert len(payload["markdown"]["title"]) <= 64
        check_subset(payload["markdown"]["text"], "*")
    shown = "".join(shown_markdown(payload["markdown"]["text"], ("*",)) for payload in payloads)
    # Italic markers are single stars, like a star of the text: stars are left out on both sides.
    assert squeezed(shown) == expected_text(dingtalk.LAYOUT, digest).replace("*", "")


@PROPERTY
@given(digests(most=150))
def test_feishu_cards_fit_in_bytes_as_sent_signed_and_lose_nothing(digest: Digest) -> None:
    payloads = feishu.render_digest(digest)
    for payload in payloads:
        assert wire_size(signed_body(payload, "a-signing-secret", 1_700_000_000)) <= FEISHU.max_body_bytes
        assert wire_size(payload["card"]) <= FEISHU.max_card_bytes
        assert payload["card"]["elements"][-1]["tag"] == "note"
    shown = "".join(feishu_shown(payload) for payload in payloads)
    assert squeezed(shown) == expected_text(feishu.LAYOUT, digest)


@pytest.mark.parametrize("render, size", [
    (wecom.render_digest, lambda payload: len(payload["markdown"]["content"].encode())),
    (dingtalk.render_digest, wire_size),
    (feishu.render_digest, wire_size),
])
def test_a_long_chinese_digest_fills_parts_near_their_limit(render: Callable[[Digest], list[dict[str, Any]]],
                                                             size: Callable[[dict[str, Any]], int]) -> None:
    digest = parse_digest(digest_text("2025-10-03", "周五长报", chinese_items(30)), "zh.md")
    payloads = render(digest)
    sizes = [size(payload) for payload in payloads]
    assert len(payloads) >= 3
    # Not one item a message: the packer fills each part before starting the next.
    assert min(sizes[:-1]) > 0.6 * max(sizes)
