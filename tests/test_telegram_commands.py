"""Commands end to end: updates reach the running bot by polling or by webhook, replies reach the fake."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from bot.commands import Commands, menu
from bot.config import CategoryRule, DeliverySettings, TelegramSettings
from bot.delivery import Deliverer, Outcome, Target
from bot.digest.categories import Categorizer
from bot.digest.model import Digest
from bot.digest.parse import parse_file
from bot.digest.sources import FolderSource
from bot.i18n import join_list, text
from bot.platforms.telegram import WEBHOOK_PATH, TelegramChannel, TelegramRateLimits, render_digest, render_items
from bot.ratelimit import PER_USER_IN_GROUP
from bot.store import open_store
from bot.store.base import DeliveryKey, Store
from tests.conftest import free_port
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram, SentMessage, webhook_body, webhook_headers
from tests.fakes.tdparse import parse

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "555000111:AAF-commands-test-token-abcdefghijklmnop"
SECRET = "webhook-secret_0123456789"
BOT = "DigestTestBot"
TZ = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2025, 10, 10)
EARLIER = dt.date(2025, 10, 8)
NOW = dt.datetime(2025, 10, 10, 9, 0, tzinfo=TZ)
PRIVATE = 31337
GROUP = -1001234500001
ADMIN = 9001
MEMBER = 9002
SCALE = 50.0     # Telegram's limits sped up, so a multi-part reply takes milliseconds
RULES = (
    CategoryRule("Hardware", aliases=("hw", "硬件"), keywords=("GPU",)),
    CategoryRule("Large Models", aliases=("llm", "大模型")),
)


def digest_markdown(day: dt.date, count: int, *, hardware: set[int]) -> str:
    """A digest in the project's format; items in `hardware` carry the marker, item 5 a keyword."""
    lines = ["---", f'title: "Test digest for {day.isoformat()}"', f"date: {day.isoformat()}T08:00:00+08:00",
             "categories: [Hardware, Large Models]", "---", "",
             f"An introduction for {day.isoformat()} with **bold** words & a < sign.", "", "---", ""]
    for number in range(1, count + 1):
        title = f"Story number {number} of {day.isoformat()}"
        if number == 5:
            title += " about a GPU"
        lines += [f"{number}.  [{title}](https://news.example.com/{day.isoformat()}/{number})", ""]
        marker = "Hardware" if number in hardware else "Large Models"
        lines += [f"    <!-- categories: {marker} -->", ""]
        lines += [f"    Summary of story {number}: **key fact {number}** and some detail. " * 10, ""]
    lines += ["---", "", "### Commentary", "", "A closing remark for the day.", ""]
    return "\n".join(lines)


@dataclass
class Clock:
    now: dt.datetime = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Session:
    """A running bot wired to the fake: deliver updates, read what the fake received."""

    fake: FakeTelegram
    channel: TelegramChannel
    store: Store
    clock: Clock
    language: str
    deliver: Callable[[dict[str, Any]], Awaitable[None]]
    deliverer: Deliverer
    digests: dict[dt.date, Digest] = field(default_factory=dict)
    expected_total: int = 0
    last_update: dict[str, Any] = field(default_factory=dict)

    def words(self, key: str, **values: object) -> str:
        return text(self.language, key, **values)

    async def ask(self, command: str, *, chat: int = PRIVATE, user: int = PRIVATE, parts: int = 1,
                  **how: Any) -> list[SentMessage]:
        """Send `command` as `user` in `chat`; return the `parts` messages the bot answered with."""
        before = len(self.fake.sent.get(str(chat), []))
        if chat == PRIVATE:
            user = PRIVATE
        update = self.fake.message_update(command, chat=chat, user=user, **how)
        self.last_update = update
        await self.deliver(update)
        self.expected_total += parts
        if parts == 0:
            return []
        received = await self.fake.wait_for_messages(chat, before + parts)
        return received[before:before + parts]

    async def answer(self, command: str, **where: Any) -> str:
        (reply,) = await self.ask(command, **where)
        return reply.text

    def expected_texts(self, payloads: list[dict[str, Any]]) -> list[str]:
        return [parse(payload["text"], payload["parse_mode"]).text for payload in payloads]


