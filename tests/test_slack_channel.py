"""SlackChannel.send against the fake Slack Web API: payloads, pacing and every error translation."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import DeliverySettings, SlackSettings
from bot.delivery import Deliverer, Outcome, Target
from bot.platforms.base import ChatGone, RateLimited, RenderingDefect, TransientError, Unauthorized
from bot.platforms.slack import FALLBACK_TEXT_LIMIT, SlackChannel, SlackRateLimit, SlackStartError
from bot.store import open_store
from bot.store.base import DeliveryKey
from bot.store.memory import MemoryStore
from tests.conftest import free_port
from tests.fakes.fake_slack import CHANNEL_ERRORS, FakeSlack

CHANNEL = "C0NEWS"
# The client paces at 1 post per 0.1 s per channel; the fake (rate_period=0.1) allows 2 per window.
PACED = SlackRateLimit().scaled(10)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def message(*texts: str, fallback: str = "digest") -> dict[str, Any]:
    return {"text": fallback, "blocks": [section(text) for text in texts],
            "unfurl_links": False, "unfurl_media": False}


def settings_for(fake: FakeSlack, **overrides: Any) -> SlackSettings:
    values: dict[str, Any] = {"token": fake.token, "signing_secret": "test-signing-secret",
                              "base_url": fake.base_url}
    values.update(overrides)
    return SlackSettings(**values)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(rate_period=0.1) as server:
        yield server


def make_channel(fake: FakeSlack, rate_limit: SlackRateLimit = PACED,
                 request_timeout: float = 5.0, **overrides: Any) -> SlackChannel:
    return SlackChannel(settings_for(fake, **overrides), commands=None, store=MemoryStore(),
                        rate_limit=rate_limit, request_timeout=request_timeout)


@pytest.fixture
async def channel(fake: FakeSlack) -> AsyncIterator[SlackChannel]:
    slack = make_channel(fake)
    await slack.start()
    try:
        yield slack
    finally:
        await slack.stop()


async def test_send_posts_the_payload_with_unfurling_off_and_returns_the_ts(
        fake: FakeSlack, channel: SlackChannel) -> None:
    payload = message("*One* <https://example.com/a|a link>", "second block")
    payload["unfurl_links"] = True   # whatever a caller passes, a digest never unfurls

    ts = await channel.send(CHANNEL, payload)

    [posted] = fake.posts[CHANNEL]
    assert posted["channel"] == CHANNEL
    assert posted["blocks"] == payload["blocks"]
    assert posted["text"] == payload["text"]
    assert posted["unfurl_links"] is False and posted["unfurl_media"] is False
    assert ts and ts.replace(".", "").isdigit()


async def test_start_learns_the_bot_identity(fake: FakeSlack, channel: SlackChannel) -> None:
    assert channel.bot_user_id == fake.bot_user_id
    assert channel.team_id == fake.team_id
    assert await channel.ready()
    await channel.stop()
    await channel.stop()    # idempotent
    assert not await channel.ready()


@pytest.mark.parametrize("error", CHANNEL_ERRORS)
async def test_a_channel_that_is_gone_raises_chat_gone_with_the_slack_error(
        fake: FakeSlack, channel: SlackChannel, error: str) -> None:
    fake.fail_channel(CHANNEL, error)

    with pytest.raises(ChatGone) as raised:
        await channel.send(CHANNEL, message("hello"))

    assert raised.value.reason == error
    assert fake.posts[CHANNEL] == []


async def test_a_revoked_token_is_unauthorized_and_the_token_is_never_in_the_error(
        fake: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)     # before the client is made: it takes slack-sdk's level then
    channel = make_channel(fake)
    await channel.start()
    token = fake.token
    fake.token = "xoxb-rotated-elsewhere"

    try:
        with pytest.raises(Unauthorized) as raised:
            await channel.send(CHANNEL, message("hello"))
    finally:
        await channel.stop()

    assert raised.value.reason == "invalid_auth"
    assert token not in str(raised.value) and token not in repr(raised.value.__cause__)
    assert any(record.name.startswith("slack_sdk") and "chat.postMessage" in record.getMessage()
               for record in caplog.records), "slack-sdk's debug lines are what this checks"
    assert token not in caplog.text


async def test_the_web_clients_debug_lines_are_formatted_only_when_debug_logging_is_on(
        fake: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    # slack-sdk formats them when its logger's own level is at most DEBUG, NOTSET included.
    for level in (logging.INFO, logging.DEBUG):
        caplog.set_level(level)
        channel = make_channel(fake)
        try:
            assert channel.client.logger.level == level
        finally:
            await channel.stop()


async def test_a_revoked_token_fails_the_delivery_without_marking_the_channel_gone(
        fake: FakeSlack, channel: SlackChannel, tmp_path: Path) -> None:
    fake.token = "xoxb-rotated-elsewhere"
    store = open_store("memory://", tmp_path)
    deliverer = Deliverer(store, {"slack": channel}, DeliverySettings())
    key = DeliveryKey(dt.date(2025, 10, 1), "slack-news")
    result = await deliverer.deliver(key, Target("slack-news", "slack", CHANNEL), [message("hello")])
    assert result.outcome is Outcome.FAILED and "invalid_auth" in result.reason
    assert await store.inactive_chats() == {}
    assert fake.posts[CHANNEL] == []


async def test_a_start_with_a_bad_token_fails_without_showing_it(fake: FakeSlack) -> None:
    slack = make_channel(fake, token="xoxb-wrong-token-123")

    with pytest.raises(SlackStartError) as raised:
        await slack.start()

    assert str(raised.value) == "Slack refused the bot token (slack.token): invalid_auth"
    assert not await slack.ready()


async def test_a_start_with_slack_unreachable_says_so(fake: FakeSlack) -> None:
    slack = make_channel(fake, base_url=f"http://127.0.0.1:{free_port()}/api/")

    with pytest.raises(SlackStartError) as raised:
        await slack.start()

    assert str(raised.value).startswith("Slack is unreachable at start: ")
    assert fake.token not in str(raised.value)


async def test_send_works_without_start_for_one_off_posts(fake: FakeSlack) -> None:
    # `digestbot send` delivers without taking commands, so it never calls start().
    slack = make_channel(fake)
    try:
        assert await slack.send(CHANNEL, message("one-off"))
    finally:
        await slack.stop()
    assert [post["text"] for post in fake.posts[CHANNEL]] == ["digest"]
    assert fake.calls == ["chat.postMessage"]


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient(fake: FakeSlack, channel: SlackChannel, status: int) -> None:
    fake.fail_server(CHANNEL, times=1, status=status)

    with pytest.raises(TransientError) as raised:
        await channel.send(CHANNEL, message("hello"))
    assert str(status) in raised.value.reason

    await channel.send(CHANNEL, message("hello again"))   # the failure was injected once
    assert [post["blocks"][0]["text"]["text"] for post in fake.posts[CHANNEL]] == ["hello again"]


async def test_an_unreachable_api_is_transient(fake: FakeSlack, channel: SlackChannel) -> None:
    channel.client.base_url = f"http://127.0.0.1:{free_port()}/api/"

    with pytest.raises(TransientError):
        await channel.send(CHANNEL, message("nobody listens"))


async def test_a_429_is_rate_limited_with_the_retry_after_of_the_header(fake: FakeSlack) -> None:
    fake.chaos(p_rate_limited=1.0, p_server_error=0.0)
    slack = make_channel(fake)
    await slack.start()
    try:
        with pytest.raises(RateLimited) as raised:
            await slack.send(CHANNEL, message("hello"))
    finally:
        await slack.stop()

    assert raised.value.reason == "ratelimited"
    assert raised.value.retry_after == pytest.approx(fake.rate_period, abs=0.001)
    assert fake.rate_limited[CHANNEL] == 1


async def test_a_burst_without_client_pacing_is_refused_by_the_fake(fake: FakeSlack) -> None:
    # The control for the pacing test below: the fake really does enforce the per-channel window.
    slack = make_channel(fake, rate_limit=SlackRateLimit(per_channel=1000, period=1.0))
    await slack.start()
    try:
        with pytest.raises(RateLimited) as raised:
            for number in range(fake.rate_limit + 1):
                await slack.send(CHANNEL, message(f"burst {number}"))
    finally:
        await slack.stop()
    assert 0 < raised.value.retry_after <= fake.rate_period


async def test_a_burst_through_the_per_channel_limit_gets_no_429(fake: FakeSlack, channel: SlackChannel) -> None:
    for number in range(6):
        await channel.send(CHANNEL, message(f"part {number}"))
        await channel.send("C0OTHER", message(f"other {number}"))

    assert fake.rate_limited == {}
    assert [post["blocks"][0]["text"]["text"] for post in fake.posts[CHANNEL]] == [f"part {n}" for n in range(6)]
    assert len(fake.posts["C0OTHER"]) == 6


async def test_blocks_too_long_are_split_once_into_two_ordered_messages(
        fake: FakeSlack, channel: SlackChannel, caplog: pytest.LogCaptureFixture) -> None:
    texts = [f"{number} " + "长文本" * 950 for number in range(6)]   # ~2,850 characters each
    payload = message(*texts, fallback="今日摘要 " + "x" * 5000)

    ts = await channel.send(CHANNEL, payload)

    assert ("C0NEWS", "msg_blocks_too_long") in fake.refused
    first, second = fake.posts[CHANNEL]
    assert first["blocks"] + second["blocks"] == payload["blocks"]
    assert first["blocks"] and second["blocks"]
    assert all(len(post["text"]) <= FALLBACK_TEXT_LIMIT for post in (first, second))
    assert first["text"].startswith("0 ") and second["text"].startswith(second["blocks"][0]["text"]["text"][:10])
    assert ts
    assert "rendering defect" in caplog.text


async def test_a_split_message_whose_second_half_keeps_failing_never_reposts_the_first(
        fake: FakeSlack, channel: SlackChannel, tmp_path: Path) -> None:
    texts = [f"{number} " + "长文本" * 950 for number in range(6)]
    payload = message(*texts, fallback="今日摘要")
    fake.fail_server(CHANNEL, times=50, after=2)     # the refused whole and the first half get through
    store = open_store("memory://", tmp_path)
    deliverer = Deliverer(store, {"slack": channel}, DeliverySettings(max_attempts=3, backoff_base=0.01,
                                                                      backoff_max=0.02))
    key = DeliveryKey(dt.date(2025, 10, 1), "slack-news")
    result = await deliverer.deliver(key, Target("slack-news", "slack", CHANNEL), [payload])
    assert result.outcome is Outcome.FAILED and "second half" in result.reason
    (first_half,) = fake.posts[CHANNEL]
    assert first_half["blocks"][0]["text"]["text"].startswith("0 ")


async def test_text_too_long_without_blocks_is_split_at_a_paragraph(fake: FakeSlack, channel: SlackChannel) -> None:
    paragraphs = [f"Paragraph {number}: " + "words and more words " * 400 for number in range(6)]
    text = "\n\n".join(paragraphs)          # ~50,000 characters, past Slack's 40,000
    assert len(text) > 40_000

    await channel.send(CHANNEL, {"text": text, "unfurl_links": False, "unfurl_media": False})

    assert fake.refused == [(CHANNEL, "msg_too_long")]
    first, second = fake.posts[CHANNEL]
    assert first["text"] + second["text"] == text
    assert first["text"].endswith("\n\n") and second["text"].startswith("Paragraph 3:")


async def test_a_server_error_on_the_second_half_is_retried_without_repeating_the_first(
        fake: FakeSlack, channel: SlackChannel) -> None:
    texts = [f"{number} " + "段落" * 1400 for number in range(6)]
    payload = message(*texts)
    # The whole payload is refused, the first half accepted, then the second half meets a 502.
    fake.fail_server(CHANNEL, times=1, status=502, after=2)

    await channel.send(CHANNEL, payload)

    first, second = fake.posts[CHANNEL]
    assert first["blocks"] + second["blocks"] == payload["blocks"]


async def test_a_half_that_still_fails_is_a_rendering_defect(fake: FakeSlack, channel: SlackChannel) -> None:
    oversized = "y" * 3500      # a section text beyond 3,000 characters is invalid on its own
    with pytest.raises(RenderingDefect) as raised:
        await channel.send(CHANNEL, message(oversized, oversized))

    assert raised.value.reason == "invalid_blocks"
    assert fake.posts[CHANNEL] == []


async def test_a_single_invalid_block_cannot_be_split(fake: FakeSlack, channel: SlackChannel) -> None:
    with pytest.raises(RenderingDefect) as raised:
        await channel.send(CHANNEL, message("z" * 3500))

    assert raised.value.reason == "invalid_blocks"
    assert [error for _, error in fake.refused] == ["invalid_blocks"]


async def test_raw_client_sees_the_same_refusal(fake: FakeSlack) -> None:
    # Guards the fake itself: what SlackChannel translates is what the real client raises.
    client = AsyncWebClient(token=fake.token, base_url=fake.base_url)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=CHANNEL, **message("q" * 3500))
    assert raised.value.response["error"] == "invalid_blocks"
