"""Signed interactions at POST /discord/interactions answered by the real command logic over a folder of
digests: signatures checked before anything else, PING, every command in English and Chinese, answers
in place or deferred and followed up at the fake Discord API, and the commands registered at start-up."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from nacl.signing import SigningKey

from bot.commands import CommandContext, Commands
from bot.delivery import Deliverer
from bot.i18n import text as words
from bot.platforms.discord import embeds as render
from bot.platforms.discord.channel import DiscordChannel
from bot.platforms.discord.errors import DiscordStartError
from bot.platforms.discord.limits import EPHEMERAL, DiscordRateLimit
from bot.platforms.discord.settings import DiscordSettings
from bot.render import render_reply
from bot.store import Store, open_store
from tests.fakes.fake_discord import FakeDiscord
from tests.test_slack_http import LONG_DAY, MORNING, SHANGHAI, fast_delivery, make_commands, write_digests

LOCALES = {"en": "en-US", "zh": "zh-CN"}


@dataclasses.dataclass
class Rig:
    fake: FakeDiscord
    store: Store
    commands: Commands
    channel: DiscordChannel
    client: TestClient[web.Request, web.Application]

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        response = await self.client.post("/discord/interactions", data=body, headers=headers)
        raw = await response.read()
        return response.status, json.loads(raw) if response.content_type == "application/json" else raw

    async def command(self, name: str, options: dict[str, Any] | None = None, *, language: str = "en",
                      **fields: Any) -> tuple[int, Any, dict[str, Any]]:
        interaction = self.fake.interaction(name, options, locale=LOCALES[language], **fields)
        raw = json.dumps(interaction).encode()
        status, answer = await self.post(raw, self.fake.sign(raw))
        await self.channel.drain()
        return status, answer, interaction


def make_channel(fake: FakeDiscord, commands: Commands, **overrides: Any) -> DiscordChannel:
    settings = DiscordSettings(application_id=fake.application_id, public_key=fake.public_key,
                               token=fake.bot_token, base_url=fake.base_url)
    options: dict[str, Any] = {"inline_wait": 10.0, **overrides}
    settings = dataclasses.replace(settings, **options.pop("settings", {}))
    return DiscordChannel(settings, commands=commands, language="en", timezone=SHANGHAI, now=lambda: MORNING,
                          rate_limit=DiscordRateLimit().scaled(100), **options)


async def open_rig(tmp_path: Path, **overrides: Any) -> Rig:
    fake = FakeDiscord(seed=3)
    fake.scale(100)
    await fake.start()
    store = open_store("memory://", tmp_path)
    commands = make_commands(write_digests(tmp_path / "digests"), store)
    channel = make_channel(fake, commands, **overrides)
    await channel.start()
    channel.bind(Deliverer(store, {"discord": channel}, fast_delivery()))
    app = web.Application()
    app.add_routes(channel.routes())
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return Rig(fake, store, commands, channel, client)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    opened = await open_rig(tmp_path)
    try:
        yield opened
    finally:
        await opened.client.close()
        await opened.channel.stop()
        await opened.store.close()
        await opened.fake.stop()


async def expected(commands: Commands, name: str, args: str, language: str) -> list[dict[str, Any]]:
    """What the shared command logic answers, rendered for Discord: the adapter must pass it on unchanged."""
    async def admin() -> bool:
        return False

    context = CommandContext(platform="discord", chat="500000000000000001", user="400000000000000001",
                             is_group=True, language=language, timezone=SHANGHAI, is_admin=admin, now=MORNING)
    return render_reply(render, await commands.handle(name, args, context))


def without_ephemeral(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "flags": message.get("flags", 0) & ~EPHEMERAL}


def everything_answered(rig: Rig, answer: dict[str, Any], interaction: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer in place followed by every follow-up, as posted."""
    return [answer["data"], *rig.fake.followup_posts(interaction)]


# -- signatures ---------------------------------------------------------------------------------

async def test_ping_is_answered_with_pong(rig: Rig) -> None:
    raw = json.dumps({"type": 1, "id": "1", "application_id": rig.fake.application_id, "token": "t"}).encode()
    assert await rig.post(raw, rig.fake.sign(raw)) == (200, {"type": 1})


@pytest.mark.parametrize("forge", ["missing", "other key", "stale", "tampered", "not hex", "timestamp swapped"])
async def test_anything_not_signed_by_discord_now_is_refused_with_401(rig: Rig, forge: str) -> None:
    raw = json.dumps({"type": 1, "id": "1"}).encode()
    headers = rig.fake.sign(raw)
    if forge == "missing":
        headers = {"Content-Type": "application/json"}
    elif forge == "other key":
        stamp = headers["X-Signature-Timestamp"]
        headers["X-Signature-Ed25519"] = SigningKey.generate().sign(stamp.encode() + raw).signature.hex()
    elif forge == "stale":
        headers = rig.fake.sign(raw, timestamp=int(time.time()) - 3600)
    elif forge == "tampered":
        raw = raw.replace(b'"1"', b'"2"')
    elif forge == "not hex":
        headers["X-Signature-Ed25519"] = "z" * 128
    else:
        headers["X-Signature-Timestamp"] = str(int(headers["X-Signature-Timestamp"]) - 1)
    status, _ = await rig.post(raw, headers)
    assert status == 401
    assert rig.fake.followups == {}


