"""Command logic in both languages over a real folder of digests and the memory store."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import string
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.commands import (
    COMMANDS,
    CommandContext,
    Commands,
    ContextBuilder,
    Reply,
    always_admin,
    menu,
    parse_day,
    split_public,
)
from bot.digest.categories import Categorizer, rules_from_mapping
from bot.digest.sources import FolderSource, UrlSource
from bot.i18n import CATALOGUES, normalize_language
from bot.store import Store, Subscription, open_store
from tests.conftest import free_port
from tests.test_sources import digest_text

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
TODAY = dt.date(2025, 10, 7)
# 09:00 in Shanghai on TODAY.
MORNING = dt.datetime(2025, 10, 7, 1, 0, tzinfo=dt.UTC)
RULES = {
    "Hardware": {"aliases": ["hw", "硬件"], "keywords": ["chip", "芯片"]},
    "Developer Tools": {"aliases": ["dev", "开发工具"], "keywords": ["SDK"]},
    "Robotics": {"aliases": ["robots", "机器人"], "keywords": ["robot"]},
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def todays_items() -> list[tuple[str, str, str]]:
    items = [
        ("A phone chip with a model engine", "https://news.example.com/1", "Runs **small models** locally."),
        ("An SDK for agent builders", "https://news.example.com/2", "A toolkit for developers."),
        ("国产芯片量产", "https://news.example.com/3", "新一代 **芯片** 开始量产。"),
    ]
    items += [(f"Market note {n}", f"https://news.example.com/{n}", f"Prices moved on note {n}.")
              for n in range(4, 11)]
    return items


class Admin:
    """The adapter's admin check, recording whether it was asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked = 0

    async def __call__(self) -> bool:
        self.asked += 1
        return self.answer


def context(language: str = "en", *, is_group: bool = False, admin: Admin | None = None,
            now: dt.datetime = MORNING, tz: ZoneInfo = SHANGHAI, platform: str = "telegram",
            chat: str = "-1001", prefix: str = "/") -> CommandContext:
    return CommandContext(platform=platform, chat=chat, user="u42", is_group=is_group, language=language,
                          timezone=tz, is_admin=admin or Admin(True), now=now, command_prefix=prefix)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    digests = tmp_path / "digests"
    digests.mkdir()
    (digests / "issue-a.md").write_text(digest_text("2025-10-07T08:05:00+08:00", "Tuesday brief", todays_items(),
                                                    categories=["Hardware", "Developer Tools", "Markets"]),
                                        encoding="utf-8")
    (digests / "issue-b.md").write_text(digest_text("2025-10-03", "Friday brief", todays_items()[:4]),
                                        encoding="utf-8")
    (digests / "issue-c.md").write_text(digest_text("2025-09-30", "Tuesday before", todays_items()[:1]),
                                        encoding="utf-8")
    return digests


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store("memory://", tmp_path)
    yield opened
    await opened.close()


def categorizer() -> Categorizer:
    return Categorizer(rules_from_mapping(RULES))


@pytest.fixture
def commands(folder: Path, store: Store) -> Commands:
    rules = categorizer()
    return Commands(FolderSource(folder, rules, SHANGHAI), store, rules)


def notice(reply: Reply) -> str:
    assert reply.notice is not None, reply
    return reply.notice


# -- catalogues and menu ----------------------------------------------------------------------

def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    english, chinese = CATALOGUES["en"], CATALOGUES["zh"]
    assert set(english) == set(chinese)
    for key in english:
        assert english[key].strip() and chinese[key].strip(), key
        assert placeholders(english[key]) == placeholders(chinese[key]), key


def test_language_names_are_normalised() -> None:
    assert normalize_language("zh-CN") == "zh"
    assert normalize_language("zh_Hans") == "zh"
    assert normalize_language("EN-us") == "en"
    assert normalize_language("fr") == "zh"         # unknown: the default language


