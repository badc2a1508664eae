"""A delivery's four store steps (open, plan, record each part, close) mean the same on every store as the
single calls they stand for: memory composes those calls, SQLite runs each step as one transaction and
Redis as one script."""

from __future__ import annotations

import datetime as dt

from bot.store import DeliveryKey, Store
from bot.store.base import LedgerEntry, Opening, Plan
from tests import test_store_contract as contract
from tests.test_store_contract import Backend

# The three stores, as the contract's tests get them.
backend = contract.backend
store = contract.store

DAY = dt.date(2026, 12, 7)
KEY = DeliveryKey(DAY, "hw-news")
LEASE = f"lease:{KEY}"
CHAT_LEASE = "chat:telegram:-1001"
TTL = 30.0


async def test_opening_claims_the_lease_and_reads_what_sending_needs(store: Store) -> None:
    await store.begin_part(KEY, 0, 3)
    await store.record_part(KEY, 0, "m-0")
    await store.begin_part(KEY, 1, 3)
    await store.move_chat("telegram", "-100", "-1001")
    await store.mark_inactive("telegram", "-1001", "bot was kicked")

    opening = await store.open_delivery(KEY, LEASE, "here", TTL, "telegram", "-100", CHAT_LEASE, 3)

    assert opening.claimed
    assert (opening.chat, opening.inactive, opening.plan) == ("-1001", "bot was kicked", Plan.NOT_TRIED)
    assert (opening.entry.sent, opening.entry.in_flight, opening.entry.parts_total) == ({0: "m-0"}, {1}, 3)
    assert not await store.claim(LEASE, "elsewhere", TTL), "the opening took the delivery's lease"
    assert (await store.lease_holder(LEASE) or None) is not None


async def test_opening_a_delivery_someone_else_holds_reads_nothing(store: Store) -> None:
    assert await store.claim(LEASE, "elsewhere", TTL)
    await store.mark_inactive("telegram", "-100", "gone")

    opening = await store.open_delivery(KEY, LEASE, "here", TTL, "telegram", "-100", CHAT_LEASE, 3)

    assert opening == Opening(False, LedgerEntry(), "-100")


async def test_opening_again_as_the_same_owner_is_granted(store: Store) -> None:
    first = await store.open_delivery(KEY, LEASE, "here", TTL, "telegram", "-100", CHAT_LEASE, 3)
    again = await store.open_delivery(KEY, LEASE, "here", TTL, "telegram", "-100", CHAT_LEASE, 3)
    assert first.claimed and again.claimed
    assert (again.chat, again.inactive, again.plan) == ("-100", None, Plan.PLANNED)
    assert again.entry.in_flight == {0}, "the second opening reads the first one's plan"


async def test_a_finished_delivery_opens_as_finished(store: Store) -> None:
    await store.begin_part(KEY, 0, 1)
    await store.record_part(KEY, 0, "m-0")
    await store.finish(KEY)

    opening = await store.open_delivery(KEY, LEASE, "here", TTL, "telegram", "-100", CHAT_LEASE, 3)

    assert opening.claimed and opening.entry.finished and opening.entry.sent == {0: "m-0"}


async def test_an_unmoved_chat_is_claimed_and_planned_at_the_opening(store: Store) -> None:
    await store.begin_part(KEY, 0, 3)
    await store.record_part(KEY, 0, "m-0")

    opening = await store.open_delivery(KEY, LEASE, "here", TTL, "telegram", "-100", CHAT_LEASE, 3)

    assert opening.plan is Plan.PLANNED
    assert opening.entry.in_flight == set(), "the entry is the ledger as it was before the plan"
    entry = await store.ledger(KEY)
    assert (entry.parts_total, entry.in_flight, entry.sent) == (3, {1}, {0: "m-0"})
    assert not await store.claim(CHAT_LEASE, "elsewhere", TTL)


async def test_an_opening_whose_chat_is_taken_plans_nothing(store: Store) -> None:
    assert await store.claim(CHAT_LEASE, "elsewhere", TTL)

    opening = await store.open_delivery(KEY, LEASE, "here", TTL, "telegram", "-100", CHAT_LEASE, 3)

    assert opening.claimed and opening.plan is Plan.CHAT_TAKEN
    assert (await store.ledger(KEY)).in_flight == set()


