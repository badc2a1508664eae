"""Every renderer cuts only between grapheme clusters (regex's \\X) and keeps every cluster, in order.

The oracle lays the digest out as blocks of reader text (paragraphs, headings), straight from the
model, and splits each into \\X clusters. The payloads, checked valid by Telegram's own parser and
slack-sdk's models, are read back the way a reader sees them, message by message and section by
section, and split into clusters on their own. A cut inside a cluster would show up as clusters the
input does not have; lost text as missing ones. Whitespace is dropped from both sides (platforms
trim messages and cuts drop separators), as are the renderers' own markers: part numbers,
Slack's zero-width spaces and formatting characters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.digest.model import Bold, Code, Digest, Inline, Italic, Item, Link, Paragraph, Text, plain_text
from bot.platforms.slack import blocks as slack
from bot.platforms.telegram import html as telegram
from bot.render import links, text
from tests.fakes.slackcheck import mrkdwn_to_plain
from tests.test_render_slack import SMALL as SLACK_SMALL
from tests.test_render_slack import assert_valid_payloads
from tests.test_render_telegram import _blank, check_messages
from tests.test_splitting import HARD_TOKENS

PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
GIANT = settings(max_examples=12, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TELEGRAM_SMALL = telegram.TelegramLimits(max_chars=90, max_entities=6, max_entity_bytes=400,
                                         max_html_bytes=1_500, max_link_url_bytes=120)

# A few characters every renderer escapes, among the hard scripts.
TOKENS = [*HARD_TOKENS, "<", "&", "*", "_", "a.b", "3.14"]
URLS = ["https://example.com/a", "https://news.example.cn/中文?x=1&y=2", "http://例子.中国/ทำ",
        "https://", "https:/x", "http:///x", "https://:80", "mailto:someone@example.com", "tel:+1-555-0100",
        "javascript:alert(1)", ""]

# Without spaces or CJK a long run offers no cut but between clusters: the hardest case.
GLYPH_TOKENS = [token for token in HARD_TOKENS
                if not any(char.isspace() or "\u3000" <= char <= "\u9fff" or char in ".。！，" for char in token)]

texts = st.one_of(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14).map("".join),
                  st.lists(st.sampled_from(GLYPH_TOKENS), min_size=1, max_size=30).map("".join))


def inline_nodes(depth: int) -> st.SearchStrategy[Inline]:
    leaves: st.SearchStrategy[Inline] = st.one_of(st.builds(Text, texts), st.builds(Code, texts))
    if depth == 0:
        return leaves
    children = st.lists(inline_nodes(depth - 1), min_size=1, max_size=3).map(tuple)
    labels = st.builds(lambda label: (Text(label),), texts)
    return st.one_of(leaves, leaves, st.builds(Bold, children), st.builds(Italic, children),
                     st.builds(Link, st.sampled_from(URLS), labels))


paragraphs = st.lists(inline_nodes(2), min_size=1, max_size=5).map(tuple)


@st.composite
def digests(draw: st.DrawFn, max_items: int = 5, giant: bool = False) -> Digest:
    count = draw(st.integers(0, max_items))
    item_list = [Item(number, draw(texts), draw(st.sampled_from(URLS)), tuple(draw(st.lists(paragraphs, max_size=3))))
                 for number in range(1, count + 1)]
    if giant:
        # One paragraph far over a message, hard clusters one after another without a space.
        seed = draw(st.lists(st.sampled_from(GLYPH_TOKENS), min_size=3, max_size=12).map("".join))
        body: Paragraph = (Text(seed * (13_000 // len(seed) + 1)), Bold((Text(draw(texts)),)))
        item_list.insert(draw(st.integers(0, count)), Item(0, draw(texts), draw(st.sampled_from(URLS)), (body,)))
        item_list = [Item(number, item.title, item.url, item.summary) for number, item in enumerate(item_list, 1)]
    return Digest(
        title=draw(st.one_of(texts, texts.map(lambda title: title * 12))),
        date=draw(st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31))),
        published_at=None,
        categories=(),
        intro=tuple(draw(st.lists(paragraphs, max_size=2))),
        items=tuple(item_list),
        commentary_heading=draw(st.one_of(st.none(), texts)),
        commentary=tuple(draw(st.lists(paragraphs, max_size=2))),
    )


# ---------------------------------------------------------------------------------------------
# Clusters


def clusters(reader_text: str) -> list[str]:
    """The \\X clusters of ``reader_text`` with whitespace taken out of each; blank ones dropped."""
    out: list[str] = []
    for cluster in regex.findall(r"\X", reader_text):
        kept = "".join(char for char in cluster if not char.isspace())
        if kept:
            out.append(kept)
    return out


def clusters_of_blocks(blocks: Sequence[str]) -> list[str]:
    return [cluster for block in blocks for cluster in clusters(block)]


def boundary_positions(reader_text: str) -> set[int]:
    positions, position = {0}, 0
    for cluster in regex.findall(r"\X", reader_text):
        position += len(cluster)
        positions.add(position)
    return positions


def assert_cut_prefix(shortened: str, whole: str) -> None:
    """``shortened`` is ``whole``, or a prefix of it cut at a cluster boundary and marked with "…"."""
    if shortened == whole:
        return
    assert shortened.endswith("…"), (shortened, whole)
    kept = shortened[:-1]
    assert whole.startswith(kept), (kept, whole)
    assert len(kept) in boundary_positions(whole), f"cut inside a cluster: {whole[len(kept) - 3:len(kept) + 3]!r}"


def first_difference(seen: Sequence[str], wanted: Sequence[str]) -> str:
    for index, (left, right) in enumerate(zip(seen, wanted, strict=False)):
        if left != right:
            return f"cluster {index}: got {seen[index:index + 6]}, want {wanted[index:index + 6]}"
    return f"got {len(seen)} clusters, want {len(wanted)}: tails {seen[-4:]} / {wanted[-4:]}"


# ---------------------------------------------------------------------------------------------
# Telegram


def _telegram_link(url: str, label: str, limits: telegram.TelegramLimits) -> str:
    if telegram.telegram_link_url(url, limits) is not None:
        return url if _blank(label) else label
    if _blank(label):
        return url
    return f"{label} ({url})" if links.url_beside(label, url) else label


def _telegram_paragraph(nodes: Sequence[Inline], limits: telegram.TelegramLimits) -> str:
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, Text | Code):
            parts.append(node.text)
        elif isinstance(node, Link):
            parts.append(_telegram_link(node.url, plain_text(node.children), limits))
        else:
            parts.append(_telegram_paragraph(node.children, limits))
    return "".join(parts)


def telegram_blocks(digest: Digest, limits: telegram.TelegramLimits) -> list[str]:
    blocks = [f"{digest.title}\n{digest.date.isoformat()}"]
    blocks += [_telegram_paragraph(paragraph, limits) for paragraph in digest.intro]
    for item in digest.items:
        blocks.append(f"{item.number}. {_telegram_link(item.url, item.title, limits)}")
        blocks += [_telegram_paragraph(paragraph, limits) for paragraph in item.summary]
    blocks.append(digest.commentary_heading or "")
    blocks += [_telegram_paragraph(paragraph, limits) for paragraph in digest.commentary]
    return blocks


def assert_telegram_keeps_every_cluster(digest: Digest, limits: telegram.TelegramLimits) -> int:
    messages = check_messages(telegram.render_digest(digest, limits=limits), limits=limits, whole_clusters=False)
    seen = [cluster for message in messages for cluster in clusters(message.body)]
    wanted = clusters_of_blocks(telegram_blocks(digest, limits))
    assert seen == wanted, first_difference(seen, wanted)
    return len(messages)


@PROPERTY
@given(digests())
def test_telegram_cuts_only_between_clusters_under_tight_limits(digest: Digest) -> None:
    assert_telegram_keeps_every_cluster(digest, TELEGRAM_SMALL)


@PROPERTY
@given(digests())
def test_telegram_keeps_every_cluster_at_its_real_limits(digest: Digest) -> None:
    assert_telegram_keeps_every_cluster(digest, telegram.LIMITS)


@GIANT
@given(digests(max_items=2, giant=True))
def test_telegram_cuts_a_giant_paragraph_of_hard_scripts_between_clusters(digest: Digest) -> None:
    assert assert_telegram_keeps_every_cluster(digest, telegram.LIMITS) >= 3


# ---------------------------------------------------------------------------------------------
# Slack


def _slack_link(url: str, label: str) -> str:
    url = url.strip()
    label = " ".join(label.split()) or url
    return label if links.link_url(url, links.SLACK) is not None else links.as_text(label, url)


def _slack_paragraph(nodes: Sequence[Inline]) -> str:
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, Text | Code):
            parts.append(node.text)
        elif isinstance(node, Link):
            parts.append(_slack_link(node.url, plain_text(node.children)))
        else:
            parts.append(_slack_paragraph(node.children))
    return "".join(parts)


def _header_line(title: str) -> str:
    return " ".join(title.split())


def slack_blocks(digest: Digest, limits: slack.SlackLimits) -> list[str]:
    # A title too long for the header is given in full at the top of the first section.
    blocks = [digest.title] if len(_header_line(digest.title)) > limits.max_header_text else []
    blocks += [_slack_paragraph(paragraph) for paragraph in digest.intro]
    for item in digest.items:
        blocks.append(f"{item.number}. {_slack_link(item.url, item.title)}")
        blocks += [_slack_paragraph(paragraph) for paragraph in item.summary]
    blocks.append(digest.commentary_heading or "")
    blocks += [_slack_paragraph(paragraph) for paragraph in digest.commentary]
    return blocks


def _block_texts(payload: dict[str, Any], kind: str) -> list[str]:
    found: list[str] = []
    for block in payload["blocks"]:
        if block["type"] == kind == "context":
            found.append(mrkdwn_to_plain(block["elements"][0]["text"]))
        elif block["type"] == kind:
            raw = block["text"]["text"]
            found.append(mrkdwn_to_plain(raw) if block["text"]["type"] == "mrkdwn" else raw.replace("\u200b", ""))
    return found


def assert_slack_keeps_every_cluster(digest: Digest, limits: slack.SlackLimits) -> int:
    payloads = slack.render_digest(digest, limits=limits)
    assert_valid_payloads(payloads, limits)
    seen = [cluster for payload in payloads for section in _block_texts(payload, "section")
            for cluster in clusters(section)]
    wanted = clusters_of_blocks(slack_blocks(digest, limits))
    assert seen == wanted, first_difference(seen, wanted)
    # The header, the later parts' context lines and the notification text are shortened, if at
    # all, at a cluster boundary.
    headers = _block_texts(payloads[0], "header")
    if headers:
        assert_cut_prefix(headers[0], _header_line(digest.title))
    total = len(payloads)
    part_title = _header_line(digest.title or digest.date.isoformat())
    for number, payload in enumerate(payloads[1:], start=2):
        context = _block_texts(payload, "context")[0]
        mark = f" · ({number}/{total})"
        if not part_title:
            assert context == mark.removeprefix(" · ")
            continue
        assert context.endswith(mark)
        assert_cut_prefix(context[:-len(mark)], part_title)
    first_line = mrkdwn_to_plain(payloads[0]["text"].split("\n", 1)[0])
    fallback_title = _header_line(f"{digest.title} · {digest.date.isoformat()}".strip(" ·"))
    assert_cut_prefix(first_line, fallback_title + (f" (1/{total})" if total > 1 else ""))
    return total


@PROPERTY
@given(digests())
def test_slack_cuts_only_between_clusters_under_small_limits(digest: Digest) -> None:
    assert_slack_keeps_every_cluster(digest, SLACK_SMALL)


@PROPERTY
@given(digests())
def test_slack_keeps_every_cluster_at_its_real_limits(digest: Digest) -> None:
    assert_slack_keeps_every_cluster(digest, slack.LIMITS)


@GIANT
@given(digests(max_items=2, giant=True))
def test_slack_cuts_a_giant_paragraph_of_hard_scripts_between_clusters(digest: Digest) -> None:
    assert assert_slack_keeps_every_cluster(digest, slack.LIMITS) >= 2


@PROPERTY
@given(st.lists(st.sampled_from(HARD_TOKENS), min_size=1, max_size=3_000).map("".join))
def test_slack_notices_are_cut_and_shortened_between_clusters(notice: str) -> None:
    payloads = slack.render_notice(notice, limits=SLACK_SMALL)
    if not notice.strip():
        assert payloads == []
        return
    assert_valid_payloads(payloads, SLACK_SMALL)
    seen = [cluster for payload in payloads for section in _block_texts(payload, "section")
            for cluster in clusters(section)]
    assert seen == clusters(notice), first_difference(seen, clusters(notice))
    first_line = mrkdwn_to_plain(payloads[0]["text"].split("\n", 1)[0])
    assert_cut_prefix(first_line, " ".join(notice.split()) + (f" (1/{len(payloads)})" if len(payloads) > 1 else ""))


# ---------------------------------------------------------------------------------------------
# Plain text


def _text_paragraph(nodes: Sequence[Inline]) -> str:
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, Text | Code):
            parts.append(node.text)
        elif isinstance(node, Link):
            parts.append(links.as_text(_text_paragraph(node.children), node.url))
        else:
            parts.append(_text_paragraph(node.children))
    return "".join(parts)


@PROPERTY
@given(digests())
def test_plain_text_keeps_every_cluster(digest: Digest) -> None:
    (payload,) = text.render_digest(digest)
    blocks = [digest.title, digest.date.isoformat()]
    blocks += [_text_paragraph(paragraph) for paragraph in digest.intro]
    for item in digest.items:
        blocks += [f"{item.number}. {item.title}", item.url]
        blocks += [_text_paragraph(paragraph) for paragraph in item.summary]
    blocks.append(digest.commentary_heading or "")
    blocks += [_text_paragraph(paragraph) for paragraph in digest.commentary]
    assert clusters(payload["text"]) == clusters_of_blocks(blocks)


# ---------------------------------------------------------------------------------------------
# Focused cases: one long run of a single kind of cluster, where any cut inside one is likely

RUNS = {
    "thai sara am": "ทำ" * 6_500,
    "thai tone and sara am": "น้ำ" * 4_500,
    "devanagari conjuncts": "क्षत्रि" * 2_600,
    "hangul jamo": "\u1100\u1161\u11a8" * 4_500,
    "odd regional indicators": "🇦" * 6_501,
    "family emoji": "👨‍👩‍👧‍👦" * 1_900,
    "keycaps": "1️⃣" * 4_500,
    "stacked marks": "a\u0301\u0323" * 4_500,
}


def _run_digest(run: str) -> Digest:
    return Digest("Runs", dt.date(2025, 10, 1), None, (), ((Text(run),),),
                  (Item(1, run[:600], "https://example.com/", ((Bold((Text(run),)),),)),))


@pytest.mark.parametrize("kind", sorted(RUNS))
def test_telegram_cuts_long_runs_between_clusters(kind: str) -> None:
    for limits in (telegram.LIMITS, TELEGRAM_SMALL):
        assert assert_telegram_keeps_every_cluster(_run_digest(RUNS[kind][:20_000]), limits) >= 2


@pytest.mark.parametrize("kind", sorted(RUNS))
def test_slack_cuts_long_runs_between_clusters(kind: str) -> None:
    for limits in (slack.LIMITS, SLACK_SMALL):
        assert assert_slack_keeps_every_cluster(_run_digest(RUNS[kind]), limits) >= 2