@pytest.mark.parametrize("language", ["zh", "en"])
def test_menu_suits_telegram(language: str) -> None:
    entries = menu(language)
    names = [name for name, _ in entries]
    assert names == [command.name for command in COMMANDS]
    for name, description in entries:
        assert re.fullmatch(r"[a-z0-9_]{1,32}", name)
        assert 0 < len(description) <= 256
    assert (CJK.search(" ".join(d for _, d in entries)) is not None) == (language == "zh")


async def test_every_menu_command_is_understood(commands: Commands) -> None:
    for name, _ in menu("en"):
        reply = await commands.handle(name, "", context())
        assert "Unknown command" not in (reply.notice or "")


# -- help -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("language", "phrase"), [("en", "today's digest"), ("zh", "今天的速递")])
async def test_help_lists_every_command(commands: Commands, language: str, phrase: str) -> None:
    reply = await commands.handle("help", "", context(language))
    text = notice(reply)
    assert reply.ok and phrase in text
    for command in COMMANDS:
        assert f"/{command.name}" in text
    assert "09:30" in text
    assert await commands.handle("start", "", context(language)) == reply


async def test_help_on_slack_uses_the_slash_command_and_mentions_public(commands: Commands) -> None:
    text = notice(await commands.handle("help", "", context(platform="slack", prefix="/digest ")))
    assert "/digest today" in text and "/digest item N" in text
    assert "public" in text


async def test_unknown_commands_point_to_help(commands: Commands) -> None:
    reply = await commands.handle("weather", "", context())
    assert not reply.ok
    assert notice(reply) == "Unknown command /weather. Send /help for the list."
    zh = await commands.handle("weather", "", context("zh"))
    assert "/help" in notice(zh) and CJK.search(notice(zh))


async def test_command_names_are_case_insensitive(commands: Commands) -> None:
    reply = await commands.handle("TODAY", "", context())
    assert reply.digest is not None


# -- today ------------------------------------------------------------------------------------

async def test_today_is_the_digest_dated_today_in_the_chat_zone(commands: Commands) -> None:
    reply = await commands.handle("today", "", context())
    assert reply.ok and reply.notice is None and not reply.public
    assert reply.digest is not None and reply.digest.title == "Tuesday brief"
    public = await commands.handle("today", "public", context())
    assert public.public and public.digest == reply.digest


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "No digest for 2025-10-08 yet. The latest is from 2025-10-07: /date 2025-10-07"),
    ("zh", "2025-10-08 的速递还没有发布。最近一期是 2025-10-07：/date 2025-10-07"),
])
async def test_today_before_publication_names_the_latest(commands: Commands, language: str, expected: str) -> None:
    # 16:30 UTC: already the 8th in Shanghai, still the 7th in New York.
    evening = dt.datetime(2025, 10, 7, 16, 30, tzinfo=dt.UTC)
    reply = await commands.handle("today", "", context(language, now=evening))
    assert reply.digest is None and notice(reply) == expected
    in_new_york = await commands.handle("today", "", context(language, now=evening, tz=NEW_YORK))
    assert in_new_york.digest is not None and in_new_york.digest.date == TODAY


@pytest.mark.parametrize(("language", "expected"), [("en", "No digest has been published yet."),
                                                    ("zh", "还没有发布过任何速递。")])