async def test_a_moved_chat_is_left_to_plan_under_its_new_id(store: Store) -> None:
    await store.move_chat("telegram", "-100", "-1001")

    opening = await store.open_delivery(KEY, LEASE, "here", TTL, "telegram", "-100", CHAT_LEASE, 3)

    assert (opening.chat, opening.plan) == ("-1001", Plan.NOT_TRIED)
    assert await store.claim(CHAT_LEASE, "elsewhere", TTL), "the old id's lease was not taken"
    assert (await store.ledger(KEY)).in_flight == set()


async def test_the_plan_claims_the_chat_and_marks_the_first_part(store: Store) -> None:
    assert await store.plan_delivery(KEY, CHAT_LEASE, "here", TTL, 3, 0)

    entry = await store.ledger(KEY)
    assert (entry.parts_total, entry.in_flight, entry.sent) == (3, {0}, {})
    assert not await store.claim(CHAT_LEASE, "elsewhere", TTL)


async def test_no_plan_while_someone_else_posts_in_the_chat(store: Store) -> None:
    assert await store.claim(CHAT_LEASE, "elsewhere", TTL)

    assert not await store.plan_delivery(KEY, CHAT_LEASE, "here", TTL, 3, 0)

    assert await store.ledger(KEY) == LedgerEntry(), "nothing recorded without the chat"


async def test_a_plan_with_every_part_sent_marks_nothing(store: Store) -> None:
    await store.begin_part(KEY, 0, 2)
    await store.record_part(KEY, 0, "m-0")
    await store.begin_part(KEY, 1, 2)
    await store.record_part(KEY, 1, "m-1")

    assert await store.plan_delivery(KEY, CHAT_LEASE, "here", TTL, 2, 1)

    entry = await store.ledger(KEY)
    assert (entry.sent, entry.in_flight, entry.finished) == ({0: "m-0", 1: "m-1"}, set(), False)


async def test_each_record_marks_the_next_part_and_the_last_marks_none(store: Store) -> None:
    assert await store.plan_delivery(KEY, CHAT_LEASE, "here", TTL, 3, 0)

    await store.record_sent(KEY, 0, "m-0", 1)
    entry = await store.ledger(KEY)
    assert (entry.sent, entry.in_flight, entry.first_unsent()) == ({0: "m-0"}, {1}, 1)

    await store.record_sent(KEY, 1, "m-1", 2)
    await store.record_sent(KEY, 2, "m-2", None)
    entry = await store.ledger(KEY)
    assert (entry.sent, entry.in_flight, entry.parts_total) == ({0: "m-0", 1: "m-1", 2: "m-2"}, set(), 3)
    assert set((await store.delivery_history(KEY)).part_times) == {0, 1, 2}


async def test_recording_twice_is_the_same_as_once(store: Store) -> None:
    """What a retried script or transaction after a lost reply does."""
    assert await store.plan_delivery(KEY, CHAT_LEASE, "here", TTL, 2, 0)
    await store.record_sent(KEY, 0, "m-0", 1)
    await store.record_sent(KEY, 0, "m-0", 1)
    entry = await store.ledger(KEY)
    assert (entry.sent, entry.in_flight) == ({0: "m-0"}, {1})


async def test_closing_finishes_and_gives_back_the_leases(store: Store) -> None:
    assert (await store.open_delivery(KEY, LEASE, "here", TTL, "telegram", "-100", CHAT_LEASE, 3)).claimed
    assert await store.plan_delivery(KEY, CHAT_LEASE, "here", TTL, 1, 0)
    await store.record_sent(KEY, 0, "m-0", None)

    await store.close_delivery(KEY, "here", [LEASE, CHAT_LEASE], finished=True)

    assert (await store.ledger(KEY)).finished
    assert await store.finished_deliveries(DAY) == {KEY.channel}
    assert (await store.delivery_history(KEY)).finished_at is not None
    assert await store.claim(LEASE, "elsewhere", TTL) and await store.claim(CHAT_LEASE, "elsewhere", TTL)


