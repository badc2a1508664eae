"""Signed requests to /slack/commands and /slack/events, answered by the real command logic over a
folder of digests, with every reply checked at the fake Slack API (ephemeral vs. public)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from bot.commands import CommandContext, Commands
from bot.config import DeliverySettings, SlackSettings
from bot.delivery import Deliverer
from bot.digest.categories import Categorizer, rules_from_mapping
from bot.digest.sources import FolderSource
from bot.i18n import text as words
from bot.platforms import slack as render
from bot.platforms.slack import (
    COMMAND_PREFIX,
    RESPONSE_URL_POSTS,
    SlackChannel,
    SlackRateLimit,
    message_fields,
)
from bot.platforms.slack.answers import rendered
from bot.ratelimit import PER_USER_IN_GROUP
from bot.store import Store, Subscription, open_store
from tests.fakes.fake_slack import FakeSlack, signed_headers
from tests.test_sources import digest_text

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# 09:00 in Shanghai on 2025-10-07, the day of the "today" digest.
MORNING = dt.datetime(2025, 10, 7, 1, 0, tzinfo=dt.UTC)
CHANNEL = "C0GENERAL"
MEMBER = "U0MEMBER"
WORKSPACE_ADMIN = "U0ADMIN"
WORKSPACE_OWNER = "U0OWNER"
LISTED_ADMIN = "U0LISTED"       # not a workspace admin, but named in the config
RULES = {
    "Hardware": {"aliases": ["hw", "硬件"], "keywords": ["GPU", "chip"]},
    "Robotics": {"aliases": ["robots", "机器人"], "keywords": ["robot"]},
    "Developer Tools": {"aliases": ["dev"], "keywords": ["SDK"]},
}
TODAY_ITEMS = [
    ("A GPU for small phones", "https://news.example.com/1", "It runs **small models** on the phone."),
    ("An SDK for agent builders", "https://news.example.com/2", "Developers get a toolkit."),
    ("A robot arm that folds shirts", "https://news.example.com/3", "Slowly, but it folds them."),
    ("A chip plant opens", "https://news.example.com/4", "Production starts next spring."),
]
LONG_DAY = dt.date(2025, 10, 3)
HUGE_DAY = dt.date(2025, 10, 1)


def long_items(count: int = 24) -> list[tuple[str, str, str]]:
    """Enough text that the digest needs several Slack messages."""
    sentence = "This paragraph keeps going so that the digest as a whole needs more than one message. "
    return [(f"Long story {number}", f"https://news.example.com/long/{number}", sentence * 8)
            for number in range(1, count + 1)]


def write_digests(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "today.md").write_text(digest_text("2025-10-07T08:05:00+08:00", "Tuesday brief", TODAY_ITEMS,
                                                 categories=["Hardware", "Robotics"]), encoding="utf-8")
    (folder / "long.md").write_text(digest_text(LONG_DAY.isoformat(), "A long Friday", long_items()),
                                    encoding="utf-8")
    (folder / "huge.md").write_text(digest_text(HUGE_DAY.isoformat(), "A huge Wednesday", long_items(100)),
                                    encoding="utf-8")
    return folder


def make_commands(folder: Path, store: Store) -> Commands:
    categorizer = Categorizer(rules_from_mapping(RULES))
    return Commands(FolderSource(folder, categorizer, SHANGHAI), store, categorizer)


def make_channel(fake: FakeSlack, commands: Commands, store: Store, **settings: Any) -> SlackChannel:
    # Generous, so a busy test machine never turns an answer in place into a follow-up.
    inline_wait = settings.pop("inline_wait", 10.0)
    values: dict[str, Any] = {"token": fake.token, "signing_secret": SECRET, "base_url": fake.base_url,
                              "admins": (LISTED_ADMIN,)}
    values.update(settings)
    return SlackChannel(SlackSettings(**values), commands=commands, store=store, language="en",
                        timezone=SHANGHAI, now=lambda: MORNING, rate_limit=SlackRateLimit().scaled(20),
                        inline_wait=inline_wait)


def fast_delivery() -> DeliverySettings:
    return DeliverySettings(lease_ttl=30.0, max_attempts=5, backoff_base=0.01, backoff_max=0.05)


async def expected_payloads(commands: Commands, text: str, user: str = MEMBER,
                            channel: str = CHANNEL) -> list[dict[str, Any]]:
    """What the command logic itself answers, rendered for Slack: the adapter must pass it on unchanged."""
    name, _, args = text.partition(" ")

    async def admin() -> bool:
        return user in (WORKSPACE_ADMIN, WORKSPACE_OWNER, LISTED_ADMIN)

    context = CommandContext(platform="slack", chat=channel, user=user, is_group=True, language="en",
                             timezone=SHANGHAI, is_admin=admin, now=MORNING, command_prefix=COMMAND_PREFIX)
    return rendered(await commands.handle(name or "help", args, context))


def shown(payloads: list[dict[str, Any]]) -> str:
    """Every text a reader would see in these messages."""
    return json.dumps([[payload.get("text"), payload.get("blocks")] for payload in payloads], ensure_ascii=False)


@dataclasses.dataclass
class Rig:
    fake: FakeSlack
    store: Store
    commands: Commands
    channel: SlackChannel
    client: TestClient[web.Request, web.Application]

    async def command(self, text: str, *, user: str = MEMBER, channel: str = CHANNEL,
                      headers: Callable[[bytes], dict[str, str]] | None = None,
                      ) -> tuple[int, dict[str, Any] | None, str]:
        """POST a slash command; returns (status, JSON answer or None, the command's response_url)."""
        fields = self.fake.slash_command(text, user=user, channel=channel)
        body = urlencode(fields).encode()
        sign = headers or (lambda raw: signed_headers(SECRET, raw))
        response = await self.client.post("/slack/commands", data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", **sign(body)})
        raw = await response.read()
        answer = json.loads(raw) if raw and response.content_type == "application/json" else None
        return response.status, answer, fields["response_url"]

    async def event(self, body: dict[str, Any], *, retry: int | None = None,
                    headers: Callable[[bytes], dict[str, str]] | None = None) -> ClientResponse:
        raw = json.dumps(body).encode()
        sign = headers or (lambda data: signed_headers(SECRET, data))
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return await self.client.post("/slack/events", data=raw, headers={
            "Content-Type": "application/json", **sign(raw), **extra})

    async def interact(self, payload: dict[str, Any], *, secret: str = SECRET) -> ClientResponse:
        """POST a signed interaction (a pressed button), as Slack sends it: a form with one `payload` field."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.client.post("/slack/interactions", data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", **signed_headers(secret, body)})


async def open_rig(tmp_path: Path, **settings: Any) -> Rig:
    fake = await FakeSlack(admins=frozenset({WORKSPACE_ADMIN}), owners=frozenset({WORKSPACE_OWNER}),
                           rate_period=0.05).start()
    store = open_store("memory://", tmp_path)
    commands = make_commands(write_digests(tmp_path / "digests"), store)
    channel = make_channel(fake, commands, store, **settings)
    await channel.start()
    channel.bind(Deliverer(store, {"slack": channel}, fast_delivery()))
    app = web.Application()
    app.add_routes(channel.routes())
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return Rig(fake, store, commands, channel, client)


async def close_rig(rig: Rig) -> None:
    await rig.client.close()
    await rig.channel.stop()
    await rig.store.close()
    await rig.fake.stop()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    opened = await open_rig(tmp_path)
    try:
        yield opened
    finally:
        await close_rig(opened)


# -- buttons ------------------------------------------------------------------------------------

async def test_item_answers_page_through_every_item_and_back_by_buttons(rig: Rig) -> None:
    status, answer, _ = await rig.command("item 1")
    assert status == 200 and answer is not None
    shown_now = answer
    for label, number in [("▶", 2), ("▶", 3), ("◀", 2), ("◀", 1)]:
        pressed = rig.fake.press(shown_now, label)
        response = await rig.interact(pressed)
        assert response.status == 200
        await rig.fake.wait_until(lambda url=pressed["response_url"]: rig.fake.response_posts(url) != [])
        (replacement,) = rig.fake.response_posts(pressed["response_url"])
        assert replacement["replace_original"] is True
        assert TODAY_ITEMS[number - 1][0] in shown([replacement])
        shown_now = replacement
    labels = [element["text"]["text"] for block in shown_now["blocks"] if block["type"] == "actions"
              for element in block["elements"]]
    assert labels == ["▶"]                      # the first item has no ◀
    assert rig.fake.all_posts() == []           # all in place


async def test_category_buttons_and_unsigned_interactions(rig: Rig) -> None:
    _, answer, _ = await rig.command("category")
    assert answer is not None
    pressed = rig.fake.press(answer, "Robotics")
    assert (await rig.interact(pressed, secret="not-the-secret")).status == 401
    assert (await rig.interact(pressed)).status == 200
    await rig.fake.wait_until(lambda: rig.fake.response_posts(pressed["response_url"]) != [])
    (listing,) = rig.fake.response_posts(pressed["response_url"])
    assert "A robot arm that folds shirts" in shown([listing]) and "replace_original" not in listing


# -- answers in place ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "help", "HELP"])
async def test_help_is_answered_privately_in_place(rig: Rig, text: str) -> None:
    status, answer, response_url = await rig.command(text)

    assert status == 200 and answer is not None
    assert answer["response_type"] == "ephemeral"
    for command in ("today", "item N", "category NAME", "categories", "date YYYY-MM-DD",
                    "subscribe [HH:MM [CATEGORY…]]", "unsubscribe", "help"):
        assert f"/digest {command}" in shown([answer])
    assert "public" in shown([answer])
    assert answer == message_fields((await expected_payloads(rig.commands, "help"))[0])
    assert rig.fake.all_posts() == [] and rig.fake.response_posts(response_url) == []


async def test_today_is_answered_privately_with_the_digest(rig: Rig) -> None:
    status, answer, response_url = await rig.command("today")

    assert status == 200 and answer is not None
    assert answer["response_type"] == "ephemeral"
    assert "Tuesday brief" in shown([answer])
    assert all(headline in shown([answer]) for headline, _, _ in TODAY_ITEMS)
    assert answer == message_fields((await expected_payloads(rig.commands, "today"))[0])
    assert rig.fake.all_posts() == [] and rig.fake.response_posts(response_url) == []


@pytest.mark.parametrize("text", ["item 3", "  item\t3 ", "ITEM  #3"])
async def test_item_is_answered_with_that_item_only(rig: Rig, text: str) -> None:
    status, answer, _ = await rig.command(text)

    assert status == 200 and answer is not None and answer["response_type"] == "ephemeral"
    assert "A robot arm that folds shirts" in shown([answer])
    assert "A GPU for small phones" not in shown([answer])
    assert answer == message_fields((await expected_payloads(rig.commands, "item 3"))[0])


@pytest.mark.parametrize("name", ["hardware", "Hardware", "硬件", "hw"])
async def test_category_by_name_or_alias(rig: Rig, name: str) -> None:
    status, answer, _ = await rig.command(f"category {name}")

    assert status == 200 and answer is not None
    text = shown([answer])
    assert "A GPU for small phones" in text and "A chip plant opens" in text
    assert "A robot arm that folds shirts" not in text and "An SDK for agent builders" not in text
    assert rig.fake.all_posts() == []


async def test_categories_lists_todays_counts(rig: Rig) -> None:
    status, answer, _ = await rig.command("categories")

    assert status == 200 and answer is not None
    assert "Hardware: 2" in shown([answer]) and "Robotics: 1" in shown([answer])
    assert answer == message_fields((await expected_payloads(rig.commands, "categories"))[0])


async def test_a_long_digest_arrives_privately_through_the_response_url_in_order(rig: Rig) -> None:
    expected = await expected_payloads(rig.commands, f"date {LONG_DAY}")
    assert len(expected) >= 2, "the long digest must need several messages for this test"

    status, answer, response_url = await rig.command(f"date {LONG_DAY}")

    assert status == 200 and answer is None       # an empty ack; the parts follow
    await rig.fake.wait_until(lambda: len(rig.fake.response_posts(response_url)) == len(expected))
    assert rig.fake.response_posts(response_url) == [message_fields(payload) for payload in expected]
    assert rig.fake.all_posts() == []


async def test_parts_beyond_what_a_response_url_takes_follow_as_ephemeral_messages(rig: Rig) -> None:
    expected = await expected_payloads(rig.commands, f"date {HUGE_DAY}")
    assert len(expected) > RESPONSE_URL_POSTS, "the huge digest must need more messages than a response_url takes"

    status, answer, response_url = await rig.command(f"date {HUGE_DAY}")

    assert status == 200 and answer is None
    await rig.channel.drain()
    assert rig.fake.response_posts(response_url) == [message_fields(p) for p in expected[:RESPONSE_URL_POSTS]]
    assert [(e["channel"], e["user"]) for e in rig.fake.ephemerals] == [(CHANNEL, MEMBER)] * (
        len(expected) - RESPONSE_URL_POSTS)
    assert [e["blocks"] for e in rig.fake.ephemerals] == [p["blocks"] for p in expected[RESPONSE_URL_POSTS:]]
    assert rig.fake.all_posts() == []


async def test_a_slow_answer_is_acked_at_once_and_follows_through_the_response_url(tmp_path: Path) -> None:
    rig = await open_rig(tmp_path, inline_wait=0.0)
    try:
        status, answer, response_url = await rig.command("item 2")

        assert status == 200 and answer == {"response_type": "ephemeral", "text": "…"}
        await rig.fake.wait_until(lambda: bool(rig.fake.response_posts(response_url)))
        [follow_up] = rig.fake.response_posts(response_url)
        assert follow_up == message_fields((await expected_payloads(rig.commands, "item 2"))[0])
        assert "An SDK for agent builders" in shown([follow_up])
    finally:
        await close_rig(rig)


async def test_hints_name_the_slash_command_as_the_workspace_set_it_up(rig: Rig) -> None:
    fields = rig.fake.slash_command("item", command="/news")
    body = urlencode(fields).encode()
    response = await rig.client.post("/slack/commands", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", **signed_headers(SECRET, body)})

    answer = await response.json()
    assert "/news item N" in shown([answer]) and "/digest" not in shown([answer])


# -- public answers -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["today public", "item 3 public", "category robots public", "today PUBLIC"])
async def test_public_answers_are_posted_in_the_channel(rig: Rig, text: str) -> None:
    expected = await expected_payloads(rig.commands, text)

    status, answer, response_url = await rig.command(text)

    assert status == 200 and answer is None
    await rig.fake.wait_until(lambda: len(rig.fake.posts[CHANNEL]) == len(expected))
    for posted, payload in zip(rig.fake.posts[CHANNEL], expected, strict=True):
        assert posted["blocks"] == payload["blocks"] and posted["text"] == payload["text"]
        assert posted["unfurl_links"] is False and posted["unfurl_media"] is False
    assert rig.fake.response_posts(response_url) == [] and rig.fake.ephemerals == []


async def test_a_public_multi_part_digest_is_posted_in_order(rig: Rig) -> None:
    expected = await expected_payloads(rig.commands, f"date {LONG_DAY} public")
    assert len(expected) >= 2

    await rig.command(f"date {LONG_DAY} public")

    await rig.fake.wait_until(lambda: len(rig.fake.posts[CHANNEL]) == len(expected))
    assert [post["blocks"] for post in rig.fake.posts[CHANNEL]] == [payload["blocks"] for payload in expected]


async def test_the_config_switch_makes_content_answers_public(tmp_path: Path) -> None:
    rig = await open_rig(tmp_path, public_replies=True)
    try:
        status, answer, _ = await rig.command("item 1")
        assert status == 200 and answer is None
        await rig.fake.wait_until(lambda: len(rig.fake.posts[CHANNEL]) == 1)
        assert "A GPU for small phones" in shown(rig.fake.posts[CHANNEL])

        # The bot's own words (help, a bad argument) stay private.
        status, answer, _ = await rig.command("help")
        assert answer is not None and answer["response_type"] == "ephemeral"
        status, answer, _ = await rig.command("item 99")
        assert answer is not None and answer["response_type"] == "ephemeral"
        assert len(rig.fake.posts[CHANNEL]) == 1
    finally:
        await close_rig(rig)


async def test_a_public_answer_where_the_bot_is_no_member_comes_privately(rig: Rig) -> None:
    rig.fake.fail_channel(CHANNEL, "not_in_channel")
    expected = await expected_payloads(rig.commands, "item 2 public")

    status, answer, response_url = await rig.command("item 2 public")

    assert status == 200 and answer is None
    await rig.fake.wait_until(lambda: bool(rig.fake.response_posts(response_url)))
    assert rig.fake.response_posts(response_url) == [message_fields(payload) for payload in expected]
    assert rig.fake.refused == [(CHANNEL, "not_in_channel")]


# -- bad arguments ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "phrase"), [
    ("item", "Which item?"),
    ("item abc", "“abc” is not an item number"),
    ("item 99", "There are only 4 items today (1-4)"),
    ("category", "Which category?"),
    ("category gardening", "There is no category “gardening”"),
    ("date", "Which day?"),
    ("date 2025-13-45", "“2025-13-45” is not a date"),
    ("date 2025-01-01", "No digest for 2025-01-01 or any day before it"),
    ("frobnicate", "Unknown command /digest frobnicate"),
])
async def test_bad_arguments_get_a_short_private_hint(rig: Rig, text: str, phrase: str) -> None:
    status, answer, response_url = await rig.command(text)

    assert status == 200 and answer is not None
    assert answer["response_type"] == "ephemeral"
    assert phrase in shown([answer])
    assert answer == message_fields((await expected_payloads(rig.commands, text))[0])
    assert rig.fake.all_posts() == [] and rig.fake.response_posts(response_url) == []


# -- subscriptions ------------------------------------------------------------------------------

async def test_subscribe_by_a_member_is_refused(rig: Rig) -> None:
    status, answer, _ = await rig.command("subscribe 08:15", user=MEMBER)

    assert status == 200 and answer is not None and answer["response_type"] == "ephemeral"
    assert words("en", "admins_only") in shown([answer])
    assert await rig.store.subscriptions() == []
    assert rig.fake.user_lookups == [MEMBER]
    assert rig.fake.all_posts() == []


@pytest.mark.parametrize("user", [WORKSPACE_ADMIN, WORKSPACE_OWNER, LISTED_ADMIN])
async def test_subscribe_by_an_admin_is_stored_and_announced(rig: Rig, user: str) -> None:
    status, answer, _ = await rig.command("subscribe 08:15", user=user)

    assert status == 200 and answer is None
    assert await rig.store.subscriptions() == [
        Subscription(platform="slack", chat=CHANNEL, schedule="08:15", timezone="Asia/Shanghai", subscribed_by=user)]
    await rig.fake.wait_until(lambda: len(rig.fake.posts[CHANNEL]) == 1)
    assert "08:15" in shown(rig.fake.posts[CHANNEL])
    # A user the config names is trusted without asking Slack.
    assert (user in rig.fake.user_lookups) == (user != LISTED_ADMIN)


async def test_subscribe_with_a_bad_time_by_an_admin_changes_nothing(rig: Rig) -> None:
    status, answer, _ = await rig.command("subscribe 25:99", user=WORKSPACE_ADMIN)

    assert status == 200 and answer is not None and "“25:99” is not a time of day" in shown([answer])
    assert await rig.store.subscriptions() == []


async def test_unsubscribe_needs_an_admin(rig: Rig) -> None:
    await rig.store.subscribe(Subscription(platform="slack", chat=CHANNEL, schedule="09:30"))

    _, refused, _ = await rig.command("unsubscribe", user=MEMBER)
    assert refused is not None and words("en", "admins_only") in shown([refused])
    assert len(await rig.store.subscriptions()) == 1

    _, answer, _ = await rig.command("unsubscribe", user=WORKSPACE_ADMIN)
    assert answer is None
    assert await rig.store.subscriptions() == []
    await rig.fake.wait_until(lambda: len(rig.fake.posts[CHANNEL]) == 1)
    assert words("en", "unsubscribed") in shown(rig.fake.posts[CHANNEL])


async def test_subscribing_in_a_direct_message_is_for_admins_too(rig: Rig) -> None:
    # The issue: subscribe/unsubscribe are for workspace admins and configured users, wherever typed.
    status, answer, _ = await rig.command("subscribe", user=MEMBER, channel="D0DIRECT")
    assert status == 200 and answer is not None
    assert await rig.store.subscriptions() == []

    status, answer, _ = await rig.command("subscribe", user=WORKSPACE_ADMIN, channel="D0ADMIN")
    assert status == 200
    [subscription] = await rig.store.subscriptions()
    assert subscription.chat == "D0ADMIN" and subscription.schedule == "09:30"


# -- mentions -----------------------------------------------------------------------------------

async def test_url_verification_returns_the_challenge(rig: Rig) -> None:
    response = await rig.event({"type": "url_verification", "token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV"})

    assert response.status == 200
    assert await response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


async def test_a_mention_is_acked_and_answered_privately(rig: Rig) -> None:
    response = await rig.event(rig.fake.mention("<@UBOT> item 3", user=MEMBER))

    assert response.status == 200
    await rig.fake.wait_until(lambda: len(rig.fake.ephemerals) == 1)
    [reply] = rig.fake.ephemerals
    assert reply["channel"] == CHANNEL and reply["user"] == MEMBER
    assert "A robot arm that folds shirts" in shown([reply])
    [payload] = await expected_payloads(rig.commands, "item 3")
    assert reply["blocks"] == payload["blocks"]
    assert rig.fake.all_posts() == []


async def test_a_public_mention_is_posted_in_the_channel(rig: Rig) -> None:
    await rig.event(rig.fake.mention("hey <@UBOT|digest> today public"))

    expected = await expected_payloads(rig.commands, "today public")
    await rig.fake.wait_until(lambda: len(rig.fake.posts[CHANNEL]) == len(expected))
    assert [post["blocks"] for post in rig.fake.posts[CHANNEL]] == [payload["blocks"] for payload in expected]
    assert rig.fake.ephemerals == []


async def test_a_mention_in_a_thread_is_answered_in_that_thread(rig: Rig) -> None:
    await rig.event(rig.fake.mention("<@UBOT> item 1", thread_ts="1700000000.000001"))
    await rig.event(rig.fake.mention("<@UBOT> item 2 public", thread_ts="1700000000.000002"))
    await rig.channel.drain()

    [private] = rig.fake.ephemerals
    assert private["thread_ts"] == "1700000000.000001" and "A GPU for small phones" in shown([private])
    [public] = rig.fake.posts[CHANNEL]
    assert public["thread_ts"] == "1700000000.000002" and "An SDK for agent builders" in shown([public])


async def test_a_bare_mention_gets_help(rig: Rig) -> None:
    await rig.event(rig.fake.mention("<@UBOT>"))

    await rig.fake.wait_until(lambda: len(rig.fake.ephemerals) == 1)
    assert "/digest today" in shown(rig.fake.ephemerals)


async def test_a_retried_event_is_acked_but_answered_once(rig: Rig) -> None:
    mention = rig.fake.mention("<@UBOT> item 1")
    await rig.event(mention)
    await rig.channel.drain()

    for attempt in (1, 2, 3):
        response = await rig.event(mention, retry=attempt)
        assert response.status == 200
    await rig.channel.drain()

    [reply] = rig.fake.ephemerals
    assert "A GPU for small phones" in shown([reply])


async def test_a_retry_of_an_event_never_seen_is_answered(rig: Rig) -> None:
    # Slack retries when our first ack did not reach it; if the first delivery never reached us
    # either, the retry is the only chance to answer.
    response = await rig.event(rig.fake.mention("<@UBOT> item 2"), retry=1)
    assert response.status == 200
    await rig.channel.drain()

    [reply] = rig.fake.ephemerals
    assert "An SDK for agent builders" in shown([reply])


async def test_bot_messages_and_our_own_are_ignored(rig: Rig) -> None:
    await rig.event(rig.fake.mention("<@UBOT> today", bot_id="B0OTHER"))
    await rig.event(rig.fake.mention("<@UBOT> today", user="UBOT"))
    await rig.event(rig.fake.mention("<@UBOT> today", subtype="bot_message"))
    await rig.event(rig.fake.mention("<@UBOT> item 4"))
    await rig.channel.drain()

    [reply] = rig.fake.ephemerals
    assert "A chip plant opens" in shown([reply])
    assert rig.fake.all_posts() == []


# -- throttled commands -------------------------------------------------------------------------

async def test_a_throttled_command_gets_one_notice_then_an_empty_ack(rig: Rig) -> None:
    for _ in range(PER_USER_IN_GROUP.count):
        status, answer, _ = await rig.command("help")
        assert status == 200 and answer is not None
    status, notice, _ = await rig.command("help")
    assert status == 200 and notice is not None
    assert words("en", "too_fast", seconds=60).split("60")[0] in shown([notice])

    status, silent, response_url = await rig.command("today public")
    await rig.channel.drain()

    assert (status, silent) == (200, None)
    assert rig.fake.response_posts(response_url) == [] and rig.fake.all_posts() == [] and rig.fake.ephemerals == []


async def test_a_throttled_mention_is_not_answered_at_all(rig: Rig) -> None:
    for _ in range(PER_USER_IN_GROUP.count + 1):
        await rig.event(rig.fake.mention("<@UBOT> help", user=MEMBER))
    await rig.channel.drain()
    assert len(rig.fake.ephemerals) == PER_USER_IN_GROUP.count + 1     # the answers, then one notice

    response = await rig.event(rig.fake.mention("<@UBOT> today public", user=MEMBER))
    await rig.channel.drain()

    assert response.status == 200
    assert len(rig.fake.ephemerals) == PER_USER_IN_GROUP.count + 1 and rig.fake.all_posts() == []


# -- refused requests ---------------------------------------------------------------------------

def forged(raw: bytes) -> dict[str, str]:
    return signed_headers("not-the-signing-secret", raw)


def stale(raw: bytes) -> dict[str, str]:
    return signed_headers(SECRET, raw, timestamp=int(time.time()) - 6 * 60)


def future(raw: bytes) -> dict[str, str]:
    return signed_headers(SECRET, raw, timestamp=int(time.time()) + 6 * 60)


def unsigned(raw: bytes) -> dict[str, str]:
    return {}


def no_signature(raw: bytes) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": str(int(time.time()))}


def no_timestamp(raw: bytes) -> dict[str, str]:
    return {"X-Slack-Signature": signed_headers(SECRET, raw)["X-Slack-Signature"]}


def garbage_timestamp(raw: bytes) -> dict[str, str]:
    return {**signed_headers(SECRET, raw), "X-Slack-Request-Timestamp": "yesterday"}


def tampered(raw: bytes) -> dict[str, str]:
    # Signed for a different body: the one sent was changed on the way.
    return signed_headers(SECRET, raw.replace(b"subscribe", b"unsubscrib") + b"&x=1")


REFUSALS = [forged, stale, future, unsigned, no_signature, no_timestamp, garbage_timestamp, tampered]


@pytest.mark.parametrize("headers", REFUSALS, ids=lambda h: h.__name__)
async def test_an_unsigned_command_is_refused_and_runs_nothing(rig: Rig, headers: Callable[[bytes], dict[str, str]],
                                                               ) -> None:
    status, answer, response_url = await rig.command("subscribe 07:00", user=WORKSPACE_ADMIN, headers=headers)

    assert status == 401 and answer is None
    assert rig.fake.calls == ["auth.test"]          # no users.info, no post: nothing ran
    assert await rig.store.subscriptions() == []
    assert rig.fake.response_posts(response_url) == []


@pytest.mark.parametrize("headers", REFUSALS, ids=lambda h: h.__name__)
async def test_an_unsigned_event_is_refused_and_runs_nothing(rig: Rig, headers: Callable[[bytes], dict[str, str]],
                                                             ) -> None:
    mention = rig.fake.mention("<@UBOT> subscribe 07:00", user=WORKSPACE_ADMIN)

    response = await rig.event(mention, headers=headers)

    assert response.status == 401
    assert rig.fake.calls == ["auth.test"]
    assert await rig.store.subscriptions() == []
    # The refused request did not even mark the event id as seen: the genuine delivery still runs.
    await rig.event(mention)
    await rig.fake.wait_until(lambda: bool(rig.fake.posts[CHANNEL]))
    assert len(await rig.store.subscriptions()) == 1


async def test_an_unsigned_url_verification_is_refused(rig: Rig) -> None:
    response = await rig.event({"type": "url_verification", "challenge": "abc"}, headers=forged)
    assert response.status == 401


async def test_slacks_certificate_check_is_answered_and_runs_nothing(rig: Rig) -> None:
    body = urlencode({"ssl_check": "1", "token": "legacy-verification-token"}).encode()
    response = await rig.client.post("/slack/commands", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", **signed_headers(SECRET, body)})

    assert response.status == 200 and await response.read() == b""
    assert rig.fake.calls == ["auth.test"]


async def test_a_signed_request_that_is_no_command_is_a_bad_request(rig: Rig) -> None:
    # Slack signs UTF-8 text; bytes that are not cannot be one of its requests, whatever the signature.
    body = b"\xff\xfe not a form"
    response = await rig.client.post("/slack/commands", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", **signed_headers(SECRET, body)})
    assert response.status == 401

    body = urlencode({"text": "today"}).encode()        # no user, no channel
    response = await rig.client.post("/slack/commands", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", **signed_headers(SECRET, body)})
    assert response.status == 400

    raw = b"[1, 2, 3]"
    response = await rig.client.post("/slack/events", data=raw, headers={
        "Content-Type": "application/json", **signed_headers(SECRET, raw)})
    assert response.status == 400
    assert rig.fake.calls == ["auth.test"]


async def test_an_oversized_body_is_refused_before_anything_else(rig: Rig) -> None:
    raw = b"text=" + b"a" * (128 * 1024)
    response = await rig.client.post("/slack/commands", data=raw, headers={
        "Content-Type": "application/x-www-form-urlencoded", **signed_headers(SECRET, raw)})

    assert response.status == 413
    assert rig.fake.calls == ["auth.test"]


@pytest.mark.parametrize("headers", [stale, unsigned, garbage_timestamp], ids=lambda h: h.__name__)
async def test_a_request_without_a_fresh_signature_is_refused_before_its_body_is_read(
        rig: Rig, headers: Callable[[bytes], dict[str, str]]) -> None:
    raw = b"text=" + b"a" * (4 * 1024 * 1024)
    response = await rig.client.post("/slack/events", data=raw, headers={
        "Content-Type": "application/json", **headers(raw)})

    # 401, not 413: the headers alone settled it.
    assert response.status == 401
    assert rig.fake.calls == ["auth.test"]


async def test_deeply_nested_json_in_a_signed_event_is_a_bad_request(rig: Rig) -> None:
    raw = b'{"type": "event_callback", "event": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    response = await rig.client.post("/slack/events", data=raw, headers={
        "Content-Type": "application/json", **signed_headers(SECRET, raw)})
    assert response.status == 400
    assert rig.fake.calls == ["auth.test"]


async def test_without_a_signing_secret_every_request_is_refused(tmp_path: Path) -> None:
    rig = await open_rig(tmp_path, signing_secret="")
    try:
        status, _, _ = await rig.command("help")
        assert status == 401
    finally:
        await close_rig(rig)


async def test_what_the_renderer_makes_is_what_slack_gets(rig: Rig) -> None:
    # Guards the helper above: the adapter renders with the Slack renderer, not another one.
    digest = await rig.commands.source.for_date(dt.date(2025, 10, 7))
    assert digest is not None
    assert await expected_payloads(rig.commands, "today") == render.render_digest(digest)


async def test_a_signature_header_with_non_ascii_bytes_is_refused_like_any_forgery(rig: Rig) -> None:
    from tests.fakes import raw_post_status

    assert rig.client.server.port is not None
    body = urlencode(rig.fake.slash_command("today")).encode()
    status = await raw_post_status("127.0.0.1", rig.client.server.port, "/slack/commands", [
        b"Content-Type: application/x-www-form-urlencoded",
        b"X-Slack-Request-Timestamp: " + str(int(time.time())).encode(),
        b"X-Slack-Signature: v0=\xc3\xa9\xff"], body)
    assert status == 401
    assert rig.fake.all_posts() == []


async def test_command_text_arrives_unescaped(rig: Rig) -> None:
    # Slack escapes &, < and > in what the user typed; the bot answers about what was typed.
    status, answer, _ = await rig.command("category R&amp;D &lt;x&gt;")
    assert status == 200 and answer is not None
    shown = json.dumps(answer, ensure_ascii=False)
    assert "R&amp;D &lt;x&gt;" in shown
    assert "&amp;amp;" not in shown and "&amp;lt;" not in shown


async def test_a_flood_of_forged_requests_logs_one_line_not_one_each(rig: Rig, caplog: pytest.LogCaptureFixture,
                                                                    ) -> None:
    caplog.set_level(logging.WARNING, logger="bot.platforms.slack")
    for _ in range(40):
        status, _, _ = await rig.command("today", headers=forged)
        assert status == 401
    refusals = [record for record in caplog.records if "refused" in record.getMessage()]
    assert len(refusals) == 1