async def test_today_with_nothing_published(tmp_path: Path, store: Store, language: str, expected: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    rules = categorizer()
    commands = Commands(FolderSource(empty, rules, SHANGHAI), store, rules)
    assert notice(await commands.handle("today", "", context(language))) == expected


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_an_unreadable_source_gets_a_short_reply(tmp_path: Path, store: Store, language: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    rules = categorizer()
    missing = tmp_path / "nowhere"
    commands = Commands(FolderSource(missing, rules, SHANGHAI), store, rules)
    with caplog.at_level(logging.WARNING, logger="bot.commands"):
        reply = await commands.handle("today", "", context(language))
    assert not reply.ok
    text = notice(reply)
    assert "2025-10-07" in text and str(tmp_path) not in text and "Traceback" not in text
    assert any(str(missing) in record.getMessage() for record in caplog.records)   # details go to the log


async def test_an_unreachable_url_source_gets_the_same_short_reply(store: Store) -> None:
    rules = categorizer()
    source = UrlSource(f"http://127.0.0.1:{free_port()}/{{date:%Y-%m-%d}}.md", rules, SHANGHAI, fresh_for=0)
    commands = Commands(source, store, rules)
    try:
        reply = await commands.handle("date", "2025-10-03", context())
    finally:
        await source.close()
    assert not reply.ok
    assert notice(reply) == "The digest for 2025-10-03 could not be read right now. Please try again later."


# -- item -------------------------------------------------------------------------------------

async def test_item_gives_that_item_under_a_heading(commands: Commands) -> None:
    reply = await commands.handle("item", "3", context())
    assert reply.ok and len(reply.items) == 1
    item = reply.items[0]
    assert item.number == 3 and item.title == "国产芯片量产" and item.url == "https://news.example.com/3"
    assert reply.digest_of_items is not None and reply.digest_of_items.date == TODAY
    assert reply.heading == "Item 3 · 2025-10-07"
    zh = await commands.handle("item", "#3", context("zh"))
    assert zh.items == reply.items and zh.heading == "第 3 条 · 2025-10-07"
    assert (await commands.handle("item", "3 public", context())).public


@pytest.mark.parametrize("argument", ["11", "0", "-1", "99999999999999999999"])
@pytest.mark.parametrize(("language", "expected"), [("en", "There are only 10 items today (1-10)."),
                                                    ("zh", "今天只有 10 条（1-10）。")])
async def test_item_out_of_range(commands: Commands, argument: str, language: str, expected: str) -> None:
    reply = await commands.handle("item", argument, context(language))
    assert not reply.ok and not reply.items
    assert notice(reply) == expected


@pytest.mark.parametrize(("language", "argument", "expected"), [
    ("en", "three", "“three” is not an item number. Send /item N, e.g. /item 3."),
    ("zh", "三", "“三” 不是条目编号。请发送 /item N，例如 /item 3。"),
    ("en", "1.5", "“1.5” is not an item number. Send /item N, e.g. /item 3."),
    ("en", "", "Which item? Send /item N, e.g. /item 3."),
    ("zh", "  ", "要看哪一条？请发送 /item N，例如 /item 3。"),
])
async def test_item_with_bad_arguments(commands: Commands, language: str, argument: str, expected: str) -> None:
    reply = await commands.handle("item", argument, context(language))
    assert not reply.ok and notice(reply) == expected


async def test_item_with_one_item_only(commands: Commands) -> None:
    # On 2025-09-30 there was a single item.
    reply = await commands.handle("item", "2", context(now=dt.datetime(2025, 9, 30, 5, 0, tzinfo=dt.UTC)))
    assert notice(reply) == "There is only one item today (1)."


LATER = dt.datetime(2025, 10, 9, 5, 0, tzinfo=dt.UTC)       # 2025-10-09 in Shanghai: not published


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Item 3 · 2025-10-07 (the latest digest; the one for 2025-10-09 is not out yet)"),
    ("zh", "第 3 条 · 2025-10-07（最近一期；2025-10-09 的速递还没有发布）"),
])
async def test_item_before_publication_answers_from_the_latest(commands: Commands, language: str,
                                                               expected: str) -> None:
    reply = await commands.handle("item", "3", context(language, now=LATER))
    assert reply.ok and [item.number for item in reply.items] == [3]
    assert reply.heading == expected
    assert reply.digest_of_items is not None and reply.digest_of_items.date == TODAY


async def test_item_out_of_range_before_publication_names_the_latest(commands: Commands) -> None:
    reply = await commands.handle("item", "99", context(now=LATER))
    assert not reply.ok
    assert notice(reply) == ("There are only 10 items today (1-10). "
                             "(the latest digest; the one for 2025-10-09 is not out yet)")


