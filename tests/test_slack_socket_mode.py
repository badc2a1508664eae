"""Socket Mode: slash commands and mentions arriving over the fake's websocket, acks and replies checked."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.commands import Commands
from bot.delivery import Deliverer
from bot.i18n import text as words
from bot.platforms.slack import SlackChannel, message_fields
from bot.store import Store, Subscription, open_store
from tests.fakes.fake_slack import FakeSlack
from tests.test_slack_http import (
    CHANNEL,
    LONG_DAY,
    MEMBER,
    WORKSPACE_ADMIN,
    expected_payloads,
    fast_delivery,
    make_channel,
    make_commands,
    shown,
    write_digests,
)


@dataclasses.dataclass
class SocketRig:
    fake: FakeSlack
    store: Store
    commands: Commands
    channel: SlackChannel

    async def command(self, text: str, *, user: str = MEMBER) -> tuple[dict[str, Any], str]:
        """Push a slash_commands envelope; returns its ack and the command's response_url."""
        payload = self.fake.slash_command(text, user=user)
        envelope_id = await self.fake.push("slash_commands", payload)
        return await self.fake.wait_ack(envelope_id), payload["response_url"]


async def until_ready(channel: SlackChannel) -> bool:
    # The fake sees the connection a moment before the client has finished setting it up.
    for _ in range(200):
        if await channel.ready():
            return True
        await asyncio.sleep(0.01)
    return False


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[SocketRig]:
    fake = await FakeSlack(admins=frozenset({WORKSPACE_ADMIN}), rate_period=0.05).start()
    store = open_store("memory://", tmp_path)
    commands = make_commands(write_digests(tmp_path / "digests"), store)
    # No signing secret: in Socket Mode nothing reaches the bot over a public URL.
    channel = make_channel(fake, commands, store, app_token=fake.app_token, signing_secret="")
    await channel.start()
    channel.bind(Deliverer(store, {"slack": channel}, fast_delivery()))
    try:
        await fake.wait_until(lambda: fake.socket_open)
        assert await until_ready(channel)
        yield SocketRig(fake, store, commands, channel)
    finally:
        await channel.stop()
        await store.close()
        await fake.stop()


async def test_it_connects_with_the_app_token_and_closes_on_stop(rig: SocketRig) -> None:
    assert rig.fake.calls[:2] == ["auth.test", "apps.connections.open"]
    assert rig.fake.socket_connections == 1

    await rig.channel.stop()

    await rig.fake.wait_until(lambda: not rig.fake.socket_open)
    assert not await rig.channel.ready()


async def test_commands_keep_working_after_slack_asks_for_a_new_connection(rig: SocketRig) -> None:
    await rig.fake.refresh()

    await rig.fake.wait_until(lambda: rig.fake.socket_connections == 2 and rig.fake.open_sockets == 1)
    assert rig.fake.calls.count("apps.connections.open") == 2
    assert await until_ready(rig.channel)
    ack, _ = await rig.command("item 1")
    assert "A GPU for small phones" in shown([ack["payload"]])


async def test_a_short_answer_is_the_ack_itself(rig: SocketRig) -> None:
    ack, response_url = await rig.command("item 3")

    [expected] = await expected_payloads(rig.commands, "item 3")
    assert ack["payload"] == message_fields(expected)
    assert "A robot arm that folds shirts" in shown([ack["payload"]])
    assert rig.fake.all_posts() == [] and rig.fake.response_posts(response_url) == []


async def test_a_bad_argument_gets_its_hint_in_the_ack(rig: SocketRig) -> None:
    ack, _ = await rig.command("item abc")

    assert ack["payload"]["response_type"] == "ephemeral"
    assert "“abc” is not an item number" in shown([ack["payload"]])


