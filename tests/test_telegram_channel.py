"""TelegramChannel.send through the real python-telegram-bot client against the fake Bot API server."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from bot.config import TelegramSettings
from bot.platforms.base import (
    ChatGone,
    ChatMoved,
    RateLimited,
    RenderingDefect,
    SendError,
    TransientError,
    Unauthorized,
)
from bot.platforms.telegram import TelegramChannel, TelegramRateLimits, TelegramStartError
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram

TOKEN = "123456789:AAHk-channel-test-token-0123456789abcdef"
PRIVATE = "424242"
GROUP = "-1001000000001"
HTML = {"parse_mode": "HTML", "link_preview_options": {"is_disabled": True}}

ChannelFactory = Callable[..., TelegramChannel]
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as server:
        yield server


@pytest.fixture
async def make_channel(fake: FakeTelegram) -> AsyncIterator[ChannelFactory]:
    channels: list[TelegramChannel] = []

    def make(token: str = TOKEN, **options: Any) -> TelegramChannel:
        channel = TelegramChannel(TelegramSettings(token=token, base_url=fake.base_url, updates="off"), **options)
        channels.append(channel)
        return channel

    yield make
    for channel in channels:
        await channel.stop()


async def sent_by(channel: TelegramChannel, chat: str, payload: dict[str, Any]) -> SendError:
    """The SendError `send` raises (failing the test if it succeeds)."""
    with pytest.raises(SendError) as raised:
        await channel.send(chat, payload)
    assert TOKEN not in str(raised.value) and TOKEN not in raised.value.reason
    return raised.value


async def test_send_returns_the_message_id_and_telegram_parses_the_html(
    fake: FakeTelegram, make_channel: ChannelFactory,
) -> None:
    channel = make_channel()
    payload = {"text": '<b>GPU</b> prices &amp; <a href="https://example.com/a?x=1&amp;y=2">news</a> 🚀', **HTML}

    first = await channel.send(PRIVATE, payload)
    second = await channel.send(PRIVATE, {"text": "plain second", **HTML})

    assert (first, second) == ("1", "2")
    message = fake.sent[PRIVATE][0]
    assert message.text == "GPU prices & news 🚀"
    assert {"type": "bold", "offset": 0, "length": 3} in message.entities
    link = next(entity for entity in message.entities if entity["type"] == "text_link")
    assert link["url"] == "https://example.com/a?x=1&y=2"
    assert message.params["link_preview_options"] == {"is_disabled": True}
    assert message.params["parse_mode"] == "HTML"


async def test_send_passes_explicit_entities_and_reply_parameters(
    fake: FakeTelegram, make_channel: ChannelFactory,
) -> None:
    channel = make_channel()
    payload = {"text": "bold tail", "entities": [{"type": "bold", "offset": 0, "length": 4}],
               "reply_parameters": {"message_id": 7, "allow_sending_without_reply": True},
               "link_preview_options": {"is_disabled": True}}

    await channel.send(GROUP, payload)

    message = fake.sent[GROUP][0]
    assert message.params["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert message.params["reply_parameters"] == {"message_id": 7, "allow_sending_without_reply": True}


@pytest.mark.parametrize(("arrange", "error_type", "words"), [
    (lambda fake: fake.forbid(PRIVATE), ChatGone, "blocked by the user"),
    (lambda fake: fake.forbid(PRIVATE, "Forbidden: bot was kicked from the group chat"), ChatGone, "kicked"),
    (lambda fake: fake.lose(PRIVATE), ChatGone, "chat not found"),
    (lambda fake: fake.lose(PRIVATE, "Bad Request: not enough rights to send text messages to the chat"),
     ChatGone, "not enough rights"),
    (lambda fake: fake.lose(PRIVATE, "Bad Request: group chat was deactivated"), ChatGone, "deactivated"),
    (lambda fake: fake.fail(PRIVATE, 1, 502), TransientError, "bad gateway"),
    (lambda fake: fake.fail(PRIVATE, 1, 500), TransientError, "internal server error"),
    (lambda fake: fake.chaos(seed=1, rate_429=1.0, retry_after=3), RateLimited, "retry"),
])
async def test_telegram_errors_become_the_bots_send_errors(
    fake: FakeTelegram, make_channel: ChannelFactory, arrange: Callable[[FakeTelegram], None],
    error_type: type[SendError], words: str,
) -> None:
    arrange(fake)
    error = await sent_by(make_channel(), PRIVATE, {"text": "hello", **HTML})
    assert type(error) is error_type
    assert words in error.reason.lower()
    assert PRIVATE not in fake.sent


async def test_flood_control_carries_telegrams_wait(fake: FakeTelegram, make_channel: ChannelFactory) -> None:
    fake.chaos(seed=1, rate_429=1.0, retry_after=7)
    error = await sent_by(make_channel(), PRIVATE, {"text": "hello", **HTML})
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7


async def test_a_migrated_group_names_its_new_chat(fake: FakeTelegram, make_channel: ChannelFactory) -> None:
    fake.migrate("-4001", "-1004001")
    error = await sent_by(make_channel(), "-4001", {"text": "hello", **HTML})
    assert isinstance(error, ChatMoved)
    assert error.new_chat == "-1004001"


@pytest.mark.parametrize(("text", "words"), [
    ("<b>unclosed", "can't parse entities"),
    ("<p>paragraph</p>", "unsupported start tag"),
    ("x" * 4097, "message is too long"),
])
async def test_a_payload_telegram_refuses_is_a_rendering_defect(
    fake: FakeTelegram, make_channel: ChannelFactory, text: str, words: str,
) -> None:
    error = await sent_by(make_channel(), PRIVATE, {"text": text, **HTML})
    assert isinstance(error, RenderingDefect)
    assert words in error.reason.lower()
    assert fake.refused and fake.refused[-1][1] == 400


@pytest.mark.parametrize("payload", [
    {"parse_mode": "HTML"},
    {"text": "x", "entities": [{"kind": "bold"}]},
    {"text": "x", "link_preview_options": {"disabled": True}},
])
async def test_a_payload_that_is_not_a_send_message_call_is_a_rendering_defect(
    fake: FakeTelegram, make_channel: ChannelFactory, payload: dict[str, Any],
) -> None:
    error = await sent_by(make_channel(), PRIVATE, payload)
    assert isinstance(error, RenderingDefect)
    assert fake.method_calls("sendMessage") == []


async def test_a_refused_token_is_transient_and_never_shown(fake: FakeTelegram, make_channel: ChannelFactory) -> None:
    wrong = "987654321:AAWrong-token-that-telegram-does-not-know"
    channel = make_channel(token=wrong)
    with pytest.raises(TransientError) as raised:
        await channel.send(PRIVATE, {"text": "hello", **HTML})
    assert wrong not in raised.value.reason
    assert "token" in raised.value.reason


async def test_a_token_refused_after_signing_in_is_unauthorized(
    fake: FakeTelegram, make_channel: ChannelFactory,
) -> None:
    channel = make_channel()
    await channel.send(PRIVATE, {"text": "hello", **HTML})
    fake.token = "987654321:AAWrong-token-that-telegram-does-not-know"     # revoked meanwhile
    error = await sent_by(channel, PRIVATE, {"text": "again", **HTML})
    assert isinstance(error, Unauthorized)


async def test_sends_and_edits_bring_no_warning_about_the_wrapper_methods(
    fake: FakeTelegram, make_channel: ChannelFactory,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        channel = make_channel()
        message_id = await channel.send(PRIVATE, {"text": "hello", **HTML})
        await channel.edit(PRIVATE, message_id, {"text": "hello again", **HTML})
    assert fake.message(PRIVATE, int(message_id)).text == "hello again"
    assert [str(warning.message) for warning in caught if "do_api_request" in str(warning.message)] == []


async def test_an_unreachable_server_is_transient(make_channel: ChannelFactory, fake: FakeTelegram) -> None:
    channel = make_channel()
    await fake.stop()
    with pytest.raises(TransientError) as raised:
        await channel.send(PRIVATE, {"text": "hello", **HTML})
    assert TOKEN not in raised.value.reason


async def test_a_burst_to_one_group_stays_under_telegrams_limits(
    make_channel: ChannelFactory,
) -> None:
    # Telegram's limits sped up 30×: 20 messages per 2 s per group, a message per 33 ms per chat.
    scale = 30.0
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=scale)) as fake:
        channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, updates="off"),
                                  rate_limits=TelegramRateLimits().scaled(scale))
        try:
            await asyncio.gather(*(channel.send(GROUP, {"text": f"part {n}", **HTML}) for n in range(25)))
        finally:
            await channel.stop()
        assert fake.rate_limited == []
        assert sorted(fake.texts(GROUP)) == sorted(f"part {n}" for n in range(25))


async def test_without_the_limiter_the_same_burst_is_refused() -> None:
    """The fake really enforces the group limit: the previous test's silence is the limiter's doing."""
    scale = 30.0
    unlimited = TelegramRateLimits(overall_limit=10_000, group_limit=10_000, chat_limit=10_000)
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=scale)) as fake:
        channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, updates="off"),
                                  rate_limits=unlimited)
        try:
            outcomes = await asyncio.gather(
                *(channel.send(GROUP, {"text": f"part {n}", **HTML}) for n in range(25)), return_exceptions=True)
        finally:
            await channel.stop()
    refused = [outcome for outcome in outcomes if isinstance(outcome, RateLimited)]
    assert refused and all(0 < error.retry_after <= 60 / scale for error in refused)
    assert len(fake.texts(GROUP)) + len(refused) == 25


def test_scaled_limits_speed_every_rate_up() -> None:
    limits = TelegramRateLimits().scaled(10)
    assert (limits.overall_limit, limits.overall_period) == (300, 1.0)
    assert (limits.group_limit, limits.group_period) == (20, 6.0)
    assert (limits.chat_limit, limits.chat_period) == (1, 0.1)
    with pytest.raises(ValueError):
        TelegramRateLimits().scaled(0)


@pytest.mark.parametrize(("overall", "burst"), [(30, 3), (60, 6), (600, 60), (31, 1), (5, 1), (45, 3)])
def test_the_overall_limit_leaves_in_small_bursts_that_divide_it(overall: int, burst: int) -> None:
    limits = TelegramRateLimits(overall_limit=overall)
    assert limits.overall_burst() == burst
    # Windows of `burst` messages laid end to end fill one overall window with exactly the limit.
    assert overall % burst == 0


async def test_the_token_never_reaches_the_logs(
    fake: FakeTelegram, make_channel: ChannelFactory, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("telegram", "bot", "aiohttp"):
        caplog.set_level(logging.DEBUG, logger=name)
    channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, updates="polling"),
                              poll_timeout=0.2)
    await channel.start()
    fake.fail(PRIVATE, 1)
    fake.forbid("-1009")
    with pytest.raises(TransientError):
        await channel.send(PRIVATE, {"text": "hello", **HTML})
    await channel.send(PRIVATE, {"text": "hello", **HTML})
    with pytest.raises(ChatGone):
        await channel.send("-1009", {"text": "hello", **HTML})
    await asyncio.sleep(0.5)    # a few long polls
    await channel.stop()
    await channel.stop()        # idempotent

    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert len(fake.method_calls("getUpdates")) >= 2
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in caplog.text


async def test_start_fails_in_one_line_without_the_token(fake: FakeTelegram) -> None:
    wrong = "987654321:AAWrong-token-that-telegram-does-not-know"
    refused = TelegramChannel(TelegramSettings(token=wrong, base_url=fake.base_url))
    with pytest.raises(TelegramStartError) as raised:
        await refused.start()
    assert "token" in str(raised.value) and wrong not in str(raised.value)
    assert not await refused.ready()
    await refused.stop()

    deaf = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, updates="webhook",
                                            webhook_url="https://bot.example.com/telegram/webhook"))
    with pytest.raises(TelegramStartError, match="webhook_secret"):
        await deaf.start()
    assert fake.method_calls("setWebhook") == []

    insecure = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, updates="webhook",
                                                webhook_url="http://bot.example.com/hook", webhook_secret="s3cret"))
    with pytest.raises(TelegramStartError, match="webhook") as raised:
        await insecure.start()
    assert TOKEN not in str(raised.value) and "https" in str(raised.value).lower()
    assert not await insecure.ready()

    await fake.stop()
    unreachable = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url))
    with pytest.raises(TelegramStartError, match="unreachable") as raised:
        await unreachable.start()
    assert TOKEN not in str(raised.value)


async def test_the_fake_answers_in_the_bot_apis_envelope(fake: FakeTelegram) -> None:
    """The fake is only worth its tests if it behaves like the Bot API for raw HTTP clients too."""
    base = f"{fake.base_url}{TOKEN}"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/sendMessage", json={"chat_id": 5, "text": "<b>x</b>", "parse_mode": "HTML"}) as r:
            body = await r.json()
            assert (r.status, body["ok"], body["result"]["text"]) == (200, True, "x")
        async with http.post(f"{base}/sendMessage", data={"chat_id": "6", "text": "<i>y"}) as r:
            assert (r.status, (await r.json())["result"]["text"]) == (200, "<i>y")   # no parse_mode: literal
        async with http.post(f"{base}/sendMessage", data={"chat_id": "7", "text": "<i>y", "parse_mode": "HTML"}) as r:
            body = await r.json()
            assert (r.status, body["ok"], body["error_code"]) == (400, False, 400)
            assert body["description"].startswith("Bad Request: can't parse entities")
        bad_menu = {"commands": [{"command": "Bad-Name", "description": "x"}]}
        async with http.post(f"{base}/setMyCommands", json=bad_menu) as r:
            assert (r.status, (await r.json())["description"]) == (400, "Bad Request: BOT_COMMAND_INVALID")
        async with http.post(f"{base}/nosuchMethod") as r:
            assert r.status == 404
        async with http.post(f"{fake.base_url}1:wrong/getMe") as r:
            assert (r.status, (await r.json())["description"]) == (401, "Unauthorized")

        first = await fake.say("/help", chat=5)
        second = await fake.say("/today", chat=5)
        async with http.post(f"{base}/getUpdates", json={"timeout": 0}) as r:
            assert [u["update_id"] for u in (await r.json())["result"]] == [first["update_id"], second["update_id"]]
        async with http.post(f"{base}/getUpdates", json={"offset": second["update_id"], "timeout": 0}) as r:
            assert [u["update_id"] for u in (await r.json())["result"]] == [second["update_id"]]
        hook = {"url": "https://example.com/hook", "secret_token": "ok_1"}
        async with http.post(f"{base}/setWebhook", json=hook) as r:
            assert (await r.json())["result"] is True
        async with http.post(f"{base}/getUpdates", json={"timeout": 0}) as r:
            assert r.status == 409

        fake.migrate(-77, -1007700)
        async with http.post(f"{base}/sendMessage", json={"chat_id": -77, "text": "hi"}) as r:
            body = await r.json()
            assert (r.status, body["parameters"]) == (400, {"migrate_to_chat_id": -1007700})
        fake.chaos(seed=3, rate_429=1.0, retry_after=4)
        async with http.post(f"{base}/sendMessage", json={"chat_id": 8, "text": "hi"}) as r:
            body = await r.json()
            assert (r.status, body["parameters"], body["description"]) == (
                429, {"retry_after": 4}, "Too Many Requests: retry after 4")