async def test_item_with_nothing_published(tmp_path: Path, store: Store) -> None:
    (tmp_path / "empty").mkdir()
    rules = categorizer()
    empty = Commands(FolderSource(tmp_path / "empty", rules, SHANGHAI), store, rules)
    assert notice(await empty.handle("item", "1", context())) == "No digest has been published yet."
    assert notice(await empty.handle("category", "hw", context())) == "No digest has been published yet."
    listing = notice(await empty.handle("categories", "", context()))
    assert listing.startswith("No digest has been published yet.\nCategories: Hardware")


# -- category ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["Hardware", "hardware", "HW", "硬件"])
async def test_category_by_name_or_alias(commands: Commands, name: str) -> None:
    reply = await commands.handle("category", name, context())
    assert reply.ok
    assert [item.number for item in reply.items] == [1, 3]
    assert reply.heading == "Hardware · 2025-10-07"
    assert reply.digest_of_items is not None and reply.digest_of_items.date == TODAY


async def test_category_with_a_multi_word_name_and_cjk_alias(commands: Commands) -> None:
    english = await commands.handle("category", "developer tools", context())
    chinese = await commands.handle("category", "开发工具", context("zh"))
    assert [item.number for item in english.items] == [2]
    assert chinese.items == english.items
    assert chinese.heading == "Developer Tools · 2025-10-07"
    assert (await commands.handle("category", "dev public", context())).public


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "There is no category “sports”. Categories: Hardware, Developer Tools, Robotics"),
    ("zh", "没有名为 “sports” 的分类。现有分类：Hardware、Developer Tools、Robotics"),
])
async def test_unknown_category_lists_the_known_ones(commands: Commands, language: str, expected: str) -> None:
    reply = await commands.handle("category", "sports", context(language))
    assert not reply.ok
    text = notice(reply)
    assert text.startswith(expected)
    assert "Markets" in text            # front-matter categories of today's digest count as known too


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Which category? Send /category NAME. Categories: "),
    ("zh", "要看哪个分类？请发送 /category 分类名。现有分类："),
])
async def test_category_without_a_name(commands: Commands, language: str, expected: str) -> None:
    reply = await commands.handle("category", "", context(language))
    assert not reply.ok and notice(reply).startswith(expected) and "Robotics" in notice(reply)


@pytest.mark.parametrize(("language", "expected"), [("en", "No Robotics items today (2025-10-07)."),
                                                    ("zh", "今天（2025-10-07）没有 Robotics 分类的条目。")])
async def test_known_category_without_items_today(commands: Commands, language: str, expected: str) -> None:
    reply = await commands.handle("category", "机器人", context(language))
    assert reply.ok and not reply.items and notice(reply) == expected


async def test_category_before_publication_answers_from_the_latest(commands: Commands) -> None:
    reply = await commands.handle("category", "hw", context(now=LATER))
    assert [item.number for item in reply.items] == [1, 3]
    assert reply.heading == "Hardware · 2025-10-07 (the latest digest; the one for 2025-10-09 is not out yet)"
    empty = await commands.handle("category", "robots", context(now=LATER))
    assert notice(empty) == ("No Robotics items today (2025-10-07). "
                             "(the latest digest; the one for 2025-10-09 is not out yet)")
    unknown = await commands.handle("category", "sports", context(now=LATER))
    assert "Robotics" in notice(unknown) and "Markets" in notice(unknown)


# -- buttons ----------------------------------------------------------------------------------

async def test_item_answers_carry_buttons_to_their_neighbours(commands: Commands) -> None:
    first = await commands.handle("item", "1", context())
    assert [[button.label for button in row] for row in first.buttons] == [["▶"]]
    middle = await commands.handle("item", "5", context())
    assert [[button.label for button in row] for row in middle.buttons] == [["◀", "▶"]]
    assert all(len(button.data.encode()) <= 64 for row in middle.buttons for button in row)
    pressed = await commands.press(middle.buttons[0][1].data, context())
    assert pressed.replaces and [item.number for item in pressed.items] == [6]
    assert pressed.heading == "Item 6 · 2025-10-07"