async def test_closing_records_the_last_part_with_the_end(store: Store) -> None:
    assert (await store.open_delivery(KEY, LEASE, "here", TTL, "telegram", "-100", CHAT_LEASE, 3)).claimed
    assert await store.plan_delivery(KEY, CHAT_LEASE, "here", TTL, 2, 0)
    await store.record_sent(KEY, 0, "m-0", 1)

    await store.close_delivery(KEY, "here", [LEASE, CHAT_LEASE], finished=True, last_sent=(1, "m-1"))

    entry = await store.ledger(KEY)
    assert (entry.sent, entry.in_flight, entry.finished) == ({0: "m-0", 1: "m-1"}, set(), True)
    assert set((await store.delivery_history(KEY)).part_times) == {0, 1}
    assert await store.claim(LEASE, "elsewhere", TTL)


async def test_closing_unfinished_keeps_the_ledger_open_and_takes_back_an_unsent_mark(store: Store) -> None:
    assert (await store.open_delivery(KEY, LEASE, "here", TTL, "telegram", "-100", CHAT_LEASE, 3)).claimed
    assert await store.plan_delivery(KEY, CHAT_LEASE, "here", TTL, 3, 0)
    await store.record_sent(KEY, 0, "m-0", 1)

    await store.close_delivery(KEY, "here", [LEASE, CHAT_LEASE], finished=False, never_sent=1)

    entry = await store.ledger(KEY)
    assert (entry.sent, entry.in_flight, entry.finished) == ({0: "m-0"}, set(), False)
    assert await store.finished_deliveries(DAY) == set()
    assert await store.claim(LEASE, "elsewhere", TTL)


async def test_closing_leaves_a_lease_that_is_no_longer_ours(store: Store) -> None:
    assert await store.claim(CHAT_LEASE, "elsewhere", TTL)

    await store.close_delivery(KEY, "here", [CHAT_LEASE], finished=False)

    assert not await store.claim(CHAT_LEASE, "here", TTL), "another owner's lease is left alone"
    assert (await store.lease_holder(CHAT_LEASE) or None) is not None


async def test_a_second_handle_sees_every_step(backend: Backend) -> None:
    if backend.kind == "memory":
        return      # one process's dicts: there is no second handle on them
    first, second = backend.open(), backend.open()
    assert (await first.open_delivery(KEY, LEASE, "here", TTL, "telegram", "-100", CHAT_LEASE, 3)).claimed
    assert await first.plan_delivery(KEY, CHAT_LEASE, "here", TTL, 2, 0)
    await first.record_sent(KEY, 0, "m-0", 1)

    opening = await second.open_delivery(KEY, LEASE, "there", TTL, "telegram", "-100", CHAT_LEASE, 2)
    assert not opening.claimed
    entry = await second.ledger(KEY)
    assert (entry.sent, entry.in_flight, entry.parts_total) == ({0: "m-0"}, {1}, 2)


async def test_a_finishing_close_keeps_the_fingerprint_unless_one_is_kept(store: Store) -> None:
    other = DeliveryKey(DAY, "sw-news")
    for key in (KEY, other):
        assert await store.plan_delivery(key, f"chat:{key.channel}", "here", TTL, 1, 0)
    assert await store.swap_fingerprint(other, "", "corrected")

    await store.close_delivery(KEY, "here", [], finished=True, last_sent=(0, "m-0"), fingerprint="as-sent")
    await store.close_delivery(other, "here", [], finished=True, last_sent=(0, "m-0"), fingerprint="as-sent")

    assert await store.fingerprint(KEY) == "as-sent"
    assert await store.fingerprint(other) == "corrected", "a fingerprint already kept is left alone"


async def test_an_unfinished_close_keeps_no_fingerprint(store: Store) -> None:
    assert await store.plan_delivery(KEY, CHAT_LEASE, "here", TTL, 2, 0)

    await store.close_delivery(KEY, "here", [CHAT_LEASE], finished=False, fingerprint="as-sent")

    assert await store.fingerprint(KEY) == ""