MODES = [("polling", "en"), ("polling", "zh"), ("webhook", "en"), ("webhook", "zh")]


@pytest.fixture(params=MODES, ids=[f"{mode}-{language}" for mode, language in MODES])
async def session(request: pytest.FixtureRequest, tmp_path: Path,
                  caplog: pytest.LogCaptureFixture) -> AsyncIterator[Session]:
    mode, language = request.param
    # Every record of the whole session is checked for the token at the end.
    caplog.set_level(logging.DEBUG)
    for name in ("telegram", "bot", "aiohttp"):
        caplog.set_level(logging.DEBUG, logger=name)
    folder = tmp_path / "digests"
    folder.mkdir()
    (folder / "today.md").write_text(digest_markdown(TODAY, 10, hardware={1, 2}), encoding="utf-8")
    (folder / "earlier.md").write_text(digest_markdown(EARLIER, 3, hardware=set()), encoding="utf-8")
    categorizer = Categorizer(RULES)
    source = FolderSource(folder, categorizer, TZ)
    store = open_store("memory://", tmp_path)
    clock = Clock()
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE), bot_username=BOT) as fake:
        settings = TelegramSettings(token=TOKEN, base_url=fake.base_url, updates=mode,
                                    webhook_url="https://bot.example.com/telegram/webhook", webhook_secret=SECRET)
        channel = TelegramChannel(settings, commands=Commands(source, store, categorizer), language=language,
                                  timezone=TZ, now=clock, rate_limits=TelegramRateLimits().scaled(SCALE),
                                  poll_timeout=1.0)
        deliverer = Deliverer(store, {"telegram": channel}, DeliverySettings(backoff_base=0.01))
        channel.bind(deliverer)
        runner: web.AppRunner | None = None
        http: aiohttp.ClientSession | None = None
        if mode == "polling":
            deliver = fake.push_update
        else:
            app = web.Application()
            app.add_routes(channel.routes())
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            http = aiohttp.ClientSession()
            url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"

            async def deliver(update: dict[str, Any]) -> None:
                assert http is not None
                async with http.post(url, data=webhook_body(update), headers=webhook_headers(SECRET)) as response:
                    assert response.status == 200

        await channel.start()
        digests = {day: parse_file(path) for day, path in ((TODAY, folder / "today.md"),
                                                          (EARLIER, folder / "earlier.md"))}
        digests = {day: categorizer.categorize(digest) for day, digest in digests.items()}
        try:
            yield Session(fake, channel, store, clock, language, deliver, deliverer, digests)
        finally:
            await channel.stop()
            if http is not None:
                await http.close()
            if runner is not None:
                await runner.cleanup()
            await store.close()
            await source.close()
        assert [refusal for refusal in fake.refused if refusal[1] < 500] == [], "Telegram refused a message"
        assert fake.rate_limited == [], "the bot ran into Telegram's flood control"
    records = [record for when in ("setup", "call", "teardown") for record in caplog.get_records(when)]
    assert any("setMyCommands" in record.getMessage() for record in records), "the capture saw no API call"
    leaked = [record.getMessage() for record in records
              if TOKEN in record.getMessage() or SECRET in record.getMessage()]
    assert leaked == []


async def test_start_publishes_the_menu_in_both_languages(session: Session) -> None:
    published = session.fake.commands
    default_scope = json.dumps({"type": "default"})
    for language in ("zh", "en"):
        expected = [{"command": name, "description": description} for name, description in menu(language)]
        assert published[(default_scope, language)] == expected
    assert published[(default_scope, "")] == published[(default_scope, session.language)]
    if session.channel.settings.updates == "polling":
        assert session.fake.method_calls("deleteWebhook")
        assert session.fake.webhook["url"] == ""
    else:
        assert session.fake.webhook == {"url": "https://bot.example.com/telegram/webhook", "secret_token": SECRET}
        assert session.fake.method_calls("getUpdates") == []
    assert session.channel.username == BOT
    assert await session.channel.ready()


