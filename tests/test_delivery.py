"""The deliverer's own guarantees, over the console channel and a real store."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path

import pytest

from bot import metrics
from bot.config import DeliverySettings
from bot.corrections import Corrector, Fingerprint, corrections_owner
from bot.delivery import OUTCOME_OF_KIND, Deliverer, Kind, Outcome, SendEvent, Target
from bot.digest.parse import parse_digest
from bot.leases import chat_lease_name, delivery_lease_name
from bot.platforms.base import (
    ChatGone,
    Gate,
    MaybeSent,
    RenderingDefect,
    SendError,
    TransientError,
    Unauthorized,
)
from bot.platforms.console import ConsoleChannel
from bot.render import Payload
from bot.render import text as text_renderer
from bot.store import open_store
from bot.store.base import UNCONFIRMED_MESSAGE_ID, DeliveryKey, LeaseHolder
from tests.digests import digest_text

KEY = DeliveryKey(dt.date(2025, 10, 1), "terminal")
TARGET = Target("terminal", "console", "")
PARTS = [{"text": f"part {n}"} for n in range(3)]


class WatchedOutput(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.written = asyncio.Event()

    def write(self, text: str) -> int:
        self.written.set()
        return super().write(text)


def printed(out: io.StringIO) -> list[str]:
    return [line for line in out.getvalue().splitlines() if line]


async def test_two_concurrent_deliveries_of_one_key_send_each_part_once(tmp_path: Path) -> None:
    store = open_store("memory://", tmp_path)
    out = io.StringIO()
    deliverer = Deliverer(store, {"console": ConsoleChannel(out)}, DeliverySettings())
    results = await asyncio.gather(*(deliverer.deliver(KEY, TARGET, PARTS) for _ in range(3)))
    assert printed(out) == ["part 0", "part 1", "part 2"]
    assert sorted(result.outcome for result in results) == [Outcome.ALREADY, Outcome.ALREADY, Outcome.DELIVERED]
    await store.close()


async def test_a_resumed_delivery_starts_at_the_first_unsent_part(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    # A previous owner sent part 0 and was killed while part 1 was on its way.
    await store.begin_part(KEY, 0, 3)
    await store.record_part(KEY, 0, "m0")
    await store.begin_part(KEY, 1, 3)
    out = io.StringIO()
    deliverer = Deliverer(store, {"console": ConsoleChannel(out)}, DeliverySettings())
    result = await deliverer.deliver(KEY, TARGET, PARTS)
    assert result.outcome is Outcome.DELIVERED and result.parts_sent == 2
    assert printed(out) == ["part 1", "part 2"]
    ledger = await store.ledger(KEY)
    assert ledger.finished and set(ledger.sent) == {0, 1, 2}
    await store.close()


async def test_a_delivery_leased_by_another_process_is_left_alone(tmp_path: Path) -> None:
    store = open_store("memory://", tmp_path)
    assert await store.claim(f"lease:{KEY}", "another-process", 30)
    out = io.StringIO()
    deliverer = Deliverer(store, {"console": ConsoleChannel(out)}, DeliverySettings())
    result = await deliverer.deliver(KEY, TARGET, PARTS)
    assert result.outcome is Outcome.BUSY
    assert printed(out) == []
    await store.close()


async def test_two_processes_never_interleave_their_posts_in_one_chat(tmp_path: Path) -> None:
    # Two deliverers with their own owners stand for two replicas sharing one store.
    store = open_store(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path)
    out = WatchedOutput()
    console = ConsoleChannel(out)
    scheduled = Deliverer(store, {"console": console}, DeliverySettings(), owner="replica-a")
    replying = Deliverer(store, {"console": console}, DeliverySettings(), owner="replica-b")
    digest = [{"text": f"digest {n}"} for n in range(4)]
    reply = [{"text": f"reply {n}"} for n in range(3)]
    delivery = asyncio.create_task(scheduled.deliver(KEY, TARGET, digest))
    await out.written.wait()                        # the reply arrives while the digest is going out
    await replying.send_parts("console", "", reply)
    assert (await delivery).outcome is Outcome.DELIVERED
    assert printed(out) == [p["text"] for p in digest + reply]
    await store.close()


async def test_a_scheduled_delivery_waits_while_another_process_posts_in_the_chat(tmp_path: Path) -> None:
    store = open_store("memory://", tmp_path)
    assert await store.claim(chat_lease_name("console", ""), "replica-b", 30)
    out = io.StringIO()
    deliverer = Deliverer(store, {"console": ConsoleChannel(out)}, DeliverySettings(), owner="replica-a")
    result = await deliverer.deliver(KEY, TARGET, PARTS)
    assert result.outcome is Outcome.BUSY and printed(out) == []
    await store.release(chat_lease_name("console", ""), "replica-b")
    assert (await deliverer.deliver(KEY, TARGET, PARTS)).outcome is Outcome.DELIVERED
    assert printed(out) == ["part 0", "part 1", "part 2"]
    await store.close()


# -- sends that time out after the request went out -------------------------------------------
class ScriptedChannel:
    """A channel of our own whose attempts follow a script per part text: "ok" (the default),
    "timeout" (the request went out, no answer: MaybeSent) or "refused" (never left: transient)."""

    platform = "console"

    def __init__(self, script: dict[str, list[str]] | None = None) -> None:
        self.script = {text: list(steps) for text, steps in (script or {}).items()}
        self.attempts: list[str] = []      # every send asked for
        self.written: list[str] = []       # every request that reached the platform: may be in the chat

    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        text = str(payload["text"])
        self.attempts.append(text)
        steps = self.script.get(text) or ["ok"]
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        if step == "refused":
            raise TransientError("connection refused")
        self.written.append(text)
        if step == "timeout":
            raise MaybeSent("no answer within 1s after the request went out")
        return f"id-{len(self.written)}"


def copies(channel: ScriptedChannel) -> dict[str, int]:
    return {text: channel.written.count(text) for text in dict.fromkeys(channel.written)}


def maybe_sent_total(action: str) -> float:
    value = metrics.REGISTRY.get_sample_value("digestbot_messages_maybe_sent_total",
                                              {"platform": "console", "action": action})
    return value or 0.0


FAST = DeliverySettings(max_attempts=3, backoff_base=0.001, backoff_max=0.002)


async def test_a_part_that_timed_out_is_resent_once_and_reported(tmp_path: Path) -> None:
    store = open_store("memory://", tmp_path)
    channel = ScriptedChannel({"part 1": ["timeout", "ok"]})
    events: list[SendEvent] = []
    resent_before = maybe_sent_total("resent")
    deliverer = Deliverer(store, {"console": channel}, FAST, on_event=events.append)
    result = await deliverer.deliver(KEY, TARGET, PARTS)
    assert (result.outcome, result.kind) == (Outcome.DELIVERED, Kind.MAYBE_SENT)
    assert (result.maybe_sent, result.unconfirmed, result.parts_sent) == ((1,), (), 3)
    assert "part 2/3" in result.reason and "resent once" in result.reason
    assert copies(channel) == {"part 0": 1, "part 1": 2, "part 2": 1}
    assert SendEvent("console", "maybe_sent", "resent") in events
    assert maybe_sent_total("resent") == resent_before + 1
    ledger = await store.ledger(KEY)
    assert ledger.finished and ledger.maybe_sent == {1} and ledger.sent[1] == "id-3"
    await store.close()


async def test_a_resend_that_times_out_too_counts_as_sent_and_never_makes_a_third_copy(tmp_path: Path) -> None:
    store = open_store("memory://", tmp_path)
    channel = ScriptedChannel({"part 1": ["timeout"]})      # every attempt at part 1 times out
    unconfirmed_before = maybe_sent_total("unconfirmed")
    deliverer = Deliverer(store, {"console": channel}, FAST)
    result = await deliverer.deliver(KEY, TARGET, PARTS)
    assert (result.outcome, result.kind) == (Outcome.DELIVERED, Kind.MAYBE_SENT)
    assert (result.maybe_sent, result.unconfirmed) == ((1,), (1,))
    assert "part 2/3 unconfirmed" in result.reason
    assert copies(channel) == {"part 0": 1, "part 1": 2, "part 2": 1}, "the delivery moved on after two"
    assert maybe_sent_total("unconfirmed") == unconfirmed_before + 1
    ledger = await store.ledger(KEY)
    assert ledger.finished and ledger.sent[1] == UNCONFIRMED_MESSAGE_ID
    assert (await deliverer.deliver(KEY, TARGET, PARTS)).outcome is Outcome.ALREADY
    assert len(channel.attempts) == 4
    await store.close()


async def test_a_spent_resend_stays_spent_for_the_next_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    first_store = open_store(url, tmp_path)
    # Part 1 times out, and its one resend never gets out (the network is down) until retries run out.
    flaky = ScriptedChannel({"part 1": ["timeout", "refused"]})
    first = await Deliverer(first_store, {"console": flaky}, FAST, owner="run-1").deliver(KEY, TARGET, PARTS)
    assert (first.outcome, first.kind, first.maybe_sent) == (Outcome.FAILED, Kind.TRANSIENT, (1,))
    assert copies(flaky) == {"part 0": 1, "part 1": 1}
    await first_store.close()

    second_store = open_store(url, tmp_path)            # a restart, or another replica
    healthy = ScriptedChannel()
    second = await Deliverer(second_store, {"console": healthy}, FAST, owner="run-2").deliver(KEY, TARGET, PARTS)
    assert (second.outcome, second.kind) == (Outcome.DELIVERED, Kind.MAYBE_SENT)
    assert (second.maybe_sent, second.unconfirmed, second.parts_sent) == ((1,), (1,), 1)
    assert healthy.attempts == ["part 2"], "the part whose resend was spent is not sent again"
    await second_store.close()


async def test_a_resumed_delivery_does_not_resend_a_part_whose_resend_was_in_flight(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    # The previous owner's send of part 0 timed out; it was killed while resending.
    await store.begin_part(KEY, 0, 3)
    assert await store.mark_maybe_sent(KEY, 0)
    channel = ScriptedChannel()
    result = await Deliverer(store, {"console": channel}, FAST).deliver(KEY, TARGET, PARTS)
    assert result.kind is Kind.MAYBE_SENT and result.unconfirmed == (0,)
    assert channel.attempts == ["part 1", "part 2"]
    await store.close()


async def test_a_reply_part_that_times_out_is_resent_once_then_left(tmp_path: Path) -> None:
    store = open_store("memory://", tmp_path)
    channel = ScriptedChannel({"part 0": ["timeout"], "part 1": ["timeout", "ok"]})
    deliverer = Deliverer(store, {"console": channel}, FAST)
    message_ids = await deliverer.send_parts("console", "", PARTS)
    assert message_ids[0] == UNCONFIRMED_MESSAGE_ID and message_ids[1] and message_ids[2]
    assert copies(channel) == {"part 0": 2, "part 1": 2, "part 2": 1}
    await store.close()


class OddError(SendError):
    """A send error of a kind delivery has never heard of."""


class RaisingChannel:
    platform = "console"

    def __init__(self, error: SendError) -> None:
        self.error = error

    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        raise self.error


@pytest.mark.parametrize(("error", "kind"), [
    (RenderingDefect("can't parse entities"), Kind.RENDERING_DEFECT),
    (Unauthorized("Unauthorized"), Kind.UNAUTHORIZED),
    (ChatGone("bot was kicked"), Kind.GONE),
    (TransientError("rendering defect, says a proxy"), Kind.TRANSIENT),
    (OddError("something new"), Kind.TRANSIENT),
])
async def test_each_refusal_ends_the_delivery_with_its_own_kind(tmp_path: Path, error: SendError,
                                                                kind: Kind) -> None:
    store = open_store("memory://", tmp_path)
    deliverer = Deliverer(store, {"console": RaisingChannel(error)}, FAST)
    result = await deliverer.deliver(KEY, TARGET, PARTS)
    assert (result.kind, result.outcome) == (kind, OUTCOME_OF_KIND[kind])
    assert error.reason in result.reason
    await store.close()


async def test_a_delivery_attempt_of_the_same_process_cannot_take_the_lease_its_corrector_holds(
        tmp_path: Path) -> None:
    store = open_store("memory://", tmp_path)
    out = io.StringIO()
    deliverer = Deliverer(store, {"console": ConsoleChannel(out)}, DeliverySettings(), owner="replica-a")
    digest = parse_digest(digest_text(KEY.digest_date), "today.md")
    delivered = Fingerprint(("a", "b", "c"), {1: "x"})
    assert (await deliverer.deliver(KEY, TARGET, PARTS, delivered.dumps())).outcome is Outcome.DELIVERED
    seen: list[object] = []

    async def meanwhile() -> bool:
        # Under the corrector's lease: this process's scheduler tries the same delivery again.
        seen.append((await deliverer.deliver(KEY, TARGET, PARTS)).outcome)
        seen.append(await store.lease_holder(delivery_lease_name(KEY)))
        return False

    corrector = Corrector(deliverer, store, DeliverySettings(), "en")
    changed = Fingerprint(("a", "B", "c"), {1: "x"})
    assert await corrector.correct(KEY, TARGET, digest, PARTS, text_renderer, changed, meanwhile) == "stale"
    # Had the attempt taken the lease as its own, it would have given it back on closing, and another
    # replica could have corrected the chat alongside this one.
    outcome, holder = seen
    assert outcome is Outcome.BUSY
    assert isinstance(holder, LeaseHolder) and holder.owner == corrections_owner("replica-a")
    assert await store.lease_holder(delivery_lease_name(KEY)) is None
    await store.close()
