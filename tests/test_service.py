"""Operating digestbot as a process: health, readiness, metrics, clean shutdown, no secrets in logs,
`send`, `check-config` and `console`."""

from __future__ import annotations

import datetime as dt
import json
import signal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RedisServer
from tests.digests import write_digest
from tests.fakes.fake_telegram import webhook_body, webhook_headers
from tests.procs import (
    ROOT,
    SLACK_SIGNING_SECRET,
    SLACK_TOKEN,
    TELEGRAM_TOKEN,
    TELEGRAM_WEBHOOK_SECRET,
    BotGroup,
    ChannelSpec,
    Fakes,
    MultiPartDigest,
    complete,
    eventually,
    free_port,
    schedule_just_passed,
    wait_until,
    write_config,
    write_multipart_digest,
)

TIMEZONE = "Asia/Shanghai"
SECRETS_ENV = {
    "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
    "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_WEBHOOK_SECRET,
    "SLACK_BOT_TOKEN": SLACK_TOKEN,
    "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
}
CHANNELS = [
    ChannelSpec("ai-news", "telegram", "-1001234567890"),
    ChannelSpec("editor", "telegram", "424242"),
    ChannelSpec("slack-ai", "slack", "C0123456789"),
]


def service_config(tmp_path: Path, fakes: Fakes, *, store: str, channels: list[ChannelSpec], schedule: str,
                   port: int) -> Path:
    """config.example.yaml as shipped, with its endpoints turned to the fakes and its secrets left as ${VAR}."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    assert config["telegram"]["token"].startswith("${") and config["slack"]["token"].startswith("${")
    config["digests"].update(source="./digests", poll_interval=1)
    config["store"] = store
    config["server"]["listen"] = f"127.0.0.1:{port}"
    config["telegram"].update(base_url=fakes.telegram.base_url, updates="webhook",
                              token="${TELEGRAM_BOT_TOKEN}", webhook_secret="${TELEGRAM_WEBHOOK_SECRET}")
    config["slack"].update(base_url=fakes.slack.base_url, token="${SLACK_BOT_TOKEN}",
                           signing_secret="${SLACK_SIGNING_SECRET}")
    config["channels"] = [channel.as_config(schedule) for channel in channels]
    return write_config(tmp_path / "digestbot.yaml", config)


async def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{port}{path}", timeout=aiohttp.ClientTimeout(total=5)) as response:
            return response.status, await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return 0, ""


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, for every sample of a /metrics page."""
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def metric(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def assert_no_secrets(output: str) -> None:
    secrets = {**SECRETS_ENV, "the secret half of the Telegram token": TELEGRAM_TOKEN.split(":", 1)[1]}
    for name, value in secrets.items():
        assert value not in output, f"{name} appears in the output"


def today_in(timezone: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(timezone)).date()


# -- digestbot run ---------------------------------------------------------------------------------

async def test_run_serves_health_readiness_and_metrics_and_stops_on_sigterm(tmp_path: Path,
                                                                            private_redis: RedisServer) -> None:
    schedule, digest_date = schedule_just_passed(TIMEZONE)
    port = free_port()
    async with Fakes(scale=4.0) as fakes, BotGroup(tmp_path) as bots:
        config = service_config(tmp_path, fakes, store=private_redis.url, channels=CHANNELS, schedule=schedule,
                                port=port)
        bot = await bots.start("run", config, env={**SECRETS_ENV, "DIGESTBOT_LOG_LEVEL": "DEBUG"})

        async def answers(path: str, status: int) -> bool:
            if bot.returncode is not None:
                raise AssertionError(f"the bot exited with {bot.returncode}:\n{bot.tail()}")
            return (await http_get(port, path))[0] == status

        await eventually(lambda: answers("/healthz", 200), within=60, what="GET /healthz 200")
        await eventually(lambda: answers("/readyz", 200), within=30, what="GET /readyz 200")
        status, body = await http_get(port, "/readyz")
        assert status == 200
        assert json.loads(body)["checks"] == {"store": True, "telegram": True, "slack": True, "discord": True}

        # The schedule has passed but the day's digest is not published yet: nothing is sent.
        before = metric_samples((await http_get(port, "/metrics"))[1])
        assert metric(before, "digestbot_messages_sent_total", platform="telegram") == 0
        assert metric(before, "digestbot_messages_sent_total", platform="slack") == 0
        digest: MultiPartDigest = write_multipart_digest(tmp_path / "digests", digest_date)
        await wait_until(lambda: complete(fakes, digest, CHANNELS), within=60, processes=[bot],
                         what="the digest in every channel once published")

        async def counted() -> bool:
            samples = metric_samples((await http_get(port, "/metrics"))[1])
            return metric(samples, "digestbot_deliveries_total", outcome="delivered") == len(CHANNELS)

        await eventually(counted, within=10, what="three deliveries counted")
        after_text = (await http_get(port, "/metrics"))[1]
        after = metric_samples(after_text)
        telegram_parts = sum(len(digest.expected(c)) for c in CHANNELS if c.platform == "telegram")
        slack_parts = sum(len(digest.expected(c)) for c in CHANNELS if c.platform == "slack")
        assert metric(after, "digestbot_messages_sent_total", platform="telegram") == telegram_parts
        assert metric(after, "digestbot_messages_sent_total", platform="slack") == slack_parts
        assert metric(after, "digestbot_delivery_lag_seconds_count") == len(CHANNELS)
        names = {name for name, _ in after}
        assert names and all(name.startswith("digestbot_") for name in names), sorted(names)
        help_names = [line.split()[2] for line in after_text.splitlines() if line.startswith(("# HELP", "# TYPE"))]
        assert all(name.startswith("digestbot_") for name in help_names)

        # A command by webhook: answered in the chat, and counted.
        update = fakes.telegram.message_update("/item 2", chat=CHANNELS[1].chat)
        async with aiohttp.ClientSession() as session, session.post(
                f"http://127.0.0.1:{port}/telegram/webhook", data=webhook_body(update),
                headers=webhook_headers(TELEGRAM_WEBHOOK_SECRET)) as response:
            assert response.status == 200
        replies = len(digest.expected(CHANNELS[1])) + 1
        await fakes.telegram.wait_for_messages(CHANNELS[1].chat, replies, within=30)
        assert "Headline 2 for" in fakes.telegram.texts(CHANNELS[1].chat)[-1]
        commands = metric_samples((await http_get(port, "/metrics"))[1])
        assert metric(commands, "digestbot_commands_total", command="item", platform="telegram") == 1
        assert metric(commands, "digestbot_messages_sent_total", platform="telegram") == telegram_parts + 1

        # Readiness follows the store: 503 while Redis is down, 200 again once it is back.
        private_redis.stop()
        await eventually(lambda: answers("/readyz", 503), within=30, what="GET /readyz 503 with Redis down")
        status, body = await http_get(port, "/readyz")
        assert status == 503
        assert json.loads(body)["checks"]["store"] is False
        assert (await http_get(port, "/healthz"))[0] == 200
        private_redis.start()
        await eventually(lambda: answers("/readyz", 200), within=30, what="GET /readyz 200 with Redis back")

        bot.signal(signal.SIGTERM)
        # Documented bound: exit within 10 s of SIGTERM; wait_exit allows 15 s for a noisy machine.
        assert await bot.wait_exit() == 0, bot.tail()

    output = bot.output()
    assert_no_secrets(output)
    lines = [line for line in output.splitlines() if line.strip()]
    assert any('"level": "DEBUG"' in line for line in lines), "DIGESTBOT_LOG_LEVEL=DEBUG had no effect"
    not_json = [line for line in lines if not line.startswith("{")]
    assert not_json == [], f"log lines that are not JSON: {not_json[:3]}"
    for line in lines:
        json.loads(line)


async def test_run_is_not_ready_and_stops_when_telegram_refuses_the_token(tmp_path: Path) -> None:
    schedule, digest_date = schedule_just_passed(TIMEZONE)
    write_multipart_digest(tmp_path / "digests", digest_date)
    port = free_port()
    async with Fakes() as fakes, BotGroup(tmp_path) as bots:
        fakes.telegram.token = "7000000001:AAsomeOtherBotsTokenTheFakeAcceptsOnly"
        config = service_config(tmp_path, fakes, store="sqlite:///./digestbot.db", channels=CHANNELS,
                                schedule=schedule, port=port)
        bot = await bots.start("run", config, env={**SECRETS_ENV, "DIGESTBOT_LOG_LEVEL": "DEBUG"})
        seen: list[int] = []

        async def probe() -> bool:
            status, _ = await http_get(port, "/readyz")
            if status:
                seen.append(status)
            return bot.returncode is not None

        await eventually(probe, within=60, what="the bot to give up on a refused token", interval=0.02)
        output = bot.output()

    assert 200 not in seen, "/readyz said ready although Telegram refused the token"
    assert bot.returncode not in (0, None)
    assert "telegram.token" in output
    assert "Traceback" not in output
    assert fakes.telegram.total_sent() == 0 and fakes.slack.all_posts() == []
    assert_no_secrets(output)


# -- digestbot send --------------------------------------------------------------------------------

async def test_send_posts_the_digest_to_every_channel(tmp_path: Path) -> None:
    digest = write_multipart_digest(tmp_path / "digests", today_in(TIMEZONE))
    async with Fakes(scale=4.0) as fakes, BotGroup(tmp_path) as bots:
        config = service_config(tmp_path, fakes, store="sqlite:///./digestbot.db", channels=CHANNELS,
                                schedule="09:30", port=free_port())
        code, output = await bots.run("send", config, env=SECRETS_ENV)
        assert code == 0, output
        for channel in CHANNELS:
            assert fakes.received(channel) == digest.expected(channel), channel.name
            assert channel.name in output

        # Sending again sends nothing twice: the ledger already has every part.
        code, output = await bots.run("send", config, env=SECRETS_ENV)
        assert code == 0, output
        for channel in CHANNELS:
            assert fakes.received(channel) == digest.expected(channel), channel.name
    assert_no_secrets(output)


async def test_send_names_each_channel_that_could_not_be_served(tmp_path: Path) -> None:
    digest = write_multipart_digest(tmp_path / "digests", today_in(TIMEZONE))
    kicked = ChannelSpec("kicked-group", "telegram", "-1009876543210")
    archived = ChannelSpec("old-slack", "slack", "C0GONE00001")
    channels = [*CHANNELS, kicked, archived]
    async with Fakes(scale=4.0) as fakes, BotGroup(tmp_path) as bots:
        fakes.telegram.forbid(kicked.chat)
        fakes.slack.fail_channel(archived.chat, "channel_not_found")
        config = service_config(tmp_path, fakes, store="sqlite:///./digestbot.db", channels=channels,
                                schedule="09:30", port=free_port())
        code, output = await bots.run("send", config, env=SECRETS_ENV)

    assert code == 1, output
    lines = output.splitlines()
    kicked_line = next((line for line in lines if line.startswith(f"{kicked.name}:")), "")
    archived_line = next((line for line in lines if line.startswith(f"{archived.name}:")), "")
    assert "kicked" in kicked_line.lower(), output
    assert "channel_not_found" in archived_line, output
    for channel in CHANNELS:
        assert fakes.received(channel) == digest.expected(channel), channel.name
    assert_no_secrets(output)


# -- digestbot check-config ------------------------------------------------------------------------

async def test_check_config_lists_every_problem_of_a_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text(
        "version: 1\n"
        "timezone: Mars/Olympus\n"
        "language: fr\n"
        "store: ftp://example.com/ledger\n"
        "digests: {source: ./digests, poll_interval: soon}\n"
        "telegram: {token: '${TELEGRAM_BOT_TOKEN}', updates: sometimes}\n"
        "server: {listen: nowhere}\n"
        "channels:\n"
        "  - {name: news, platform: telegram, schedule: '25:99'}\n"
        "  - {name: news, platform: fax, chat: x}\n",
        encoding="utf-8")
    async with BotGroup(tmp_path) as bots:
        code, output = await bots.run("check-config", config, env=SECRETS_ENV)

    assert code == 2, output
    for key in ("timezone", "language", "store", "digests.poll_interval", "telegram.updates", "server.listen",
                "channels[0].chat", "channels[0].schedule", "channels[1].name", "channels[1].platform"):
        assert any(f": {key}:" in line for line in output.splitlines()), f"{key} not reported:\n{output}"
    assert all(line.startswith(f"{config}:") for line in output.splitlines() if line.strip()), output
    assert "Traceback" not in output
    assert_no_secrets(output)


# -- digestbot console -----------------------------------------------------------------------------

async def test_console_answers_each_command(tmp_path: Path) -> None:
    today = today_in(TIMEZONE)
    write_digest(tmp_path / "digests", today, items=5)
    config = write_config(tmp_path / "console.yaml", {
        "version": 1,
        "timezone": TIMEZONE,
        "language": "en",
        "digests": {"source": "./digests", "catch_up": 0},
        "categories": {"Hardware": {"aliases": ["hardware", "hw"], "keywords": ["chips"]},
                       "Robotics": {"aliases": ["robots"], "keywords": ["humanoid"]}},
        "store": "memory://",
        "channels": [{"name": "terminal", "platform": "console", "schedule": "09:30"}],
    })
    commands = ["/today", "/item 1", "/item 99", "/category robotics", "/category hardware", "quit",
                "/today"]    # never read: the console ended at quit
    async with BotGroup(tmp_path) as bots:
        code, output = await bots.run("console", config, stdin="".join(f"{c}\n" for c in commands).encode(),
                                      within=60)

    assert code == 0, output
    # Replies are separated by a blank line; the help comes first.
    day = today.isoformat()
    assert output.count(f"Test digest {day}") == 1
    today_at = output.index(f"Test digest {day}")
    item_at = output.index(f"Item 1 · {day}")
    too_far_at = output.index("only 5 items", item_at)
    hardware_at = output.index(f"Hardware · {day}", too_far_at)
    assert today_at < item_at < too_far_at < hardware_at
    item_reply = output[item_at:too_far_at]
    assert "Headline 1 for" in item_reply and "Headline 2 for" not in item_reply
    robotics_reply = output[too_far_at:hardware_at]
    assert "robotics" in robotics_reply.lower() and "Headline" not in robotics_reply
    hardware_reply = output[hardware_at:]
    assert all(f"Headline {n} for {day}" in hardware_reply for n in range(1, 6))
