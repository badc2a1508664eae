"""A channel's post options over the fake Telegram: silent posts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import ChannelSettings
from bot.delivery import Kind
from bot.digest.parse import parse_digest
from bot.platforms.telegram import html
from bot.platforms.telegram.html import render_digest
from bot.render.options import PLAIN, PostOptions
from bot.render.options import apply_options as with_options
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram
from tests.scheduled_telegram import SCALE, TOKEN, run_day
from tests.test_telegram_broadcast import long_digest

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

LOUD, QUIET = "-1001000000011", "-1001000000012"
DAY = dt.date(2025, 10, 12)


def write_long_day(tmp_path: Path) -> None:
    folder = tmp_path / "digests"
    folder.mkdir(exist_ok=True)
    (folder / "long.md").write_text(long_digest(), encoding="utf-8")


async def test_a_silent_channel_posts_every_part_without_a_notification(tmp_path: Path) -> None:
    write_long_day(tmp_path)
    channels = (ChannelSettings("loud", "telegram", LOUD, "09:00"),
                ChannelSettings("quiet", "telegram", QUIET, "09:00", silent=True))
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE)) as fake:
        results = await run_day(tmp_path, fake, DAY, channels)
        assert {result.kind for result in results} == {Kind.DELIVERED}
        quiet, loud = fake.sent[QUIET], fake.sent[LOUD]
    assert len(quiet) == len(loud) >= 3
    assert all(message.silent for message in quiet)
    assert not any(message.silent for message in loud)
    assert [message.text for message in quiet] == [message.text for message in loud]
    assert all("disable_notification" not in message.params for message in loud)   # golden payloads unchanged


def test_plain_options_leave_a_payload_as_rendered() -> None:
    payloads = render_digest(parse_digest(long_digest(), "long.md"))
    assert with_options(object(), payloads, PostOptions(silent=True)) == payloads     # a platform without the hook
    assert with_options(html, payloads, PLAIN) == payloads
    assert with_options(html, payloads[:1], PostOptions(silent=True)) == [{**payloads[0], "disable_notification": True}]