async def test_today_and_date_send_every_part_in_order(session: Session) -> None:
    today = session.digests[TODAY]
    payloads = render_digest(today)
    assert len(payloads) > 1, "the test digest should need several messages"
    received = await session.ask("/today", parts=len(payloads))
    assert [message.text for message in received] == session.expected_texts(payloads)
    assert all(message.params["link_preview_options"] == {"is_disabled": True} for message in received)

    earlier = render_digest(session.digests[EARLIER])
    received = await session.ask(f"/date {EARLIER.isoformat()}", parts=len(earlier))
    assert [message.text for message in received] == session.expected_texts(earlier)

    assert await session.answer("/date 2025-13-01") == session.words(
        "date_invalid", arg="2025-13-01", p="/", example=(TODAY - dt.timedelta(days=1)).isoformat())
    assert await session.answer("/date") == session.words(
        "date_usage", p="/", example=(TODAY - dt.timedelta(days=1)).isoformat())
    assert await session.answer("/date 2025-10-09") == session.words(
        "date_none", date="2025-10-09", latest=EARLIER.isoformat(), p="/")
    assert await session.answer("/date 2020-01-01") == session.words("date_none_earlier", date="2020-01-01")


async def test_a_reply_never_lands_inside_a_scheduled_post(session: Session) -> None:
    post = render_digest(session.digests[TODAY])
    item = session.digests[TODAY].item(2)
    assert item is not None and len(post) > 1
    heading = session.words("item_heading", number=2, date=TODAY.isoformat())
    reply = render_items(heading, [item], session.digests[TODAY])
    target = Target("private-subscriber", "telegram", str(PRIVATE))
    # The first send in the chat stalls and fails, so the command arrives while the chat is busy.
    session.fake.hang(PRIVATE, seconds=0.3)
    delivery = asyncio.create_task(session.deliverer.deliver(DeliveryKey(TODAY, target.name), target, post))
    await session.deliver(session.fake.message_update("/item 2", chat=PRIVATE, user=PRIVATE))
    result = await delivery
    assert result.outcome is Outcome.DELIVERED
    texts = [message.text for message in await session.fake.wait_for_messages(PRIVATE, len(post) + len(reply))]
    post_texts, reply_texts = session.expected_texts(post), session.expected_texts(reply)
    # Whichever took the chat first, each arrived whole: the post's parts were never split by the reply.
    assert texts in (post_texts + reply_texts, reply_texts + post_texts)


async def test_item_answers_one_item_and_explains_bad_numbers(session: Session) -> None:
    today = session.digests[TODAY]
    item = today.item(3)
    assert item is not None
    heading = session.words("item_heading", number=3, date=TODAY.isoformat())
    expected = render_items(heading, [item], today)
    received = await session.ask("/item 3", parts=len(expected))
    assert [message.text for message in received] == session.expected_texts(expected)
    assert item.title in received[0].text and "Story number 4 " not in received[0].text

    assert await session.answer("/item 99") == session.words("item_out_of_range", count=10, first=1, last=10)
    assert await session.answer("/item abc") == session.words("item_not_number", arg="abc", p="/")
    assert await session.answer("/item") == session.words("item_usage", p="/")


async def test_categories_by_name_alias_and_keyword(session: Session) -> None:
    today = session.digests[TODAY]
    for asked in ("hardware", "HW", "硬件"):
        heading = session.words("category_heading", category="Hardware", date=TODAY.isoformat())
        items = [item for item in today.items if "Hardware" in item.categories]
        assert [item.number for item in items] == [1, 2, 5]
        expected = render_items(heading, items, today)
        received = await session.ask(f"/category {asked}", parts=len(expected))
        assert [message.text for message in received] == session.expected_texts(expected)

    known = join_list(session.language, ["Hardware", "Large Models"])
    assert await session.answer("/category gardening") == session.words(
        "category_unknown", name="gardening", categories=known)
    assert await session.answer("/category") == session.words("category_usage", p="/", categories=known)
    listing = await session.answer("/categories")
    assert listing.splitlines() == [
        session.words("categories_today", date=TODAY.isoformat()),
        session.words("categories_line", category="Hardware", count=3),
        session.words("categories_line", category="Large Models", count=8),  # 5 has both
    ]