async def test_a_huge_body_is_refused_before_it_is_read_whole(rig: Rig) -> None:
    raw = b'{"type": 1, "pad": "' + b"x" * (128 * 1024) + b'"}'
    status, _ = await rig.post(raw, rig.fake.sign(raw))
    assert status == 413


async def test_without_a_public_key_every_interaction_is_refused(tmp_path: Path) -> None:
    opened = await open_rig(tmp_path, settings={"public_key": "", "token": ""})
    try:
        raw = json.dumps({"type": 1}).encode()
        assert (await opened.post(raw, opened.fake.sign(raw)))[0] == 401
    finally:
        await opened.client.close()
        await opened.channel.stop()
        await opened.store.close()
        await opened.fake.stop()


# -- commands -----------------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(("name", "options", "args"), [
    ("help", None, ""),
    ("today", None, ""),
    ("item", {"number": 2}, "2"),
    ("item", {"number": 99}, "99"),
    ("category", {"name": "硬件"}, "硬件"),
    ("category", {"name": "gardening"}, "gardening"),
    ("categories", None, ""),
    ("date", {"date": LONG_DAY.isoformat()}, LONG_DAY.isoformat()),
    ("date", {"date": "yesterday"}, "yesterday"),
])
async def test_each_command_is_answered_privately_in_the_askers_language(
        rig: Rig, language: str, name: str, options: dict[str, Any] | None, args: str) -> None:
    status, answer, interaction = await rig.command(name, options, language=language)
    assert status == 200 and answer["type"] == 4
    posted = everything_answered(rig, answer, interaction)
    assert all(message["flags"] & EPHEMERAL for message in posted)
    assert [without_ephemeral(message) for message in posted] == await expected(rig.commands, name, args, language)
    assert rig.fake.posts == {} and rig.fake.pinged == []


async def test_the_public_option_shares_the_answer_with_the_channel(rig: Rig) -> None:
    status, answer, _ = await rig.command("item", {"number": 1, "public": True})
    assert status == 200 and not answer["data"]["flags"] & EPHEMERAL
    assert answer["data"] == (await expected(rig.commands, "item", "1 public", "en"))[0]


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("name", ["subscribe", "unsubscribe"])
async def test_subscribing_is_explained_as_the_configs_business(rig: Rig, language: str, name: str) -> None:
    status, answer, _ = await rig.command(name, language=language)
    assert status == 200 and answer["data"]["flags"] & EPHEMERAL
    content = answer["data"]["content"]
    assert content == render.render_notice(words(language, "subscribe_by_config", p="/"))[0]["content"]
    assert await rig.store.subscriptions() == []


async def test_a_slow_answer_is_deferred_and_followed_up_in_order(tmp_path: Path) -> None:
    opened = await open_rig(tmp_path, inline_wait=0.0)
    try:
        status, answer, interaction = await opened.command("date", {"date": LONG_DAY.isoformat()}, language="zh")
        assert status == 200 and answer == {"type": 5, "data": {"flags": EPHEMERAL}}
        posted = opened.fake.followup_posts(interaction)
        want = await expected(opened.commands, "date", LONG_DAY.isoformat(), "zh")
        assert len(want) >= 2
        assert [without_ephemeral(message) for message in posted] == want
    finally:
        await opened.client.close()
        await opened.channel.stop()
        await opened.store.close()
        await opened.fake.stop()


# -- registration -------------------------------------------------------------------------------

async def test_start_registers_every_command_with_chinese_localizations(rig: Rig) -> None:
    assert len(rig.fake.registered) == 1
    commands = {command["name"]: command for command in rig.fake.registered[0]}
    assert set(commands) == {"today", "item", "category", "categories", "date", "subscribe", "unsubscribe", "help"}
    for command in commands.values():
        assert command["description_localizations"]["zh-CN"]
    assert [option["name"] for option in commands["item"]["options"]] == ["number", "public"]
    assert commands["item"]["options"][0]["type"] == 4


async def test_a_refused_bot_token_stops_start_up_without_showing_it(tmp_path: Path) -> None:
    fake = await FakeDiscord().start()
    try:
        settings = DiscordSettings(application_id=fake.application_id, public_key=fake.public_key,
                                   token="wrong-token-value", base_url=fake.base_url)
        channel = DiscordChannel(settings)
        with pytest.raises(DiscordStartError, match="refused the bot token") as raised:
            await channel.start()
        assert "wrong-token-value" not in str(raised.value)
    finally:
        await fake.stop()