async def test_a_public_answer_is_acked_empty_and_posted(rig: SocketRig) -> None:
    expected = await expected_payloads(rig.commands, "today public")

    ack, response_url = await rig.command("today public")

    assert "payload" not in ack
    await rig.fake.wait_until(lambda: len(rig.fake.posts[CHANNEL]) == len(expected))
    assert [post["blocks"] for post in rig.fake.posts[CHANNEL]] == [payload["blocks"] for payload in expected]
    assert rig.fake.response_posts(response_url) == []


async def test_a_long_private_answer_follows_the_ack_through_the_response_url(rig: SocketRig) -> None:
    expected = await expected_payloads(rig.commands, f"date {LONG_DAY}")
    assert len(expected) >= 2

    ack, response_url = await rig.command(f"date {LONG_DAY}")

    assert "payload" not in ack
    await rig.fake.wait_until(lambda: len(rig.fake.response_posts(response_url)) == len(expected))
    assert rig.fake.response_posts(response_url) == [message_fields(payload) for payload in expected]


async def test_buttons_are_pressed_over_socket_mode_too(rig: SocketRig) -> None:
    ack, _ = await rig.command("item 2")
    pressed = rig.fake.press(ack["payload"], "▶")
    envelope_id = await rig.fake.push("interactive", pressed)
    await rig.fake.wait_ack(envelope_id)
    await rig.fake.wait_until(lambda: rig.fake.response_posts(pressed["response_url"]) != [])
    (replacement,) = rig.fake.response_posts(pressed["response_url"])
    assert replacement["replace_original"] is True and "A robot arm that folds shirts" in shown([replacement])


async def test_subscribe_needs_an_admin_in_socket_mode_too(rig: SocketRig) -> None:
    refused, _ = await rig.command("subscribe 07:45", user=MEMBER)
    assert words("en", "admins_only") in shown([refused["payload"]])
    assert await rig.store.subscriptions() == []

    accepted, _ = await rig.command("subscribe 07:45", user=WORKSPACE_ADMIN)
    assert "payload" not in accepted
    assert await rig.store.subscriptions() == [Subscription(
        platform="slack", chat=CHANNEL, schedule="07:45", timezone="Asia/Shanghai", subscribed_by=WORKSPACE_ADMIN)]
    await rig.fake.wait_until(lambda: len(rig.fake.posts[CHANNEL]) == 1)


async def test_a_mention_is_acked_then_answered_and_a_redelivery_is_not_answered_again(rig: SocketRig) -> None:
    mention = rig.fake.mention("<@UBOT> category robots", user=MEMBER)

    first = await rig.fake.push("events_api", mention)
    assert await rig.fake.wait_ack(first) == {"envelope_id": first}
    await rig.channel.drain()
    again = await rig.fake.push("events_api", mention, retry_attempt=1)
    assert await rig.fake.wait_ack(again) == {"envelope_id": again}
    await rig.channel.drain()

    [reply] = rig.fake.ephemerals
    assert reply["channel"] == CHANNEL and reply["user"] == MEMBER
    assert "A robot arm that folds shirts" in shown([reply])
    assert "A GPU for small phones" not in shown([reply])


async def test_other_envelopes_are_acked_and_ignored(rig: SocketRig) -> None:
    envelope_id = await rig.fake.push("interactive", {"type": "block_actions", "actions": []})

    assert await rig.fake.wait_ack(envelope_id) == {"envelope_id": envelope_id}
    await rig.channel.drain()
    assert rig.fake.all_posts() == [] and rig.fake.ephemerals == []


async def test_a_wrong_app_token_leaves_it_unready_without_blocking_or_leaking(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeSlack() as fake:
        store = open_store("memory://", tmp_path)
        channel = make_channel(fake, make_commands(write_digests(tmp_path / "d"), store), store,
                               app_token="xapp-1-not-the-right-one", signing_secret="")
        await channel.start()
        try:
            await fake.wait_until(lambda: "apps.connections.open" in fake.calls)
            assert not await channel.ready()
            assert fake.socket_connections == 0
        finally:
            await channel.stop()
            await store.close()
    assert "xapp-1-not-the-right-one" not in caplog.text