async def test_no_digest_yet_today_answers_from_the_latest(session: Session) -> None:
    session.clock.now = dt.datetime(2025, 10, 9, 12, 0, tzinfo=TZ)
    expected = session.words("none_today", today="2025-10-09", latest=EARLIER.isoformat(), p="/")
    assert await session.answer("/today") == expected
    item = await session.answer("/item 1")
    heading = session.words("item_heading", number=1, date=EARLIER.isoformat())
    assert item.startswith(session.words("from_latest", text=heading, today="2025-10-09"))


async def test_help_start_and_unknown_commands_in_a_private_chat(session: Session) -> None:
    help_text = await session.answer("/help")
    assert help_text.splitlines()[0] == session.words("help_intro")
    for name, _description in menu(session.language):
        assert f"/{name}" in help_text
    assert await session.answer("/start") == help_text
    assert await session.answer(f"/help@{BOT}") == help_text
    assert await session.answer("/frobnicate") == session.words("unknown_command", p="/", name="frobnicate")
    assert session.fake.total_sent() == session.expected_total


async def test_group_commands_answer_their_message_and_ignore_other_bots(session: Session) -> None:
    fake = session.fake
    await session.ask("/today@OtherBot", chat=GROUP, user=MEMBER, parts=0)
    await session.ask("/help@otherbot", chat=GROUP, user=MEMBER, parts=0)
    await session.ask("/somethingelse", chat=GROUP, user=MEMBER, parts=0)
    (reply,) = await session.ask(f"/item@{BOT} 2", chat=GROUP, user=MEMBER)
    assert "Story number 2 " in reply.text
    # The reply answers the command message in a busy group.
    assert reply.params["reply_parameters"] == {
        "message_id": session.last_update["message"]["message_id"], "allow_sending_without_reply": True}
    assert await session.answer("/item 99", chat=GROUP, user=MEMBER) == session.words(
        "item_out_of_range", count=10, first=1, last=10)
    # Everything that arrived is accounted for: nothing answered the commands for other bots.
    assert len(fake.sent[str(GROUP)]) == session.expected_total


async def test_only_group_admins_change_the_subscription(session: Session) -> None:
    fake = session.fake
    fake.make_admin(GROUP, ADMIN)
    assert await session.answer("/subscribe 08:15", chat=GROUP, user=MEMBER) == session.words("admins_only")
    assert await session.store.subscriptions() == []

    assert await session.answer(f"/subscribe@{BOT} 08:15", chat=GROUP, user=ADMIN) == session.words(
        "subscribed", time="08:15", timezone="Asia/Shanghai")
    (subscription,) = await session.store.subscriptions()
    assert (subscription.platform, subscription.chat, subscription.schedule, subscription.subscribed_by) == (
        "telegram", str(GROUP), "08:15", str(ADMIN))
    checked = fake.method_calls("getChatMember")
    assert {(str(call["chat_id"]), str(call["user_id"])) for call in checked} == {
        (str(GROUP), str(MEMBER)), (str(GROUP), str(ADMIN))}

    assert await session.answer("/subscribe 25:00", chat=GROUP, user=ADMIN) == session.words(
        "subscribe_bad_time", arg="25:00", p="/")
    assert await session.answer("/unsubscribe", chat=GROUP, user=MEMBER) == session.words("admins_only")
    assert len(await session.store.subscriptions()) == 1
    assert await session.answer("/unsubscribe", chat=GROUP, user=ADMIN) == session.words("unsubscribed")
    assert await session.store.subscriptions() == []


