"""The deliverer's own guarantees, over the console channel and a real store."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path

from bot.channels.console import ConsoleChannel
from bot.config import DeliverySettings
from bot.delivery import Deliverer, Outcome, Target
from bot.store import open_store
from bot.store.base import DeliveryKey

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
    assert await store.claim("chat:console:", "replica-b", 30)
    out = io.StringIO()
    deliverer = Deliverer(store, {"console": ConsoleChannel(out)}, DeliverySettings(), owner="replica-a")
    result = await deliverer.deliver(KEY, TARGET, PARTS)
    assert result.outcome is Outcome.BUSY and printed(out) == []
    await store.release("chat:console:", "replica-b")
    assert (await deliverer.deliver(KEY, TARGET, PARTS)).outcome is Outcome.DELIVERED
    assert printed(out) == ["part 0", "part 1", "part 2"]
    await store.close()
