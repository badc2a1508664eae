"""Discord rendering: every payload within every limit as Discord counts, no mention that can ping, no text
lost, order kept, spans and links whole across embeds; read back with an independent markdown reader."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import urllib.parse
from collections.abc import Sequence
from typing import Any

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.digest.model import Bold, Code, Digest, Inline, Item, Link, Paragraph, Text, plain_text
from bot.platforms.discord.embeds import header_title_room, render_digest, render_items, render_notice
from bot.platforms.discord.limits import LIMITS, SUPPRESS_EMBEDS, DiscordLimits
from tests.fakes.discordcheck import check_message, embed_total, pings
from tests.fakes.discordmd import ZWSP, read
from tests.test_render_slack import (
    assert_in_order,
    crowded_digests,
    digests,
    giant_digests,
    paragraph_urls,
    visible_texts,
)

SMALL = DiscordLimits(max_content=300, max_embeds=3, max_embed_total=900, max_title=40, max_description=250,
                      max_url=300)
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIVE_MENTION = re.compile(r"@(everyone|here)|<@[!&]?\d")
_MARKER = re.compile(r"\A\(\d+/\d+\)\n")
DAY = dt.date(2025, 10, 2)


def squeeze(text: str) -> str:
    return "".join(char for char in text if not char.isspace() and char != ZWSP)


def texts_of(payload: dict[str, Any]) -> list[str]:
    """Every markdown text of a payload, in reading order: content, then each embed's title and description."""
    out = [payload["content"]]
    for embed in payload["embeds"]:
        out += [embed.get("title", ""), embed.get("description", "")]
    return out


def assert_valid(payloads: Sequence[dict[str, Any]], limits: DiscordLimits = LIMITS) -> None:
    assert payloads
    for number, payload in enumerate(payloads, start=1):
        assert set(payload) == {"content", "embeds", "allowed_mentions", "flags"}
        assert payload["allowed_mentions"] == {"parse": []}
        assert payload["flags"] == (0 if payload["embeds"] else SUPPRESS_EMBEDS)
        check_message(payload)
        assert len(payload["content"]) <= limits.max_content
        assert len(payload["embeds"]) <= limits.max_embeds
        assert embed_total(payload) <= limits.max_embed_total
        for embed in payload["embeds"]:
            assert len(embed.get("title", "")) <= limits.max_title
            assert len(embed.get("description", "")) <= limits.max_description
        # Defused in the text itself too: even a client ignoring allowed_mentions pings nobody.
        assert pings({**payload, "allowed_mentions": None}) == []
        for text in texts_of(payload):
            assert not LIVE_MENTION.search(text), text
            assert not read(text).unbalanced, text
        if len(payloads) > 1:
            assert f"({number}/{len(payloads)})" in payload["content"].split("\n", 1)[0]


def without_markers(text: str) -> str:
    """A text less the "(k/n)" markers the renderer adds: atop a piece, or on a message's first line."""
    first, newline, rest = _MARKER.sub("", text).partition("\n")
    return re.sub(r" ?\(\d+/\d+\)$", "", first) + newline + rest


def reader_text(payloads: Sequence[dict[str, Any]]) -> str:
    return squeeze("".join(read(without_markers(text)).plain for payload in payloads for text in texts_of(payload)))


def link_targets(payloads: Sequence[dict[str, Any]]) -> list[str]:
    targets: list[str] = []
    for payload in payloads:
        targets += [urllib.parse.unquote(url) for _, url in read(payload["content"]).links]
        for embed in payload["embeds"]:
            if "url" in embed:
                targets.append(urllib.parse.unquote(embed["url"]))
            targets += [urllib.parse.unquote(url) for _, url in read(embed.get("description", "")).links]
    return targets