async def test_commands_in_a_forum_topic_are_answered_there_and_subscribe_remembers_it(session: Session) -> None:
    fake = session.fake
    fake.make_forum(GROUP, 77)
    fake.make_admin(GROUP, ADMIN)
    (answer,) = await session.ask("/item 1", chat=GROUP, user=ADMIN, thread=77)
    assert answer.thread == 77
    (subscribed,) = await session.ask("/subscribe 08:15", chat=GROUP, user=ADMIN, thread=77)
    assert subscribed.thread == 77
    (subscription,) = await session.store.subscriptions()
    assert subscription.topic == "77"
    # Asked again outside any topic: answered in the chat itself, and the subscription posts there.
    (plain,) = await session.ask("/subscribe 08:15", chat=GROUP, user=ADMIN)
    assert plain.thread is None
    assert (await session.store.subscriptions())[0].topic is None


async def press(session: Session, message: SentMessage, label: str) -> SentMessage:
    """Press a button under `message`; the message once the press is answered and the answer shown."""
    fake = session.fake
    update = fake.press(message, label)
    query = update["callback_query"]["id"]
    edits = len(fake.edits)
    await session.deliver(update)
    await fake.wait_until(lambda: query in fake.answered and len(fake.edits) > edits)
    return fake.message(message.chat_id, message.message_id)


async def test_item_answers_page_through_every_item_and_back_by_buttons(session: Session) -> None:
    fake = session.fake
    (answer,) = await session.ask("/item 1")
    heading = session.words("item_heading", number=1, date=TODAY.isoformat())
    assert answer.text.startswith(heading)
    for number in range(2, 11):
        answer = await press(session, answer, "▶")
        assert answer.text.startswith(session.words("item_heading", number=number, date=TODAY.isoformat()))
    assert [button["text"] for row in answer.params["reply_markup"]["inline_keyboard"] for button in row] == ["◀"]
    for number in range(9, 0, -1):
        answer = await press(session, answer, "◀")
        assert answer.text.startswith(session.words("item_heading", number=number, date=TODAY.isoformat()))
    assert set(fake.answered) == set(fake.pressed)          # every press answered
    assert len(fake.sent[str(PRIVATE)]) == 1                # all in place: no message added


async def test_category_without_a_name_answers_with_a_button_per_category(session: Session) -> None:
    (menu_message,) = await session.ask("/category")
    rows = menu_message.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in rows] == ["Hardware", "Large Models"]
    update = session.fake.press(menu_message, "Hardware")
    await session.deliver(update)
    listing = (await session.fake.wait_for_messages(PRIVATE, 2))[1]
    assert listing.text.startswith(session.words("category_heading", category="Hardware", date=TODAY.isoformat()))
    assert update["callback_query"]["id"] in session.fake.answered


async def test_anonymous_admins_and_channel_posts_count_as_admins(session: Session) -> None:
    subscribed = session.words("subscribed", time="09:30", timezone="Asia/Shanghai")
    assert await session.answer("/subscribe", chat=GROUP, as_chat=True) == subscribed
    channel = -1005550000001
    assert await session.answer(f"/subscribe@{BOT}", chat=channel, chat_type="channel") == subscribed
    assert {subscription.chat for subscription in await session.store.subscriptions()} == {str(GROUP), str(channel)}
    # Telegram vouches for both senders; nobody had to be looked up.
    assert session.fake.method_calls("getChatMember") == []


async def test_a_private_chat_subscribes_without_an_admin_check(session: Session) -> None:
    assert await session.answer("/subscribe") == session.words(
        "subscribed", time="09:30", timezone="Asia/Shanghai")
    assert await session.answer("/subscribe 07:05") == session.words(
        "subscription_changed", time="07:05", timezone="Asia/Shanghai")
    (subscription,) = await session.store.subscriptions()
    assert (subscription.chat, subscription.schedule) == (str(PRIVATE), "07:05")
    assert session.fake.method_calls("getChatMember") == []
    assert await session.answer("/unsubscribe") == session.words("unsubscribed")
    assert await session.answer("/unsubscribe") == session.words("not_subscribed")