async def test_old_buttons_work_while_their_item_exists_or_say_the_digest_changed(commands: Commands,
                                                                                  folder: Path) -> None:
    last = await commands.handle("item", "9", context())
    to_ten = last.buttons[0][1].data
    assert [item.number for item in (await commands.press(to_ten, context())).items] == [10]
    stale = await commands.press("pg:2025-10-07:11", context())     # an item the digest no longer has
    assert not stale.items and notice(stale) == "The digest has changed since; send /item N or /category again."
    assert not (await commands.press("nonsense", context("zh"))).items


async def test_category_buttons_name_each_category_and_notice_a_changed_list(commands: Commands) -> None:
    asked = await commands.handle("category", "", context())
    labels = [row[0].label for row in asked.buttons]
    assert labels == ["Hardware", "Developer Tools", "Robotics", "Markets"]
    hardware = await commands.press(asked.buttons[0][0].data, context())
    assert [item.number for item in hardware.items] == [1, 3] and not hardware.replaces
    changed = await commands.press("ct:0:00000000", context())
    assert notice(changed).startswith("The digest has changed since")


# -- categories -------------------------------------------------------------------------------

@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Categories on 2025-10-07:\n• Hardware: 2\n• Developer Tools: 1\n• Robotics: 0\n• Markets: 0"),
    ("zh", "2025-10-07 的分类：\n• Hardware：2\n• Developer Tools：1\n• Robotics：0\n• Markets：0"),
])
async def test_categories_with_counts(commands: Commands, language: str, expected: str) -> None:
    reply = await commands.handle("categories", "", context(language))
    assert reply.ok and notice(reply) == expected


async def test_categories_before_publication_count_the_latest(commands: Commands) -> None:
    reply = await commands.handle("categories", "", context("zh", now=LATER))
    assert notice(reply) == ("2025-10-07 的分类：（最近一期；2025-10-09 的速递还没有发布）\n"
                             "• Hardware：2\n• Developer Tools：1\n• Robotics：0\n• Markets：0")


async def test_today_before_publication_still_says_so(commands: Commands) -> None:
    reply = await commands.handle("today", "", context(now=LATER))
    assert reply.digest is None
    assert notice(reply) == "No digest for 2025-10-09 yet. The latest is from 2025-10-07: /date 2025-10-07"


# -- date -------------------------------------------------------------------------------------

@pytest.mark.parametrize("argument", ["2025-10-03", "2025/10/03", "2025-10-3", "2025.10.03"])
async def test_date_gives_that_days_digest(commands: Commands, argument: str) -> None:
    reply = await commands.handle("date", argument, context())
    assert reply.ok and reply.digest is not None and reply.digest.title == "Friday brief"


@pytest.mark.parametrize(("language", "argument", "expected"), [
    ("en", "2025-13-01", "“2025-13-01” is not a date. Use YYYY-MM-DD, e.g. /date 2025-10-06."),
    ("en", "2025-02-29", "“2025-02-29” is not a date. Use YYYY-MM-DD, e.g. /date 2025-10-06."),
    ("zh", "yesterday", "“yesterday” 不是有效日期。请使用 YYYY-MM-DD 格式，例如 /date 2025-10-06。"),
    ("en", "", "Which day? Send /date YYYY-MM-DD, e.g. /date 2025-10-06."),
    ("zh", "", "要看哪一天？请发送 /date YYYY-MM-DD，例如 /date 2025-10-06。"),
])
async def test_date_with_bad_arguments(commands: Commands, language: str, argument: str, expected: str) -> None:
    reply = await commands.handle("date", argument, context(language))
    assert not reply.ok and reply.digest is None and notice(reply) == expected


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "No digest for 2025-10-05. The nearest earlier one is from 2025-10-03: /date 2025-10-03"),
    ("zh", "2025-10-05 没有速递。此前最近的一期是 2025-10-03：/date 2025-10-03"),
])
async def test_date_without_a_digest_names_the_nearest_earlier(commands: Commands, language: str,
                                                               expected: str) -> None:
    reply = await commands.handle("date", "2025-10-05", context(language))
    assert reply.digest is None and notice(reply) == expected


