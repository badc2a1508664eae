"""`digestbot status` and `reactivate` through real processes, the fake platforms over HTTP and both shared
stores: each delivery state, exit statuses, and a gone chat brought back."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.leases import delivery_lease_name
from bot.store import open_store
from bot.store.base import DeliveryKey
from tests.procs import (
    BotGroup,
    ChannelSpec,
    Fakes,
    bot_config,
    drop_keys,
    write_config,
    write_multipart_digest,
)

DAY = dt.datetime.now(dt.UTC).date()
DELIVERED = ChannelSpec("news", "telegram", "-1001000000001")
GONE = ChannelSpec("kicked", "telegram", "-1001000000002")
FAILING = ChannelSpec("flaky-slack", "slack", "C0FLAKY0001")
CHANNELS = [DELIVERED, GONE, FAILING]
# Only guards against a hang: on a machine shared with other suites (and their Redis traffic) a send
# has taken over a minute; nothing here asserts how long anything takes.
HANG_GUARD = 240.0


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def store_url(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str | None]]:
    """(store URL, Redis key prefix) of a store only this test uses."""
    if request.param == "sqlite":
        yield "sqlite:///./ledger.db", None
        return
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    try:
        yield url, prefix
    finally:
        await drop_keys(url, prefix)


def config_for(tmp_path: Path, fakes: Fakes, store: tuple[str, str | None]) -> Path:
    config = bot_config(tmp_path, store=store[0], store_prefix=store[1], channels=CHANNELS, schedule="09:30",
                        fakes=fakes)
    return write_config(tmp_path / "digestbot.yaml", config)


def tokenless_config(tmp_path: Path, store: str, prefix: str | None = None) -> Path:
    """Telegram and Slack left unconfigured: `status` and `reactivate` need no platform at all."""
    config = bot_config(tmp_path, store=store, store_prefix=prefix, channels=CHANNELS, schedule="09:30")
    config.update(telegram={"token": ""}, slack={"token": ""})
    return write_config(tmp_path / "digestbot.yaml", config)


async def status_json(bots: BotGroup, config: Path) -> tuple[int, dict[str, Any]]:
    code, output = await bots.run("status", config, "--json", "--date", DAY.isoformat(), within=HANG_GUARD)
    start = output.index("{\n")
    return code, json.loads(output[start:])


def rows(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in status["channels"]}


async def test_status_after_a_send_shows_delivered_gone_and_failing_channels(
        tmp_path: Path, store_url: tuple[str, str | None]) -> None:
    digest = write_multipart_digest(tmp_path / "digests", DAY)
    async with Fakes(scale=4.0) as fakes, BotGroup(tmp_path) as bots:
        fakes.telegram.forbid(GONE.chat)
        fakes.slack.fail_server(FAILING.chat, times=1000)
        config = config_for(tmp_path, fakes, store_url)
        code, output = await bots.run("send", config, within=HANG_GUARD)
        assert code == 1, output
        code, status = await status_json(bots, config)

    assert code == 1, "a failing active channel makes status exit 1"
    assert status["date"] == DAY.isoformat() and status["ok"] is False
    found = rows(status)
    assert list(found) == [channel.name for channel in CHANNELS]
    parts = len(digest.expected(DELIVERED))
    delivered = found[DELIVERED.name]
    assert (delivered["state"], delivered["parts_sent"], delivered["parts_total"]) == ("delivered", parts, parts)
    assert dt.datetime.fromisoformat(delivered["delivered_at"]).date() == DAY
    assert delivered["chat"] == DELIVERED.chat and delivered["corrections"] == 0
    assert delivered["next_due"].endswith("+00:00") and "T09:30:00" in delivered["next_due"]

    gone = found[GONE.name]
    assert gone["state"] == "inactive" and gone["active"] is False
    assert "kicked" in gone["inactive"]["reason"]
    assert dt.datetime.fromisoformat(gone["inactive"]["since"]).date() == DAY

    failing = found[FAILING.name]
    assert failing["state"] == "failed" and failing["active"] is True
    assert "gave up after" in failing["failure"]["reason"], failing
    assert failing["parts_sent"] == 0
    assert status["counts"] == {"delivered": 1, "in_progress": 0, "waiting": 0, "failed": 1, "inactive": 1,
                                "skipped": 0}


async def test_reactivate_brings_a_gone_chat_back_and_the_next_send_delivers_to_it(tmp_path: Path) -> None:
    digest = write_multipart_digest(tmp_path / "digests", DAY)
    store = ("sqlite:///./ledger.db", None)
    async with Fakes(scale=4.0) as fakes, BotGroup(tmp_path) as bots:
        fakes.telegram.forbid(GONE.chat)
        code, output = await bots.run("send", config_for(tmp_path, fakes, store), within=HANG_GUARD)
        assert code == 1 and f"{GONE.name}: inactive" in output, output

    # The operator added the bot back: a fresh fake stands for the chat that takes posts again.
    async with Fakes(scale=4.0) as fakes, BotGroup(tmp_path) as bots:
        config = config_for(tmp_path, fakes, store)
        code, status = await status_json(bots, config)
        assert code == 0, "an inactive channel does not count against the exit status"
        assert rows(status)[GONE.name]["state"] == "inactive"

        code, output = await bots.run("reactivate", config, GONE.name, DELIVERED.name)
        assert code == 0, output
        assert f"{GONE.name}: reactivated (was marked inactive since {DAY.isoformat()}" in output, output
        assert "kicked" in output
        assert f"{DELIVERED.name}: not marked inactive; nothing to do" in output

        code, output = await bots.run("send", config, within=HANG_GUARD)
        assert code == 0, output
        assert fakes.received(GONE) == digest.expected(GONE)
        assert fakes.received(DELIVERED) == [], "the channel that had it gets nothing twice"
        code, status = await status_json(bots, config)
    assert code == 0
    assert status["ok"] is True
    assert {row["state"] for row in status["channels"]} == {"delivered"}


async def test_status_and_reactivate_refuse_bad_input_in_one_line(tmp_path: Path) -> None:
    config = tokenless_config(tmp_path, "sqlite:///./ledger.db")
    async with BotGroup(tmp_path) as bots:
        code, output = await bots.run("reactivate", config, "no-such-channel")
        assert code == 2
        assert output.strip().count("\n") == 0 and "no channel named 'no-such-channel'" in output
        assert str(config) in output
        code, output = await bots.run("status", config, "--date", "2025-13-01")
        assert code == 2 and "Traceback" not in output and "not a date" in output
        code, output = await bots.run("status", tmp_path / "missing.yaml")
        assert code == 2 and "missing.yaml" in output and "Traceback" not in output


async def test_status_on_redis_shows_the_deliveries_other_replicas_hold(
        tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    config = tokenless_config(tmp_path, redis_url, redis_prefix)
    store = open_store(redis_url, tmp_path, prefix=redis_prefix)
    try:
        for channel, owner in ((DELIVERED, "replica-a:101:aaaa"), (FAILING, "replica-b:202:bbbb")):
            key = DeliveryKey(DAY, channel.name)
            assert await store.claim(delivery_lease_name(key), owner, 300)
            await store.begin_part(key, 0, 3)
            await store.record_part(key, 0, "m-0")
        async with BotGroup(tmp_path) as bots:
            code, status = await status_json(bots, config)
            _, table = await bots.run("status", config, "--date", DAY.isoformat())
    finally:
        await drop_keys(redis_url, redis_prefix)
        await store.close()
    assert code == 1
    assert status["holders"] == ["replica-a:101:aaaa", "replica-b:202:bbbb"]
    found = rows(status)
    for name, owner in ((DELIVERED.name, "replica-a:101:aaaa"), (FAILING.name, "replica-b:202:bbbb")):
        assert found[name]["state"] == "in_progress"
        assert found[name]["lease"]["owner"] == owner
        assert (found[name]["parts_sent"], found[name]["parts_total"]) == (1, 3)
    assert found[GONE.name]["state"] == "skipped", "no platform tokens in this config: send would skip it"
    assert "replica-a:101:aaaa since" in table and "in progress" in table


def test_a_chat_that_is_a_credential_is_masked() -> None:
    from bot.status import shown_chat

    webhook = "https://discord.com/api/webhooks/123456789/AbCdEfSecretWebhookToken"
    assert shown_chat(webhook) == "https://discord.com/***"
    assert "Secret" not in shown_chat("https://user:pw@hooks.example.com/x?token=abc")
    assert shown_chat("7012345678:AAHprocTestTokenForFakeBotApi_0123456789") == "***"
    assert shown_chat("-1001234567890") == "-1001234567890"


async def test_a_subscribed_chat_that_moved_is_reactivated_under_its_current_id() -> None:
    from bot.reactivation import reactivate
    from bot.settings import ChannelSettings, Settings
    from bot.status import State, gather_status
    from bot.store.base import Subscription
    from bot.store.memory import MemoryStore

    settings = Settings(timezone="UTC", channels=(ChannelSettings("terminal", "console"),))
    store = MemoryStore()
    await store.subscribe(Subscription("console", "-100", "08:00", "Asia/Tokyo"))
    await store.move_chat("console", "-100", "-200")
    await store.mark_inactive("console", "-200", "Forbidden: bot was kicked")
    now = dt.datetime(2025, 10, 3, 1, 0, tzinfo=dt.UTC)
    report = await gather_status(settings, store, now=now)
    states = {row.channel.name: row for row in report.channels}
    assert states["console:-200"].state is State.INACTIVE
    assert states["console:-200"].next_due == dt.datetime(2025, 10, 4, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert states["terminal"].state is State.WAITING and not report.ok

    done = await reactivate(settings, store, ["console:-200", "console:-200"])
    assert len(done) == 1, "a name given twice is reactivated once"
    said = done[0].describe("UTC")
    assert said.startswith("console:-200: reactivated (was marked inactive since ") and said.endswith(
        " UTC: Forbidden: bot was kicked)"), said
    assert await store.inactive_details() == {}