async def test_a_throttled_command_gets_one_notice_then_nothing(session: Session) -> None:
    cap = PER_USER_IN_GROUP.count
    for _ in range(cap):
        await session.ask("/help", chat=GROUP, user=MEMBER)
    (notice,) = await session.ask("/help", chat=GROUP, user=MEMBER)
    assert notice.text.startswith(session.words("too_fast", seconds=60).split("60")[0])
    await session.ask("/help", chat=GROUP, user=MEMBER, parts=0)     # silent: not even a notice
    # Another member is still answered, and one chat's answers keep their order: a reply to the
    # silenced command would have come before this one.
    (other,) = await session.ask("/item 2", chat=GROUP, user=ADMIN)
    assert "Story number 2 " in other.text
    assert len(session.fake.sent[str(GROUP)]) == cap + 2


async def test_without_a_deliverer_replies_are_posted_directly(tmp_path: Path) -> None:
    categorizer = Categorizer(RULES)
    store = open_store("memory://", tmp_path)
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE), bot_username=BOT) as fake:
        settings = TelegramSettings(token=TOKEN, base_url=fake.base_url, updates="polling")
        channel = TelegramChannel(settings, commands=Commands(FolderSource(tmp_path, categorizer, TZ), store,
                                                              categorizer),
                                  language="en", timezone=TZ, now=Clock(), poll_timeout=1.0,
                                  rate_limits=TelegramRateLimits().scaled(SCALE))
        await channel.start()
        try:
            await fake.say("/item abc", chat=PRIVATE, user=PRIVATE)
            (reply,) = await fake.wait_for_messages(PRIVATE, 1)
        finally:
            await channel.stop()
            await store.close()
    assert reply.text == text("en", "item_not_number", arg="abc", p="/")


# -- the webhook route on its own -----------------------------------------------------------------

@dataclass
class Webhook:
    fake: FakeTelegram
    channel: TelegramChannel
    url: str
    http: aiohttp.ClientSession

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        async with self.http.post(self.url, data=body, headers=headers) as response:
            return response.status


@pytest.fixture
async def webhook(tmp_path: Path) -> AsyncIterator[Webhook]:
    categorizer = Categorizer(RULES)
    source = FolderSource(tmp_path, categorizer, TZ)
    store = open_store("memory://", tmp_path)
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE), bot_username=BOT) as fake:
        settings = TelegramSettings(token=TOKEN, base_url=fake.base_url, updates="webhook",
                                    webhook_url="https://bot.example.com/telegram/webhook", webhook_secret=SECRET)
        channel = TelegramChannel(settings, commands=Commands(source, store, categorizer), store=store,
                                  language="en", timezone=TZ, now=Clock(),
                                  rate_limits=TelegramRateLimits().scaled(SCALE), max_update_bytes=64 * 1024)
        channel.bind(Deliverer(store, {"telegram": channel}, DeliverySettings()))
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.add_routes(channel.routes())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        async with aiohttp.ClientSession() as http:
            try:
                yield Webhook(fake, channel, f"http://127.0.0.1:{port}{WEBHOOK_PATH}", http)
            finally:
                await channel.stop()
                await runner.cleanup()
                await store.close()


async def test_the_webhook_refuses_a_missing_or_wrong_secret(webhook: Webhook) -> None:
    await webhook.channel.start()
    ignored = webhook.fake.message_update("/help", chat=PRIVATE, user=PRIVATE)
    body = webhook_body(ignored)
    assert await webhook.post(body, webhook_headers(None)) == 403
    assert await webhook.post(body, webhook_headers("wrong-secret")) == 403
    assert await webhook.post(body, webhook_headers(SECRET + "x")) == 403
    assert await webhook.post(body, webhook_headers("")) == 403
    # Refused before the body is even read: a huge body from a stranger is still just 403.
    assert await webhook.post(b"x" * (4 * 1024 * 1024), webhook_headers("wrong-secret")) == 403

    accepted = webhook.fake.message_update("/item", chat=PRIVATE, user=PRIVATE)
    assert await webhook.post(webhook_body(accepted), webhook_headers(SECRET)) == 200
    (reply,) = await webhook.fake.wait_for_messages(PRIVATE, 1)
    assert reply.text == text("en", "item_usage", p="/")
    # The refused /help never ran: the only reply is the one to the accepted update.
    again = webhook.fake.message_update("/item abc", chat=PRIVATE, user=PRIVATE)
    assert await webhook.post(webhook_body(again), webhook_headers(SECRET)) == 200
    replies = await webhook.fake.wait_for_messages(PRIVATE, 2)
    assert [message.text for message in replies] == [
        text("en", "item_usage", p="/"), text("en", "item_not_number", arg="abc", p="/")]