@pytest.mark.parametrize(("language", "expected"), [("en", "No digest for 2025-09-01 or any day before it."),
                                                    ("zh", "2025-09-01 及之前都没有速递。")])
async def test_date_before_every_digest(commands: Commands, language: str, expected: str) -> None:
    assert notice(await commands.handle("date", "2025-09-01", context(language))) == expected


# -- subscribe / unsubscribe ------------------------------------------------------------------

async def test_subscribe_in_a_private_chat_uses_the_default_time(commands: Commands, store: Store) -> None:
    admin = Admin(False)
    reply = await commands.handle("subscribe", "", context(admin=admin))
    assert reply.ok and reply.public
    assert notice(reply) == "Subscribed: the digest will arrive here every day at 09:30 (Asia/Shanghai)."
    assert admin.asked == 0                 # a private chat needs no admin check
    assert await store.subscriptions() == [Subscription("telegram", "-1001", "09:30", "Asia/Shanghai", "u42")]


async def test_subscribe_with_a_time_and_change_it(commands: Commands, store: Store) -> None:
    first = await commands.handle("subscribe", "7:05", context("zh", tz=NEW_YORK))
    assert notice(first) == "订阅成功：每天 07:05（America/New_York）将在这里发送速递。"
    second = await commands.handle("subscribe", "18:30", context(tz=NEW_YORK))
    assert notice(second) == "Updated: the digest now arrives here every day at 18:30 (America/New_York)."
    assert await store.subscriptions() == [Subscription("telegram", "-1001", "18:30", "America/New_York", "u42")]


async def test_subscribe_with_categories_and_clear_them(commands: Commands, store: Store) -> None:
    reply = await commands.handle("subscribe", "09:30 hw developer tools Markets", context())
    assert notice(reply) == ("Subscribed: the digest will arrive here every day at 09:30 (Asia/Shanghai)."
                             " Only these categories: Hardware, Developer Tools, Markets.")
    (subscription,) = await store.subscriptions()
    assert subscription.categories == ("Hardware", "Developer Tools", "Markets")   # Markets: the digest's own
    chinese = await commands.handle("subscribe", "08:00 硬件", context("zh"))
    assert notice(chinese).endswith("仅限分类：Hardware。")
    await commands.handle("subscribe", "08:00", context())
    assert (await store.subscriptions())[0].categories == ()


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "There is no category “sports”. Categories: Hardware, Developer Tools, Robotics, Markets"),
    ("zh", "没有名为 “sports” 的分类。现有分类：Hardware、Developer Tools、Robotics、Markets"),
])
async def test_subscribe_to_an_unknown_category_is_refused(commands: Commands, store: Store, language: str,
                                                           expected: str) -> None:
    reply = await commands.handle("subscribe", "09:30 hw sports", context(language))
    assert not reply.ok and notice(reply) == expected
    assert await store.subscriptions() == []


@pytest.mark.parametrize("argument", ["1_0", "+3", "1e1"])
async def test_item_numbers_are_plain_digits(commands: Commands, argument: str) -> None:
    reply = await commands.handle("item", argument, context())
    assert not reply.ok and not reply.items
    assert f"“{argument}”" in notice(reply)


HUGE = "9" * 5000