def assert_nothing_lost(digest: Digest, payloads: Sequence[dict[str, Any]], limits: DiscordLimits = LIMITS) -> None:
    # The title heads the first message; a title longer than a header line is shortened there.
    title = " ".join(digest.title.split())
    expected = [squeeze(title)] if len(title) <= header_title_room(limits) else []
    expected += [squeeze(plain_text(paragraph)) for paragraph in digest.intro]
    urls: list[str] = []
    for item in digest.items:
        expected.append(squeeze(f"{item.number}. {item.title}")[:30])
        expected += [squeeze(plain_text(paragraph)) for paragraph in item.summary]
        urls.append(item.url)
        for paragraph in item.summary:
            urls += paragraph_urls(paragraph)
    if digest.commentary_heading:
        expected.append(squeeze(digest.commentary_heading)[:30])
    expected += [squeeze(plain_text(paragraph)) for paragraph in digest.commentary]
    reader = reader_text(payloads)
    # A link too long to stay a link in a part is written "label (url)": the label reads on around it.
    spoken = reader
    everywhere = [url for paragraph in (*digest.intro, *digest.commentary) for url in paragraph_urls(paragraph)]
    for url in [*urls, *everywhere]:
        spoken = spoken.replace(squeeze(f"({url.strip()})"), "")
    assert_in_order(spoken, [needle for needle in expected if needle])
    targets = link_targets(payloads)
    position = 0
    for url in urls:
        wanted = urllib.parse.unquote(url.strip())
        if wanted in targets[position:]:
            position = targets.index(wanted, position) + 1
        else:
            # Not a link Discord follows (or too long for one): written out for the reader instead.
            assert squeeze(url) in reader, f"url lost or out of order: {url!r}"


def assert_clusters_whole(payloads: Sequence[dict[str, Any]]) -> None:
    """Where a section continues in the next embed, no grapheme cluster was cut in two."""
    descriptions = [embed.get("description", "") for payload in payloads for embed in payload["embeds"]]
    for before, after in itertools.pairwise(descriptions):
        if not _MARKER.match(after) or after.startswith("(1/"):
            continue
        tail = read(before).plain.rstrip()
        head = read(_MARKER.sub("", after)).plain.lstrip()
        if tail and head:
            last, first = regex.findall(r"\X", tail)[-1], regex.findall(r"\X", head)[0]
            assert len(regex.findall(r"\X", last + first)) == 2, (last, first)


@PROPERTY
@given(digests())
def test_any_digest_renders_to_payloads_discord_accepts_without_losing_text(digest: Digest) -> None:
    payloads = render_digest(digest)
    assert_valid(payloads)
    assert_nothing_lost(digest, payloads)


@PROPERTY
@given(digests())
def test_small_limits_force_every_kind_of_split_and_still_lose_nothing(digest: Digest) -> None:
    payloads = render_digest(digest, limits=SMALL)
    assert_valid(payloads, SMALL)
    assert_nothing_lost(digest, payloads, SMALL)
    assert_clusters_whole(payloads)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(giant_digests())
def test_a_giant_item_continues_over_embeds_and_messages(digest: Digest) -> None:
    payloads = render_digest(digest)
    assert_valid(payloads)
    assert_nothing_lost(digest, payloads)
    assert_clusters_whole(payloads)
    assert len(payloads) >= 2


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(crowded_digests())
def test_hundreds_of_items_fill_messages_ten_embeds_at_most(digest: Digest) -> None:
    payloads = render_digest(digest)
    assert_valid(payloads)
    assert_nothing_lost(digest, payloads)
    assert len(payloads) >= 15


@PROPERTY
@given(st.text(min_size=1, max_size=700), st.sampled_from([LIMITS, SMALL]))
def test_notices_keep_every_word(text: str, limits: DiscordLimits) -> None:
    payloads = render_notice(text, limits=limits)
    assert_valid(payloads, limits)
    shown = squeeze("".join(read(_MARKER.sub("", payload["content"])).plain for payload in payloads))
    assert shown == squeeze(text) or not squeeze(text)


@settings(max_examples=60, deadline=None)
@given(digests(), st.data())
def test_render_items_shows_the_chosen_items(digest: Digest, data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(digest.items), max_size=4) if digest.items else st.just([]))
    heading = data.draw(visible_texts)
    payloads = render_items(heading, chosen, digest)
    assert_valid(payloads)
    assert_nothing_lost(Digest(heading, digest.date, None, (), (), tuple(chosen)), payloads)


# ---------------------------------------------------------------------------------------------
# Focused cases
# ---------------------------------------------------------------------------------------------

def digest_of(*summary: Inline, title: str = "Daily", url: str = "https://example.com/a", **fields: Any) -> Digest:
    item = Item(1, fields.pop("item_title", "First"), url, ((*summary,),) if summary else ())
    return Digest(title, DAY, None, (), fields.pop("intro", ()), (item,), **fields)


def description(payloads: list[dict[str, Any]]) -> str:
    return str(payloads[0]["embeds"][0].get("description", ""))


