"""One link policy for every renderer (hostless URLs are text everywhere), and no surrogate in any payload."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.digest.model import Bold, Code, Digest, Italic, Item, Link, Text
from bot.platforms.slack import blocks as slack
from bot.platforms.telegram import html as telegram
from bot.render import Payload, links, text
from tests.fakes import tdparse
from tests.fakes.slackcheck import mrkdwn_links, payload_texts
from tests.test_render_slack import assert_valid_payloads
from tests.test_render_telegram import check_messages

HOSTLESS = ["https://", "https:/x", "http:///x", "https://:80", "https://:80/x", "http://", "ftp://",
            "https://user@/x", "https://?q=1", "https://#top", "HTTPS://"]
DAY = dt.date(2025, 10, 1)


def digest_linking(url: str) -> Digest:
    summary = ((Text("see "), Link(url, (Text("the source"),)), Text(" or "), Bold((Link(url, (Text("this"),)),))),)
    return Digest("Links", DAY, None, (), (), (Item(1, "Headline", url, summary),))


def telegram_links(payloads: list[Payload]) -> list[str]:
    return [entity.url or "" for message in check_messages(payloads) for entity in message.parsed.entities
            if entity.type in ("text_link", "url")]


def slack_sections(payloads: list[Payload]) -> list[str]:
    return [block["text"]["text"] for payload in payloads for block in payload["blocks"] if block["type"] == "section"]


# ---------------------------------------------------------------------------------------------
# The policy


@pytest.mark.parametrize("url", HOSTLESS)
def test_a_url_without_a_host_is_never_a_link(url: str) -> None:
    assert links.link_url(url, links.SLACK) is None
    assert links.link_url(url, links.TELEGRAM) is None
    # Telegram itself agrees: it would drop every one of them.
    assert tdparse.normalized_link(url) is None


@pytest.mark.parametrize(("url", "on_slack", "on_telegram"), [
    ("https://example.com/a?b=1#c", True, True),
    ("HTTP://EXAMPLE.COM", True, True),
    ("https://例子.中国/ทำ", True, True),
    ("https://example.com:8443/", True, True),
    ("https://example.com:0/", False, False),
    ("https://example.com:65536/", False, False),
    ("https://example.com:/", False, False),
    ("https://example.com:x/", False, False),
    ("http://localhost:8080/", True, False),          # Telegram drops hosts without a dot
    ("https://user@example.com/", True, False),
    ("https://[2001:db8::1]/", True, False),
    ("https://[]/", False, False),
    ("https://exa mple.com/", False, False),
    ("https://example.com/a b", True, False),          # Slack percent-encodes the space
    ("ftp://files.example.com/x", True, False),        # tdlib keeps web links only
    ("ftps://files.example.com/x", True, False),
    ("mailto:someone@example.com", True, False),       # tdlib would make it http://mailto:…/
    ("mailto:a@example.com,b@example.com?subject=Hi", True, False),
    ("mailto:", False, False),
    ("mailto:nobody", False, False),
    ("tel:+1-555-0100", True, False),
    ("tel:", False, False),
    ("tel:call-me", False, False),
    ("javascript:alert(1)", False, False),
    ("data:text/html,hi", False, False),
    ("//example.com/x", False, False),
    ("example.com", False, False),
    ("", False, False),
    ("https://example.com/\ufffd", False, False),      # damaged: it would lead somewhere else
    ("https://example.com/\ud800", False, False),
    ("https://example.com/\x00", False, False),
])
def test_which_urls_become_links(url: str, on_slack: bool, on_telegram: bool) -> None:
    assert (links.link_url(url, links.SLACK) == url) is on_slack
    assert (links.link_url(url, links.TELEGRAM) == url) is on_telegram


@settings(max_examples=200, deadline=None)
@given(st.one_of(
    st.text(max_size=30),
    st.builds(lambda scheme, rest: f"{scheme}:{rest}",
              st.sampled_from(["http", "https", "HTTPS", "ftp", "mailto", "tel", "javascript"]),
              st.text(st.sampled_from("/:@[]?#.a-_1 中ทำ%"), max_size=20)),
))
def test_telegram_links_only_what_slack_links_and_what_telegram_keeps(url: str) -> None:
    if links.link_url(url, links.TELEGRAM) is not None:
        assert links.link_url(url, links.SLACK) is not None
        assert tdparse.normalized_link(url) is not None
    if links.link_url(url, links.SLACK) is not None:
        assert re.match(r"(?i)(?:(?:https?|ftps?)://[^/?#:]|mailto:[^@]+@|tel:)", url)


def test_a_link_shown_as_text_gives_the_url_beside_its_label_unless_that_repeats_it() -> None:
    assert links.as_text("the source", "https://") == "the source (https://)"
    assert links.as_text("  ", "https://") == "https://"
    assert links.as_text("https://", "https://") == "https://"
    assert links.as_text("label", "") == "label"


# ---------------------------------------------------------------------------------------------
# Hostless links on each platform


@pytest.mark.parametrize("url", HOSTLESS)
def test_telegram_shows_a_hostless_url_as_text(url: str) -> None:
    payloads = telegram.render_digest(digest_linking(url))
    assert telegram_links(payloads) == []
    assert "<a " not in payloads[0]["text"]
    shown = check_messages(payloads)[0].parsed.text
    assert f"1. Headline ({url})" in shown
    assert f"see the source ({url}) or this ({url})" in shown


@pytest.mark.parametrize("url", HOSTLESS)
def test_slack_shows_a_hostless_url_as_text(url: str) -> None:
    payloads = slack.render_digest(digest_linking(url))
    assert_valid_payloads(payloads)
    sections = slack_sections(payloads)
    assert all(mrkdwn_links(section) == [] for section in sections)
    reader = "\n".join(payload_texts(payloads[0]))
    assert f"1. Headline ({url})" in reader
    assert f"see the source ({url}) or this ({url})" in reader


@pytest.mark.parametrize("url", ["https://", "http:///x", "https://:80/x"])
def test_slack_does_not_link_a_bare_hostless_url_in_text(url: str) -> None:
    digest = Digest("Bare", DAY, None, (), ((Text(f"try {url} and https://ok.example.com/x now"),),), ())
    sections = slack_sections(slack.render_digest(digest))
    assert [target for section in sections for target, _label in mrkdwn_links(section)] == ["https://ok.example.com/x"]
    assert f"try {url} and" in sections[0]


@pytest.mark.parametrize("url", HOSTLESS)
def test_plain_text_shows_a_hostless_url_beside_its_label(url: str) -> None:
    (payload,) = text.render_digest(digest_linking(url))
    assert f"see the source ({url}) or this ({url})" in payload["text"]


def test_mail_and_phone_links_are_links_on_slack_and_text_on_telegram() -> None:
    for url in ("mailto:someone@example.com", "tel:+1-555-0100"):
        slack_targets = [target for section in slack_sections(slack.render_digest(digest_linking(url)))
                         for target, _label in mrkdwn_links(section)]
        assert slack_targets == [url, url, url]
        payloads = telegram.render_digest(digest_linking(url))
        assert telegram_links(payloads) == []
        assert f"see the source ({url})" in check_messages(payloads)[0].parsed.text


# ---------------------------------------------------------------------------------------------
# Surrogates

LONE = "\ud800"
PAIR = "\ud83d\ude00"  # what surrogatepass decoding leaves of an emoji: two code points, both unsendable


def surrogate_digest() -> Digest:
    summary = ((Text(f"text {LONE} and {PAIR} and \udfff\u0301"), Code(f"code{LONE}"),
                Link(f"https://example.com/{LONE}", (Text(f"label{LONE}"),)),
                Link("https://example.com/ok", (Text(f"ok{PAIR}"),))),)
    return Digest(f"Title {LONE}", DAY, None, (), ((Bold((Text(f"intro{PAIR}"),)),),),
                  (Item(1, f"Item {LONE}", f"https://example.com/item{LONE}", summary),),
                  commentary_heading=f"Heading{LONE}", commentary=((Text(f"end{LONE}"),),))


def assert_sendable(payloads: list[Payload]) -> str:
    """Every payload encodes as UTF-8 JSON (as it travels); returns all its strings together."""
    strings: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for inner in value.values():
                collect(inner)
        elif isinstance(value, list):
            for inner in value:
                collect(inner)

    for payload in payloads:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
        collect(payload)
    joined = "".join(strings)
    assert not re.search("[\ud800-\udfff]", joined)
    return joined


def test_telegram_replaces_every_surrogate() -> None:
    digest = surrogate_digest()
    payloads = telegram.render_digest(digest)
    shown = assert_sendable(payloads)
    assert "text \ufffd and \ufffd\ufffd and \ufffd\u0301" in shown
    messages = check_messages(payloads)
    # A URL with a surrogate was damaged: shown as text, never linked.
    assert [entity.url for message in messages for entity in message.parsed.entities
            if entity.type == "text_link"] == ["https://example.com/ok"]
    assert "label\ufffd (https://example.com/\ufffd)" in messages[0].parsed.text
    assert_sendable(telegram.render_items(f"Heading {LONE}", digest.items, digest))
    assert assert_sendable(telegram.render_notice(f"notice {LONE}{PAIR}")).count("\ufffd") == 3


def test_slack_replaces_every_surrogate() -> None:
    digest = surrogate_digest()
    payloads = slack.render_digest(digest)
    assert_valid_payloads(payloads)
    shown = assert_sendable(payloads)
    assert "text \ufffd and \ufffd\ufffd and \ufffd\u0301" in shown
    assert payloads[0]["blocks"][0]["text"]["text"] == "Title \ufffd"
    targets = [target for section in slack_sections(payloads) for target, _label in mrkdwn_links(section)]
    assert targets == ["https://example.com/ok"]
    items_payloads = slack.render_items(f"Heading {LONE}", digest.items, digest)
    assert_valid_payloads(items_payloads)
    assert_sendable(items_payloads)
    assert assert_sendable(slack.render_notice(f"notice {LONE}{PAIR}")).count("\ufffd") >= 3


def test_plain_text_replaces_every_surrogate() -> None:
    digest = surrogate_digest()
    shown = assert_sendable(text.render_digest(digest))
    assert "text \ufffd and \ufffd\ufffd and \ufffd\u0301" in shown
    assert "Title \ufffd" in shown
    assert_sendable(text.render_items(f"Heading {LONE}", digest.items, digest))
    assert assert_sendable(text.render_notice(f"notice {LONE}{PAIR}")) == "notice \ufffd\ufffd\ufffd"


anything = st.lists(st.characters(exclude_categories=("Cc",)) | st.sampled_from([LONE, "\udc00", PAIR, "\u0301"]),
                   max_size=40).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anything, anything, anything, st.sampled_from(["https://example.com/", "https://", f"https://x.com/{LONE}"]))
def test_any_surrogates_in_a_digest_built_in_code_give_valid_payloads(title: str, words: str, label: str,
                                                                        url: str) -> None:
    digest = Digest(title, DAY, None, (), ((Text(words), Link(url + words, (Text(label),))),),
                    (Item(1, label, url, ((Italic((Text(words),)),),)),), commentary_heading=label)
    for payloads in (telegram.render_digest(digest), slack.render_digest(digest), text.render_digest(digest)):
        assert_sendable(payloads)
    check_messages(telegram.render_digest(digest))
    assert_valid_payloads(slack.render_digest(digest))