@pytest.mark.parametrize("argument", [HUGE, "-" + HUGE, "#" + "７" * 5000], ids=["digits", "negative", "full-width"])
async def test_an_item_number_of_thousands_of_digits_is_out_of_range(
        commands: Commands, argument: str, caplog: pytest.LogCaptureFixture) -> None:
    reply = await commands.handle("item", argument, context())
    assert not reply.ok and notice(reply) == "There are only 10 items today (1-10)."
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(("command", "argument", "start"), [
    ("item", "x" * 5000, "“xxxx"), ("date", HUGE, "“9999"), ("subscribe", HUGE, "“9999"),
    ("category", "z" * 5000, "There is no category “zzzz"),
])
async def test_a_huge_argument_is_refused_and_quoted_short(commands: Commands, command: str, argument: str,
                                                          start: str, caplog: pytest.LogCaptureFixture) -> None:
    reply = await commands.handle(command, argument, context())
    text = notice(reply)
    assert not reply.ok and text.startswith(start) and "…”" in text and len(text) < 300
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


async def test_date_at_the_start_of_the_calendar_gets_a_reply(commands: Commands) -> None:
    reply = await commands.handle("date", "0001-01-01", context())
    assert "0001-01-01" in notice(reply)
    assert "wrong" not in notice(reply).lower()


async def test_subscribing_again_brings_back_a_chat_marked_gone(commands: Commands, store: Store) -> None:
    await store.mark_inactive("telegram", "-1001", "Forbidden: bot was kicked from the group chat")
    reply = await commands.handle("subscribe", "08:00", context())
    assert reply.ok
    assert await store.inactive_reason("telegram", "-1001") is None


@pytest.mark.parametrize("argument", ["25:00", "12:60", "noon", "7", "07:45 08:00", "0 9 * * *"])
@pytest.mark.parametrize("language", ["en", "zh"])
async def test_subscribe_refuses_bad_times(commands: Commands, store: Store, argument: str, language: str) -> None:
    reply = await commands.handle("subscribe", argument, context(language))
    assert not reply.ok
    text = notice(reply)
    assert f"“{argument}”" in text and "HH:MM" in text and "/subscribe 09:30" in text
    assert await store.subscriptions() == []


@pytest.mark.parametrize(("language", "expected"), [("en", "Only group admins can change this chat's subscription."),
                                                    ("zh", "只有群管理员可以更改本群的订阅。")])
async def test_group_members_who_are_not_admins_are_refused(commands: Commands, store: Store, language: str,
                                                            expected: str) -> None:
    admin = Admin(False)
    for command in ("subscribe", "unsubscribe"):
        reply = await commands.handle(command, "08:00", context(language, is_group=True, admin=admin))
        assert not reply.ok and notice(reply) == expected
    assert admin.asked == 2
    assert await store.subscriptions() == []


async def test_group_admins_subscribe_and_unsubscribe(commands: Commands, store: Store) -> None:
    admin = Admin(True)
    group = context(is_group=True, admin=admin, platform="slack", chat="C0123", prefix="/digest ")
    reply = await commands.handle("subscribe", "08:00", group)
    assert reply.ok and "08:00 (Asia/Shanghai)" in notice(reply)
    assert await store.subscriptions() == [Subscription("slack", "C0123", "08:00", "Asia/Shanghai", "u42")]

    # A non-admin cannot undo it.
    refused = await commands.handle("unsubscribe", "", dataclasses.replace(group, is_admin=Admin(False)))
    assert not refused.ok and len(await store.subscriptions()) == 1

    removed = await commands.handle("unsubscribe", "", group)
    assert removed.ok and removed.public
    assert notice(removed) == "Unsubscribed: no more daily digests here."
    assert await store.subscriptions() == []
    assert admin.asked == 2


@pytest.mark.parametrize(("language", "expected"), [("en", "This chat was not subscribed."),
                                                    ("zh", "这里原本就没有订阅。")])
async def test_unsubscribe_without_a_subscription(commands: Commands, language: str, expected: str) -> None:
    reply = await commands.handle("unsubscribe", "", context(language))
    assert notice(reply) == expected


async def test_subscriptions_are_per_chat(commands: Commands, store: Store) -> None:
    await commands.handle("subscribe", "08:00", context(chat="A"))
    await commands.handle("subscribe", "09:00", context(chat="B"))
    await commands.handle("unsubscribe", "", context(chat="A"))
    assert [s.chat for s in await store.subscriptions()] == ["B"]


