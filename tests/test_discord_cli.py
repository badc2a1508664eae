"""Discord as an operator meets it, in real processes: check-config on the `discord:` keys and webhook
channels, `send` through webhooks of the fake Discord API, and `run` answering /discord/interactions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bot.digest.parse import parse_file
from bot.platforms.discord.embeds import render_digest
from tests.digests import write_digest
from tests.fakes.fake_discord import FakeDiscord
from tests.procs import BotGroup, eventually, free_port

DAY = dt.date(2025, 10, 1)
APPLICATION = "1100000000000000001"


def config_file(tmp_path: Path, channels: list[dict[str, Any]], discord: dict[str, Any] | None = None,
                port: int = 1) -> Path:
    config: dict[str, Any] = {"version": 1, "timezone": "UTC", "language": "en", "digests": {"source": "./digests"},
                              "store": "sqlite:///./ledger.db", "server": {"listen": f"127.0.0.1:{port}"},
                              "channels": channels}
    if discord is not None:
        config["discord"] = discord
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


async def test_check_config_reports_every_discord_mistake_without_showing_a_webhook(tmp_path: Path) -> None:
    secret_url = "https://discord.com/api/webhooks/123456789012345678/TOKEN-that-must-stay-hidden_0123456789"
    config = config_file(tmp_path, [
        {"name": "good", "platform": "discord", "webhook": secret_url},
        {"name": "not-a-webhook", "platform": "discord", "webhook": f"{secret_url}/../../channels/1/messages"},
        {"name": "no-webhook", "platform": "discord"},
    ], {"application_id": "12ab", "public_key": "not-hex", "rate_limit_scale": 0})
    async with BotGroup(tmp_path) as bots:
        code, output = await bots.run("check-config", config)
    assert code == 2, output
    for path in ("discord.application_id", "discord.public_key", "discord.rate_limit_scale",
                 "channels[1].webhook", "channels[2].webhook"):
        assert f": {path}: " in output, (path, output)
    assert token_of(secret_url) not in output

    fine = config_file(tmp_path, [{"name": "good", "platform": "discord", "webhook": secret_url}])
    async with BotGroup(tmp_path) as bots:
        code, output = await bots.run("check-config", fine)
    assert code == 0, output
    assert "good: discord https://discord.com/*** at 09:30" in output
    assert "discord: webhooks only" in output and token_of(secret_url) not in output


async def test_send_posts_through_each_webhook_once_and_names_a_deleted_one(tmp_path: Path) -> None:
    path = write_digest(tmp_path / "digests", DAY, items=30, summary_sentences=6)
    expected = json.loads(json.dumps(render_digest(parse_file(path))))
    assert len(expected) >= 2
    async with FakeDiscord() as fake, BotGroup(tmp_path) as bots:
        urls = [fake.webhook() for _ in range(3)]
        gone = token_of(urls[2])
        fake.delete_webhook(urls[2].rsplit("/", 2)[-2])
        config = config_file(tmp_path, [{"name": f"dc-{number}", "platform": "discord", "webhook": url}
                                        for number, url in enumerate(urls)])
        code, output = await bots.run("send", config, "--date", DAY.isoformat())
        assert code == 1, output
        for url in urls[:2]:
            assert fake.posts[url.rsplit("/", 2)[-2]] == expected
        assert "dc-2: " in output and "Unknown Webhook (10015)" in output
        assert all(token_of(url) not in output for url in urls) and gone not in output

        code, output = await bots.run("send", config, "--date", DAY.isoformat())
        assert all(fake.posts[url.rsplit("/", 2)[-2]] == expected for url in urls[:2])
        assert "already" in output and "inactive" in output


async def test_run_answers_interactions_on_the_one_server_and_registers_the_commands(tmp_path: Path) -> None:
    write_digest(tmp_path / "digests", DAY)
    port = free_port()
    async with FakeDiscord(application_id=APPLICATION) as fake, BotGroup(tmp_path) as bots:
        config = config_file(tmp_path, [], {"application_id": APPLICATION, "public_key": fake.public_key,
                                            "token": fake.bot_token, "base_url": fake.base_url}, port=port)
        bot = await bots.start("run", config)
        await fake.wait_until(lambda: len(fake.registered) == 1, within=30)
        async with aiohttp.ClientSession() as session:
            async def post(body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
                async with session.post(f"http://127.0.0.1:{port}/discord/interactions", data=body,
                                        headers=headers) as response:
                    return response.status, await response.json(content_type=None) if response.status == 200 else None

            ping = json.dumps({"type": 1, "id": "1", "application_id": APPLICATION, "token": "t"}).encode()

            async def pong() -> bool:
                try:
                    return await post(ping, fake.sign(ping)) == (200, {"type": 1})
                except aiohttp.ClientError:
                    return False

            await eventually(pong, within=30, what="a PONG from /discord/interactions")
            assert (await post(ping, {"X-Signature-Ed25519": "0" * 128, "X-Signature-Timestamp": "1"}))[0] == 401
            command = json.dumps(fake.interaction("date", {"date": DAY.isoformat()}, locale="zh-CN")).encode()
            status, answer = await post(command, fake.sign(command))
        assert status == 200 and answer["type"] in (4, 5), answer
        assert fake.bot_token not in bot.output()