def test_layout_intro_in_content_an_embed_per_item_commentary_last() -> None:
    digest = Digest("Daily", DAY, None, (), ((Text("Hello."),),),
                    (Item(1, "One", "https://e.com/1", ((Bold((Text("big"),)), Text(" news")),)),
                     Item(2, "Two", "https://e.com/2", ())), "Notes", ((Text("Fine."),),))
    [payload] = render_digest(digest)
    assert payload["content"] == f"**Daily**{ZWSP} · 2025-10-02\nHello."
    assert payload["embeds"] == [
        {"color": 0x5865F2, "title": "1. One", "url": "https://e.com/1", "description": f"**big**{ZWSP} news"},
        {"color": 0x5865F2, "title": "2. Two", "url": "https://e.com/2"},
        {"color": 0x5865F2, "title": "Notes", "description": "Fine."},
    ]
    assert payload["flags"] == 0 and payload["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize("mention", ["@everyone", "@here", "<@123456789012345678>", "<@!42>", "<@&77>"])
def test_mentions_in_digest_text_never_ping_and_still_read_the_same(mention: str) -> None:
    digest = digest_of(Text(f"hey {mention} there"), Code(mention), title=f"T {mention}", item_title=mention,
                       intro=((Text(mention),),), commentary_heading=mention, commentary=((Text(mention),),))
    payloads = render_digest(digest)
    assert_valid(payloads)
    for payload in payloads:
        for text in texts_of(payload):
            assert mention not in text
    assert mention in read(payloads[0]["content"]).plain
    assert f"hey {mention} there{mention}" in read(description(payloads)).plain


@pytest.mark.parametrize("literal", ["*not bold*", "_not italic_", "~~not struck~~", "`not code`", "__u__",
                                     "||spoiler||", "> quote", "# heading", "[t](https://e.com)", "a\\b"])
def test_markdown_in_digest_text_shows_as_written(literal: str) -> None:
    text = description(render_digest(digest_of(Text(f"x {literal} y"))))
    reading = read(text)
    assert reading.plain == f"x {literal} y"
    assert reading.links == [] and reading.bold == [] and reading.italic == []


def test_links_are_masked_with_their_targets_kept_whole() -> None:
    digest = digest_of(Text("see "), Link("https://docs.example.com/a_(b) c", (Text("the *docs*"),)),
                       intro=((Link("https://e.com/x", (Text("intro link"),)),),))
    payloads = render_digest(digest)
    assert read(description(payloads)).links == [("the *docs*", "https://docs.example.com/a_%28b%29%20c")]
    # In content a link is written <url>, so Discord shows no preview card under the digest.
    assert "[intro link](<https://e.com/x>)" in payloads[0]["content"]


def test_a_link_discord_cannot_follow_is_written_out() -> None:
    payloads = render_digest(digest_of(Link("ftp://files.example.com/x", (Text("file"),)), url="javascript:x"))
    assert "url" not in payloads[0]["embeds"][0]
    assert read(description(payloads)).plain == "javascript:x\n\nfile (ftp://files.example.com/x)"


def test_a_long_item_continues_in_the_next_embed_with_its_bold_span_closed_and_reopened() -> None:
    sentence = "Every word here is bold and the sentence is long. "
    payloads = render_digest(digest_of(Bold((Text(sentence * 20),)), Text(" tail")), limits=SMALL)
    descriptions = [embed["description"] for payload in payloads for embed in payload["embeds"]]
    assert len(descriptions) >= 3
    for text in descriptions:
        reading = read(text)
        assert not reading.unbalanced and reading.bold
    assert squeeze("".join(read(text).plain for text in descriptions)).count(squeeze(sentence)) == 20


def test_code_with_backticks_and_mentions() -> None:
    text = description(render_digest(digest_of(Code("a`b @everyone"))))
    assert read(text).plain == "a`b @everyone"
    assert "@everyone" not in text


def test_an_item_title_too_long_for_an_embed_opens_its_description_whole() -> None:
    title = "word " * 80
    embed = render_digest(digest_of(Text("body"), item_title=title))[0]["embeds"][0]
    assert len(embed["title"]) <= LIMITS.max_title and embed["title"].endswith("…")
    assert read(embed["description"]).bold == [f"1. {title.strip()}"]


def test_a_notice_is_plain_content_without_previews() -> None:
    [payload] = render_notice("Send /item 3 — see https://e.com/a_b @here")
    assert payload["embeds"] == [] and payload["flags"] == SUPPRESS_EMBEDS
    assert read(payload["content"]).plain == "Send /item 3 — see https://e.com/a_b @here"


def paragraphs_of(*texts: str) -> tuple[Paragraph, ...]:
    return tuple((Text(text),) for text in texts)
