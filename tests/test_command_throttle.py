"""Command answers are capped per user, group and private chat: one notice, then silence, then answers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.commands import CommandContext, Commands, Reply
from bot.digest.sources import FolderSource
from bot.platforms.telegram import html as telegram_renderer
from bot.ratelimit import PER_GROUP, PER_PRIVATE_CHAT, PER_USER_IN_GROUP, SWEEP_AT, CommandThrottle, Verdict
from bot.render import render_reply
from bot.store import Store, open_store
from tests.test_commands import MORNING, SHANGHAI, categorizer, context, todays_items
from tests.test_sources import digest_text

CJK = re.compile(r"[\u4e00-\u9fff]")
GROUP_CHAT = "-1001"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store("memory://", tmp_path)
    yield opened
    await opened.close()


@pytest.fixture
def commands(tmp_path: Path, store: Store) -> Commands:
    folder = tmp_path / "digests"
    folder.mkdir()
    (folder / "today.md").write_text(digest_text("2025-10-07", "Tuesday brief", todays_items()), encoding="utf-8")
    rules = categorizer()
    return Commands(FolderSource(folder, rules, SHANGHAI), store, rules)


def in_group(user: str, seconds: float = 0.0, language: str = "en", chat: str = GROUP_CHAT) -> CommandContext:
    ctx = context(language, is_group=True, chat=chat, now=MORNING + dt.timedelta(seconds=seconds))
    return dataclasses.replace(ctx, user=user)


def kind_of(reply: Reply) -> str:
    if reply.silent:
        assert reply.notice is None and reply.digest is None and not reply.items
        assert render_reply(telegram_renderer, reply) == [], "a silent reply sends nothing"
        return "silent"
    if reply.notice is not None and ("too many commands" in reply.notice.lower() or "太快" in reply.notice):
        return "too fast"
    return "answered"


async def test_a_flood_gets_one_notice_then_silence_then_answers_after_the_window(commands: Commands) -> None:
    kinds = [kind_of(await commands.handle("item", "2", in_group("flooder", seconds=n))) for n in range(9)]
    assert kinds == ["answered"] * PER_USER_IN_GROUP.count + ["too fast", "silent", "silent", "silent"]
    notice = (await commands.handle("today", "", in_group("flooder", seconds=1.0))).notice
    assert notice is None, "still silent"

    # The first answer leaves the window a minute after it was given; then the next one is answered.
    assert kind_of(await commands.handle("item", "2", in_group("flooder", seconds=59.5))) == "silent"
    reply = await commands.handle("item", "2", in_group("flooder", seconds=60.0))
    assert kind_of(reply) == "answered" and reply.items


async def test_the_notice_says_when_answers_resume_in_the_chats_language(commands: Commands) -> None:
    for n in range(PER_USER_IN_GROUP.count):
        await commands.handle("help", "", in_group("zh-user", seconds=10.0 * n, language="zh"))
    reply = await commands.handle("help", "", in_group("zh-user", seconds=45.0, language="zh"))
    assert reply.notice == "命令发得太快了，大约 15 秒后我再回答。" and not reply.ok
    for _ in range(PER_USER_IN_GROUP.count):
        await commands.handle("help", "", in_group("en-user", seconds=0.0, language="en", chat="-1002"))
    reply = await commands.handle("help", "", in_group("en-user", seconds=0.5, language="en", chat="-1002"))
    assert reply.notice == "Too many commands in a short time. I will answer again in about 60 s."
    assert not CJK.search(reply.notice)


async def test_other_users_are_answered_while_one_is_throttled(commands: Commands) -> None:
    for n in range(PER_USER_IN_GROUP.count + 3):
        await commands.handle("item", "1", in_group("flooder", seconds=n))
    reply = await commands.handle("item", "3", in_group("reader", seconds=9))
    assert kind_of(reply) == "answered" and reply.items[0].number == 3
    other_chat = await commands.handle("item", "3", in_group("flooder", seconds=9, chat="-1009"))
    assert kind_of(other_chat) == "answered", "the cap is per user in one chat"


async def test_a_group_keeps_half_its_budget_however_many_people_ask(commands: Commands) -> None:
    # Twenty people, two commands each, within one minute.
    kinds = [kind_of(await commands.handle("categories", "", in_group(f"user-{n % 20}", seconds=n)))
             for n in range(40)]
    assert kinds.count("answered") == PER_GROUP.count
    assert kinds.count("too fast") == 1, "the group is told once"
    messages = kinds.count("answered") + kinds.count("too fast")
    assert messages <= 20 // 2 + 1, "the digest keeps at least 9 of Telegram's 20 a minute"
    # The notice counted in the window too: once the first two answers leave it, there is room again.
    assert kind_of(await commands.handle("categories", "", in_group("user-0", seconds=60.0))) == "silent"
    assert kind_of(await commands.handle("categories", "", in_group("user-0", seconds=61.0))) == "answered"


async def test_private_chats_have_a_cap_of_their_own(commands: Commands) -> None:
    def private(seconds: float) -> CommandContext:
        return context(chat="555", now=MORNING + dt.timedelta(seconds=seconds))

    kinds = [kind_of(await commands.handle("help", "", private(n / 10))) for n in range(PER_PRIVATE_CHAT.count + 2)]
    assert kinds == ["answered"] * PER_PRIVATE_CHAT.count + ["too fast", "silent"]


async def test_the_operators_console_is_never_throttled(commands: Commands) -> None:
    console = dataclasses.replace(context(platform="console", chat="terminal"), user="operator")
    kinds = {kind_of(await commands.handle("help", "", console)) for _ in range(3 * PER_PRIVATE_CHAT.count)}
    assert kinds == {"answered"}


def test_a_second_flood_after_the_notice_period_is_told_again() -> None:
    throttle = CommandThrottle()
    verdicts = [throttle.check("user", "group", float(n))[0] for n in range(7)]
    assert verdicts[-2:] == [Verdict.NOTICE, Verdict.SILENT]
    later = [throttle.check("user", "group", 120.0 + n / 10)[0] for n in range(7)]
    assert later == [Verdict.ANSWER] * 5 + [Verdict.NOTICE, Verdict.SILENT]


def test_memory_follows_the_people_active_in_the_last_minute() -> None:
    throttle = CommandThrottle()
    per_second = 50                       # distinct askers a second, each asking once, for an hour
    active = per_second * int(PER_GROUP.period)
    rng = random.Random(7)
    largest = 0
    peaks: list[int] = []
    tracemalloc.start()
    try:
        for second in range(1200):
            for n in range(per_second):
                throttle.check(f"user-{second}-{n}", f"group-{rng.randrange(1000)}", float(second))
            largest = max(largest, len(throttle))
            if second % 400 == 399:
                peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.reset_peak()
    finally:
        tracemalloc.stop()
    assert largest <= 2 * (active + 1000) + SWEEP_AT, largest
    # Sweeps make it a sawtooth, but one that stops rising: later stretches peak no higher than the
    # first, although 60,000 different people asked in all.
    assert max(peaks[1:]) <= 1.25 * peaks[0], peaks