async def test_the_webhook_refuses_bodies_that_are_not_updates(webhook: Webhook) -> None:
    await webhook.channel.start()
    headers = webhook_headers(SECRET)
    assert await webhook.post(b"{not json", headers) == 400
    assert await webhook.post(b"[1, 2]", headers) == 400
    assert await webhook.post(b'{"update_id": "x", "message": 5}', headers) == 400
    assert await webhook.post(b'{"update_id": 1, "message": 5}', headers) == 400
    assert await webhook.post(b"{" + b" " * (64 * 1024) + b"}", headers) == 413
    assert webhook.fake.sent == {}


async def test_the_webhook_answers_an_update_once_however_often_it_comes(webhook: Webhook) -> None:
    await webhook.channel.start()
    update = webhook.fake.message_update("/item abc", chat=PRIVATE, user=PRIVATE)
    for _ in range(3):
        assert await webhook.post(webhook_body(update), webhook_headers(SECRET)) == 200
    later = webhook.fake.message_update("/item", chat=PRIVATE, user=PRIVATE)
    assert await webhook.post(webhook_body(later), webhook_headers(SECRET)) == 200

    replies = await webhook.fake.wait_for_messages(PRIVATE, 2)
    assert [message.text for message in replies] == [
        text("en", "item_not_number", arg="abc", p="/"), text("en", "item_usage", p="/")]


async def test_deeply_nested_json_is_a_bad_request_not_a_crash(webhook: Webhook) -> None:
    await webhook.channel.start()
    deep = b'{"update_id": 3, "message": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert await webhook.post(deep, webhook_headers(SECRET)) == 400
    unbalanced = b'{"update_id": 3, "message": ' + b"[" * 5000 + b"}"
    assert await webhook.post(unbalanced, webhook_headers(SECRET)) == 400
    assert webhook.fake.sent == {}


async def test_the_webhook_asks_telegram_to_retry_until_the_bot_runs(webhook: Webhook) -> None:
    update = webhook.fake.message_update("/help", chat=PRIVATE, user=PRIVATE)
    assert await webhook.post(webhook_body(update), webhook_headers(SECRET)) == 503
    await webhook.channel.start()
    assert webhook.fake.webhook == {"url": "https://bot.example.com/telegram/webhook", "secret_token": SECRET}
    assert await webhook.post(webhook_body(update), webhook_headers(SECRET)) == 200
    (reply,) = await webhook.fake.wait_for_messages(PRIVATE, 1)
    assert reply.text.startswith(text("en", "help_intro"))


async def test_a_webhook_without_a_configured_secret_takes_nothing(tmp_path: Path) -> None:
    categorizer = Categorizer(RULES)
    store = open_store("memory://", tmp_path)
    settings = TelegramSettings(token=TOKEN, base_url="http://127.0.0.1:9/bot", updates="webhook",
                                webhook_url="https://bot.example.com/telegram/webhook", webhook_secret="")
    channel = TelegramChannel(settings, commands=Commands(FolderSource(tmp_path, categorizer, TZ), store, categorizer))
    app = web.Application()
    app.add_routes(channel.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http:
            for secret in (None, "", "anything"):
                async with http.post(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", data=b"{}",
                                     headers=webhook_headers(secret)) as response:
                    assert response.status == 403
    finally:
        await runner.cleanup()
        await store.close()


async def test_a_secret_header_that_is_not_utf8_is_refused_not_an_error(webhook: Webhook) -> None:
    from urllib.parse import urlsplit

    from tests.fakes import raw_post_status

    url = urlsplit(webhook.url)
    assert url.hostname is not None and url.port is not None
    status = await raw_post_status(url.hostname, url.port, url.path, [
        b"Content-Type: application/json", b"X-Telegram-Bot-Api-Secret-Token: \xff\xfe"], b"{}")
    assert status == 403