@pytest.mark.parametrize(("language", "expected"), [("en", "Something went wrong on my side. Please try again later."),
                                                    ("zh", "出了点问题，请稍后再试。")])
async def test_a_failing_store_gets_a_short_reply(folder: Path, tmp_path: Path, language: str, expected: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    broken = open_store("sqlite:///state.db", tmp_path)
    await broken.ping()
    await broken.close()                # every later call raises the store's own error
    rules = categorizer()
    commands = Commands(FolderSource(folder, rules, SHANGHAI), broken, rules)
    with caplog.at_level(logging.ERROR, logger="bot.commands"):
        reply = await commands.handle("subscribe", "08:00", context(language))
    assert not reply.ok and notice(reply) == expected
    assert any(record.exc_info for record in caplog.records)        # the details are in the log


def test_the_default_time_must_be_a_time_of_day(folder: Path, store: Store) -> None:
    rules = categorizer()
    with pytest.raises(ValueError, match="HH:MM"):
        Commands(FolderSource(folder, rules, SHANGHAI), store, rules, default_schedule="0 9 * * *")


# -- both languages everywhere ----------------------------------------------------------------

SCENARIOS = [("help", ""), ("today", ""), ("item", "42"), ("item", "x"), ("item", ""), ("category", "zzz"),
             ("category", ""), ("category", "robots"), ("categories", ""), ("date", "2025-99-01"), ("date", ""),
             ("date", "2025-10-05"), ("date", "2025-01-01"), ("subscribe", "99:99"), ("subscribe", ""),
             ("unsubscribe", ""), ("unsubscribe", ""), ("nonsense", "")]


async def test_every_reply_speaks_the_chats_language(commands: Commands) -> None:
    for name, args in SCENARIOS:
        english = await commands.handle(name, args, context("en", chat="en-chat"))
        chinese = await commands.handle(name, args, context("zh", chat="zh-chat"))
        assert english.ok == chinese.ok, name
        if english.notice is None:
            assert english.digest is not None and english.digest == chinese.digest
            continue
        assert chinese.notice is not None and english.notice != chinese.notice, (name, args)
        assert CJK.search(chinese.notice), (name, args)
        assert not CJK.search(english.notice), (name, args)


# -- helpers ----------------------------------------------------------------------------------

def test_split_public() -> None:
    assert split_public("3 public") == (["3"], True)
    assert split_public("developer tools PUBLIC") == (["developer", "tools"], True)
    assert split_public("硬件 公开") == (["硬件"], True)
    assert split_public("public tools") == (["public", "tools"], False)
    assert split_public("") == ([], False)


def test_parse_day() -> None:
    assert parse_day("2025-09-25") == dt.date(2025, 9, 25)
    assert parse_day("2024-02-29") == dt.date(2024, 2, 29)
    assert parse_day("2025-02-29") is None
    assert parse_day("25-09-25") is None
    assert parse_day("2025-09-25T10:00") is None


async def test_context_builder_reads_the_clock_per_command_and_leaves_the_admin_check_unasked() -> None:
    readings = iter([MORNING, MORNING + dt.timedelta(hours=3)])
    builder = ContextBuilder("slack", "zh", NEW_YORK, lambda: next(readings), command_prefix="/digest ")
    admin = Admin(False)
    first = builder.build("C1", "U1", is_group=True, is_admin=admin)
    second = builder.build("D2", "U2", is_group=False, is_admin=always_admin, command_prefix="/news ")
    assert first == CommandContext(platform="slack", chat="C1", user="U1", is_group=True, language="zh",
                                   timezone=NEW_YORK, is_admin=admin, now=MORNING, command_prefix="/digest ")
    assert admin.asked == 0
    assert (second.chat, second.user, second.is_group) == ("D2", "U2", False)
    assert second.now == MORNING + dt.timedelta(hours=3) and second.command_prefix == "/news "
    assert await second.is_admin() and not await first.is_admin() and admin.asked == 1
