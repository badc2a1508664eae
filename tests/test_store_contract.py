"""One contract, three stores: memory, sqlite and redis must behave the same to their callers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.store import DeliveryKey, LedgerEntry, Store, Subscription, mask_url, open_store
from bot.store.base import DeliveryHistory
from bot.store.memory import MemoryStore
from tests.conftest import ROOT

TODAY = dt.date(2025, 9, 25)
YESTERDAY = dt.date(2025, 9, 24)
LONG = 30.0       # a lease or token that must stay alive for the whole test
SHORT = 0.2       # one that must be gone after WAIT
WAIT = 0.5


@dataclass
class Backend:
    """Opens handles on one backend's data; every handle has its own connection."""

    kind: str
    url: str
    base_dir: Path
    prefix: str
    opened: list[Store] = field(default_factory=list)

    def open(self) -> Store:
        store = open_store(self.url, self.base_dir, prefix=self.prefix)
        self.opened.append(store)
        return store


@pytest.fixture(params=[
    "memory",
    "sqlite",
    pytest.param("redis", marks=pytest.mark.redis),
])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    kind: str = request.param
    if kind == "memory":
        setup = Backend(kind, "memory://", tmp_path, "digestbot:")
    elif kind == "sqlite":
        setup = Backend(kind, "sqlite:///state/digestbot.db", tmp_path, "digestbot:")
    else:
        url: str = request.getfixturevalue("redis_url")
        setup = Backend(kind, url, tmp_path, request.getfixturevalue("redis_prefix"))
    try:
        yield setup
    finally:
        for store in setup.opened:
            await store.close()
        if kind == "redis":
            cleaner = redis.Redis.from_url(setup.url)
            try:
                keys = list(cleaner.scan_iter(match=f"{setup.prefix}*", count=500))
                if keys:
                    cleaner.delete(*keys)
            finally:
                cleaner.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


# -- leases ------------------------------------------------------------------------------------
async def test_lease_is_exclusive_until_its_owner_releases_it(store: Store) -> None:
    assert await store.claim("lease:a", "alpha", LONG)
    assert await store.claim("lease:a", "alpha", LONG), "the owner may claim its own lease again"
    assert not await store.claim("lease:a", "beta", LONG)
    await store.release("lease:a", "beta")
    assert not await store.claim("lease:a", "beta", LONG), "a release by a stranger must change nothing"
    await store.release("lease:a", "alpha")
    assert await store.claim("lease:a", "beta", LONG)
    assert not await store.claim("lease:a", "alpha", LONG)


async def test_leases_with_different_names_are_independent(store: Store) -> None:
    assert await store.claim("lease:a", "alpha", LONG)
    assert await store.claim("lease:b", "beta", LONG)
    assert not await store.claim("lease:b", "alpha", LONG)


async def test_expired_lease_is_taken_over_and_lost_by_its_old_owner(store: Store) -> None:
    assert await store.claim("lease:a", "alpha", SHORT)
    await asyncio.sleep(WAIT)
    assert await store.claim("lease:a", "beta", LONG)
    assert not await store.renew("lease:a", "alpha", LONG)
    assert not await store.claim("lease:a", "alpha", LONG)
    await store.release("lease:a", "alpha")
    assert not await store.claim("lease:a", "alpha", LONG), "the old owner's release must not free it"


async def test_renew_extends_only_a_live_lease_of_ours(store: Store) -> None:
    assert not await store.renew("lease:a", "alpha", LONG), "nothing to renew before a claim"
    assert await store.claim("lease:a", "alpha", LONG)
    assert await store.renew("lease:a", "alpha", LONG)
    assert not await store.renew("lease:a", "beta", LONG)
    # Renewal sets a new time to live, shorter ones included.
    assert await store.renew("lease:a", "alpha", SHORT)
    await asyncio.sleep(WAIT)
    assert not await store.renew("lease:a", "alpha", LONG), "an expired lease is no longer ours"
    assert await store.claim("lease:a", "beta", LONG)


async def test_renewed_lease_outlives_its_first_ttl(store: Store) -> None:
    # Long enough that a busy machine cannot let it lapse between the claim and the renewal.
    first_ttl = 1.0
    assert await store.claim("lease:a", "alpha", first_ttl)
    assert await store.renew("lease:a", "alpha", LONG)
    await asyncio.sleep(first_ttl + WAIT)
    assert not await store.claim("lease:a", "beta", LONG)


# -- delivery ledger ---------------------------------------------------------------------------
async def test_unknown_delivery_has_an_empty_ledger(store: Store) -> None:
    entry = await store.ledger(DeliveryKey(TODAY, "nowhere"))
    assert entry == LedgerEntry()
    assert entry.first_unsent() == 0


async def test_ledger_tracks_parts_in_flight_and_sent(store: Store) -> None:
    key = DeliveryKey(TODAY, "ai-news")
    await store.begin_part(key, 0, 3)
    entry = await store.ledger(key)
    assert (entry.in_flight, entry.sent, entry.parts_total, entry.finished) == ({0}, {}, 3, False)
    assert entry.first_unsent() == 0

    await store.record_part(key, 0, "101")
    entry = await store.ledger(key)
    assert (entry.in_flight, entry.sent) == (set(), {0: "101"})
    assert entry.first_unsent() == 1

    await store.begin_part(key, 1, 3)
    await store.record_part(key, 1, "102")
    # A crash right after announcing part 2 leaves it in flight.
    await store.begin_part(key, 2, 3)
    entry = await store.ledger(key)
    assert (entry.in_flight, entry.sent) == ({2}, {0: "101", 1: "102"})
    assert entry.first_unsent() == 2
    assert not entry.finished

    other = await store.ledger(DeliveryKey(TODAY, "slack-ai"))
    assert other == LedgerEntry(), "deliveries to other channels are separate"
    assert await store.ledger(DeliveryKey(YESTERDAY, "ai-news")) == LedgerEntry()


async def test_begin_part_never_takes_back_a_sent_part(store: Store) -> None:
    key = DeliveryKey(TODAY, "ai-news")
    await store.begin_part(key, 0, 2)
    await store.record_part(key, 0, "m-0")
    await store.begin_part(key, 0, 2)
    entry = await store.ledger(key)
    assert entry.sent == {0: "m-0"}
    assert entry.in_flight == set()


async def test_ledger_keeps_gaps_and_the_latest_parts_total(store: Store) -> None:
    key = DeliveryKey(TODAY, "ai-news")
    await store.begin_part(key, 1, 4)
    await store.record_part(key, 1, "m-1")
    await store.begin_part(key, 3, 5)
    entry = await store.ledger(key)
    assert entry.sent == {1: "m-1"}
    assert entry.in_flight == {3}
    assert entry.parts_total == 5
    assert entry.first_unsent() == 0


async def test_finished_deliveries_are_listed_per_digest_date(store: Store) -> None:
    done = DeliveryKey(TODAY, "ai-news")
    pending = DeliveryKey(TODAY, "slack-ai")
    earlier = DeliveryKey(YESTERDAY, "telegram:-1001")
    for key in (done, pending, earlier):
        await store.begin_part(key, 0, 1)
        await store.record_part(key, 0, f"id-{key.channel}")
    await store.finish(done)
    await store.finish(earlier)

    assert await store.finished_deliveries(TODAY) == {"ai-news"}
    assert await store.finished_deliveries(YESTERDAY) == {"telegram:-1001"}
    assert await store.finished_deliveries(dt.date(2025, 9, 23)) == set()
    entry = await store.ledger(done)
    assert entry.finished
    assert entry.sent == {0: "id-ai-news"}
    assert not (await store.ledger(pending)).finished

    await store.finish(pending)
    await store.finish(done)
    assert await store.finished_deliveries(TODAY) == {"ai-news", "slack-ai"}


# -- chat state --------------------------------------------------------------------------------
async def test_inactive_chats_carry_their_reason_until_reactivated(store: Store) -> None:
    assert await store.inactive_chats() == {}
    assert await store.inactive_reason("telegram", "-1001") is None

    await store.mark_inactive("telegram", "-1001", "bot was kicked")
    await store.mark_inactive("slack", "C01", "channel archived")
    await store.mark_inactive("slack", "-1001", "not in channel")
    assert await store.inactive_reason("telegram", "-1001") == "bot was kicked"
    assert await store.inactive_chats() == {
        ("telegram", "-1001"): "bot was kicked",
        ("slack", "C01"): "channel archived",
        ("slack", "-1001"): "not in channel",
    }

    await store.mark_inactive("telegram", "-1001", "bot was blocked")
    assert await store.inactive_reason("telegram", "-1001") == "bot was blocked"

    await store.reactivate("telegram", "-1001")
    await store.reactivate("telegram", "never-inactive")
    assert await store.inactive_reason("telegram", "-1001") is None
    assert await store.inactive_chats() == {
        ("slack", "C01"): "channel archived",
        ("slack", "-1001"): "not in channel",
    }


async def test_resolve_chat_follows_a_chain_of_moves(store: Store) -> None:
    assert await store.resolve_chat("telegram", "-100") == "-100"
    await store.move_chat("telegram", "-100", "-200")
    await store.move_chat("telegram", "-200", "-300")
    assert await store.resolve_chat("telegram", "-100") == "-300"
    assert await store.resolve_chat("telegram", "-200") == "-300"
    assert await store.resolve_chat("telegram", "-300") == "-300"
    assert await store.resolve_chat("slack", "-100") == "-100", "moves belong to one platform"


async def test_subscription_follows_its_chat_through_moves(store: Store) -> None:
    original = Subscription("telegram", "-100", "09:30", "Asia/Shanghai", "小明")
    await store.subscribe(original)
    await store.subscribe(Subscription("slack", "-100", "08:00"))

    await store.move_chat("telegram", "-100", "-200")
    assert await store.subscriptions() == [
        Subscription("slack", "-100", "08:00"),
        Subscription("telegram", "-200", "09:30", "Asia/Shanghai", "小明"),
    ]
    await store.move_chat("telegram", "-200", "-300")
    assert await store.subscriptions() == [
        Subscription("slack", "-100", "08:00"),
        Subscription("telegram", "-300", "09:30", "Asia/Shanghai", "小明"),
    ]


async def test_moved_subscription_lands_where_the_new_id_resolves(store: Store) -> None:
    await store.move_chat("telegram", "-200", "-300")
    await store.subscribe(Subscription("telegram", "-100", "07:00"))
    await store.move_chat("telegram", "-100", "-200")
    assert await store.subscriptions() == [Subscription("telegram", "-300", "07:00")]
    assert await store.resolve_chat("telegram", "-100") == "-300"


async def test_moved_subscription_does_not_replace_one_the_new_chat_has(store: Store) -> None:
    await store.subscribe(Subscription("telegram", "-100", "07:00", subscribed_by="old"))
    await store.subscribe(Subscription("telegram", "-200", "21:00", subscribed_by="new"))
    await store.move_chat("telegram", "-100", "-200")
    assert await store.subscriptions() == [Subscription("telegram", "-200", "21:00", subscribed_by="new")]


async def test_moving_back_and_to_itself_never_loops(store: Store) -> None:
    await store.move_chat("telegram", "a", "a")
    assert await store.resolve_chat("telegram", "a") == "a"
    await store.subscribe(Subscription("telegram", "a", "06:00"))
    await store.move_chat("telegram", "a", "b")
    await store.move_chat("telegram", "b", "c")
    await store.move_chat("telegram", "c", "a")
    for chat in ("a", "b", "c"):
        assert await store.resolve_chat("telegram", chat) == "a"
    assert await store.subscriptions() == [Subscription("telegram", "a", "06:00")]


# -- corrections -------------------------------------------------------------------------------
async def test_a_fingerprint_changes_only_from_what_the_caller_saw(store: Store) -> None:
    key = DeliveryKey(dt.date(2025, 10, 1), "news")
    assert not await store.swap_fingerprint(key, "", "v1"), "no delivery yet"
    await store.begin_part(key, 0, 1)
    await store.record_part(key, 0, "m0")
    await store.finish(key)
    assert await store.fingerprint(key) == ""
    assert await store.swap_fingerprint(key, "", "v1")
    assert not await store.swap_fingerprint(key, "", "v2"), "someone else's step already recorded"
    assert await store.fingerprint(key) == "v1"
    assert await store.swap_fingerprint(key, "v1", "v2")
    assert await store.fingerprint(key) == "v2"
    assert (await store.ledger(key)).sent == {0: "m0"}


# -- subscriptions -----------------------------------------------------------------------------
async def test_subscribe_replaces_and_unsubscribe_reports_whether_there_was_one(store: Store) -> None:
    assert await store.subscriptions() == []
    assert await store.subscribe(Subscription("telegram", "-100", "09:30", "Asia/Shanghai", "alice"))
    assert await store.subscribe(Subscription("slack", "C02"))
    assert await store.subscribe(Subscription("slack", "C01", "0 10 * * 1-5", "America/New_York", "bob"))
    assert not await store.subscribe(Subscription("telegram", "-100", "18:00", None, "carol")), "replaced"

    assert await store.subscriptions() == [
        Subscription("slack", "C01", "0 10 * * 1-5", "America/New_York", "bob"),
        Subscription("slack", "C02"),
        Subscription("telegram", "-100", "18:00", None, "carol"),
    ]
    assert await store.unsubscribe("slack", "C02")
    assert not await store.unsubscribe("slack", "C02")
    assert not await store.unsubscribe("telegram", "C01"), "the platform is part of the identity"
    assert [s.channel_name for s in await store.subscriptions()] == ["slack:C01", "telegram:-100"]


async def test_a_subscription_keeps_its_categories_and_topic_through_changes_and_moves(store: Store) -> None:
    await store.subscribe(Subscription("telegram", "-100", "09:30", categories=("Hardware", "大模型"), topic="7"))
    assert (await store.subscriptions())[0].categories == ("Hardware", "大模型")
    await store.move_chat("telegram", "-100", "-200")
    assert await store.subscriptions() == [Subscription("telegram", "-200", "09:30",
                                                        categories=("Hardware", "大模型"), topic="7")]
    await store.subscribe(Subscription("telegram", "-200", "10:00"))
    assert (await store.subscriptions())[0].categories == (), "subscribing without categories clears them"
    assert (await store.subscriptions())[0].topic is None


async def test_the_subscriptions_version_changes_with_each_change_whichever_handle_made_it(
        backend: Backend) -> None:
    mine = backend.open()
    theirs = mine if backend.kind == "memory" else backend.open()     # another replica on the same data
    versions = [await theirs.subscriptions_version()]

    async def changed() -> bool:
        versions.append(await theirs.subscriptions_version())
        return versions[-1] != versions[-2]

    assert not await changed(), "no change, same version"
    await mine.mark_inactive("telegram", "-100", "kicked")
    await mine.begin_part(DeliveryKey(TODAY, "telegram:-100"), 0, 1)
    await mine.finish(DeliveryKey(TODAY, "telegram:-100"))
    await mine.move_chat("telegram", "-900", "-901")
    assert not await changed(), "chat state, the ledger and a move without a subscription are no change"
    await mine.subscribe(Subscription("telegram", "-100", "09:30"))
    assert await changed()
    await mine.subscribe(Subscription("telegram", "-100", "09:30", categories=("Hardware",)))
    assert await changed(), "a subscription replaced"
    assert not await mine.unsubscribe("telegram", "-555")
    assert not await changed(), "unsubscribing a chat that had none"
    await mine.move_chat("telegram", "-100", "-200")
    assert await changed(), "a move carried it"
    await mine.subscribe(Subscription("telegram", "-300", "07:00"))
    assert await changed()
    await mine.move_chat("telegram", "-300", "-200")
    assert await store_subscriptions(theirs) == [("-200", "09:30")]
    assert await changed(), "a move dropped one in favour of the new chat's own"
    assert await mine.unsubscribe("telegram", "-200")
    assert await changed()
    assert len(set(versions)) == len(versions) - 3, "a version is never handed out again"


async def store_subscriptions(store: Store) -> list[tuple[str, str | None]]:
    return [(s.chat, s.schedule) for s in await store.subscriptions()]


# -- deduplication -----------------------------------------------------------------------------
async def test_first_seen_is_true_once_per_ttl(store: Store) -> None:
    assert await store.first_seen("Ev01", LONG)
    assert not await store.first_seen("Ev01", LONG)
    assert not await store.first_seen("Ev01", LONG)
    assert await store.first_seen("Ev02", LONG)

    assert await store.first_seen("Ev03", SHORT)
    await asyncio.sleep(WAIT)
    assert await store.first_seen("Ev03", LONG), "a token is new again once its ttl has passed"
    assert not await store.first_seen("Ev03", LONG)
    assert not await store.first_seen("Ev01", LONG)


# -- what operators ask (digestbot status) -----------------------------------------------------
async def test_delivery_history_has_part_times_the_finish_and_the_latest_failure(store: Store) -> None:
    key = DeliveryKey(TODAY, "ai-news")
    assert await store.delivery_history(key) == DeliveryHistory()
    before = time.time()
    await store.begin_part(key, 0, 2)
    await store.record_part(key, 0, "m-0")
    await store.begin_part(key, 1, 2)
    await store.record_failure(key, "gave up after 5 attempts: 502")
    await store.record_failure(key, "gave up after 5 attempts: timeout")
    history = await store.delivery_history(key)
    assert set(history.part_times) == {0}, "a part in flight has no time yet"
    assert history.finished_at is None
    assert history.failure is not None and history.failure.reason == "gave up after 5 attempts: timeout"
    await store.record_part(key, 1, "m-1")
    await store.finish(key)
    first_finish = (await store.delivery_history(key)).finished_at
    await store.finish(key)
    history = await store.delivery_history(key)
    after = time.time()
    assert history.finished_at == first_finish, "finishing again keeps the first time"
    assert history.finished_at is not None and before <= history.finished_at <= after
    assert all(before <= moment <= after for moment in history.part_times.values())
    assert set(history.part_times) == {0, 1}
    assert history.failure is not None and before <= history.failure.at <= after, "kept after success"
    assert await store.delivery_history(DeliveryKey(TODAY, "slack-ai")) == DeliveryHistory()
    # A failure alone is not progress: the ledger itself stays empty.
    await store.record_failure(DeliveryKey(TODAY, "slack-ai"), "rendering defect: msg_too_long")
    assert await store.ledger(DeliveryKey(TODAY, "slack-ai")) == LedgerEntry()
    assert await store.finished_deliveries(TODAY) == {"ai-news"}


async def test_lease_holder_names_the_owner_and_since_when_until_it_lets_go(store: Store) -> None:
    assert await store.lease_holder("lease:a") is None
    before = time.time()
    assert await store.claim("lease:a", "host:1:alpha", LONG)
    holder = await store.lease_holder("lease:a")
    assert holder is not None and holder.owner == "host:1:alpha"
    assert holder.since is not None and before <= holder.since <= time.time()
    assert holder.expires_at > time.time()
    since = holder.since
    assert await store.claim("lease:a", "host:1:alpha", LONG)
    assert await store.renew("lease:a", "host:1:alpha", LONG)
    renewed = await store.lease_holder("lease:a")
    assert renewed is not None and renewed.since == since, "claiming again or renewing keeps since"
    await store.release("lease:a", "host:1:alpha")
    assert await store.lease_holder("lease:a") is None

    assert await store.claim("lease:b", "host:2:beta", SHORT)
    await asyncio.sleep(WAIT)
    assert await store.lease_holder("lease:b") is None, "an expired lease has no holder"
    assert await store.claim("lease:b", "host:3:gamma", LONG)
    taken = await store.lease_holder("lease:b")
    assert taken is not None and taken.owner == "host:3:gamma"


async def test_inactive_details_keep_the_first_since_until_reactivated(store: Store) -> None:
    assert await store.inactive_details() == {}
    before = time.time()
    await store.mark_inactive("telegram", "-1001", "bot was kicked")
    await store.mark_inactive("slack", "C01", "channel_not_found")
    first = (await store.inactive_details())[("telegram", "-1001")]
    await store.mark_inactive("telegram", "-1001", "bot was blocked")
    details = await store.inactive_details()
    assert set(details) == {("telegram", "-1001"), ("slack", "C01")}
    assert details[("telegram", "-1001")].reason == "bot was blocked"
    assert details[("telegram", "-1001")].since == first.since, "refused again: still since the first time"
    assert all(d.since is not None and before <= d.since <= time.time() for d in details.values())
    await store.reactivate("telegram", "-1001")
    assert set(await store.inactive_details()) == {("slack", "C01")}
    await store.mark_inactive("telegram", "-1001", "bot was kicked")
    again = (await store.inactive_details())[("telegram", "-1001")]
    assert again.since is not None and first.since is not None and again.since >= first.since


# -- concurrency -------------------------------------------------------------------------------
CLAIMERS = 20
SQLITE_PROCESSES = 5

# Each child opens its own connections, reports ready, waits for the start signal, then claims.
_SQLITE_CLAIMER = """
import asyncio, json, sys, time
from pathlib import Path
from bot.store.sqlite import SqliteStore

async def main(db, go, lease, owners):
    stores = [SqliteStore(Path(db)) for _ in owners]
    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.002)
    won = await asyncio.gather(*(store.claim(lease, owner, 30.0) for store, owner in zip(stores, owners)))
    for store in stores:
        await store.close()
    print(json.dumps(dict(zip(owners, won))), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
"""


async def _claim_in_processes(db: Path, go: Path, lease: str, owners: list[str]) -> dict[str, bool]:
    per_process = len(owners) // SQLITE_PROCESSES
    groups = [owners[i:i + per_process] for i in range(0, len(owners), per_process)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SQLITE_CLAIMER, str(db), str(go), lease, *group,
        stdout=asyncio.subprocess.PIPE, env=env, cwd=ROOT) for group in groups]
    try:
        for child in children:
            assert child.stdout is not None
            assert (await asyncio.wait_for(child.stdout.readline(), 60)).strip() == b"ready"
        await asyncio.to_thread(go.touch)
        results: dict[str, bool] = {}
        for child in children:
            output, _ = await asyncio.wait_for(child.communicate(), 60)
            assert child.returncode == 0
            results.update(json.loads(output))
        return results
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()


async def test_exactly_one_of_many_concurrent_claimers_wins(backend: Backend, tmp_path: Path) -> None:
    owners = [f"replica-{n}" for n in range(CLAIMERS)]
    first = backend.open()
    if backend.kind == "sqlite":
        await first.ping()   # the schema exists before the children race
        results = await _claim_in_processes(tmp_path / "state" / "digestbot.db", tmp_path / "go",
                                            "lease:race", owners)
    else:
        # Memory shares one store between tasks; redis gets one client (and connection) per claimer.
        stores = [first] * CLAIMERS if backend.kind == "memory" else [backend.open() for _ in owners]
        won = await asyncio.gather(*(store.claim("lease:race", owner, LONG)
                                     for store, owner in zip(stores, owners, strict=True)))
        results = dict(zip(owners, won, strict=True))

    winners = [owner for owner, won in results.items() if won]
    assert len(results) == CLAIMERS
    assert len(winners) == 1, f"winners: {winners}"
    assert await first.renew("lease:race", winners[0], LONG)
    losers = [owner for owner in owners if owner != winners[0]]
    assert not any([await first.claim("lease:race", owner, LONG) for owner in losers])


async def test_concurrent_first_seen_admits_one_caller(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)] if backend.kind != "memory" else [backend.open()] * 4
    fresh = await asyncio.gather(*(stores[n % 4].first_seen("Ev-race", LONG) for n in range(CLAIMERS)))
    assert fresh.count(True) == 1


# -- same answers as the in-process store, for any sequence of changes ---------------------------
_CHATS = st.sampled_from(["a", "b", "c"])
_CHANNELS = ["ai-news", "telegram:a"]
# An example changes either chat state or the ledger, so each kind gets dense sequences.
_OPERATIONS = st.one_of(
    st.lists(st.one_of(
        st.tuples(st.just("subscribe"), _CHATS, st.sampled_from([None, "09:30", "0 10 * * 1-5"])),
        st.tuples(st.just("unsubscribe"), _CHATS),
        st.tuples(st.just("move"), _CHATS, _CHATS),
        st.tuples(st.just("inactive"), _CHATS, st.sampled_from(["kicked", "blocked"])),
        st.tuples(st.just("reactivate"), _CHATS),
    ), max_size=20),
    st.lists(st.one_of(
        st.tuples(st.just("begin"), st.sampled_from(_CHANNELS), st.integers(0, 3), st.integers(1, 4)),
        st.tuples(st.just("record"), st.sampled_from(_CHANNELS), st.integers(0, 3), st.sampled_from("xyz")),
        st.tuples(st.just("finish"), st.sampled_from(_CHANNELS)),
        st.tuples(st.just("maybe"), st.sampled_from(_CHANNELS), st.integers(0, 3)),
    ), max_size=20),
)


async def _apply(store: Store, space: str, operation: tuple[object, ...]) -> bool | None:
    # `space` keeps the examples sharing one store apart: it names the platform and the channels.
    match operation:
        case ("subscribe", str(chat), schedule):
            await store.subscribe(Subscription(space, chat, schedule if isinstance(schedule, str) else None))
        case ("unsubscribe", str(chat)):
            return await store.unsubscribe(space, chat)
        case ("move", str(old), str(new)):
            await store.move_chat(space, old, new)
        case ("inactive", str(chat), str(reason)):
            await store.mark_inactive(space, chat, reason)
        case ("reactivate", str(chat)):
            await store.reactivate(space, chat)
        case ("begin", str(channel), int(part), int(total)):
            await store.begin_part(DeliveryKey(TODAY, f"{space}/{channel}"), part, total)
        case ("record", str(channel), int(part), str(message_id)):
            await store.record_part(DeliveryKey(TODAY, f"{space}/{channel}"), part, message_id)
        case ("finish", str(channel)):
            await store.finish(DeliveryKey(TODAY, f"{space}/{channel}"))
        case ("maybe", str(channel), int(part)):
            return await store.mark_maybe_sent(DeliveryKey(TODAY, f"{space}/{channel}"), part)
        case _:
            raise AssertionError(f"unknown operation {operation}")
    return None


async def _observe(store: Store, space: str) -> dict[str, object]:
    return {
        "subscriptions": [s for s in await store.subscriptions() if s.platform == space],
        "resolved": {chat: await store.resolve_chat(space, chat) for chat in "abc"},
        "inactive": {chat: reason for chat, reason in (await store.inactive_chats()).items() if chat[0] == space},
        "ledger": {channel: await store.ledger(DeliveryKey(TODAY, f"{space}/{channel}")) for channel in _CHANNELS},
        "finished": {channel for channel in await store.finished_deliveries(TODAY)
                     if channel.startswith(f"{space}/")},
    }


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)],
                         indirect=True)
@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=_OPERATIONS)
async def test_any_sequence_of_changes_leaves_the_same_state_as_in_memory(
        store: Store, operations: list[tuple[object, ...]]) -> None:
    space = f"p{uuid.uuid4().hex[:10]}"
    reference = MemoryStore()
    for operation in operations:
        before = (await store.subscriptions_version(), await store.subscriptions())
        assert await _apply(store, space, operation) == await _apply(reference, space, operation), operation
        if await store.subscriptions() != before[1]:
            assert await store.subscriptions_version() != before[0], f"{operation} changed the subscriptions"
    assert await _observe(store, space) == await _observe(reference, space)


# -- opening -----------------------------------------------------------------------------------
def test_unknown_scheme_is_refused_in_one_line_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown store URL scheme 'postgres'") as raised:
        open_store("postgres://bot:hunter2@db.example/bot", tmp_path)
    assert "hunter2" not in str(raised.value)
    assert "\n" not in str(raised.value)
    with pytest.raises(ValueError, match="no scheme"):
        open_store("digestbot.db", tmp_path)


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"
    assert mask_url("rediss://bot:hunter2@cache:6380/1") == "rediss://bot:***@cache:6380/1"
    assert mask_url("redis://cache:6379/0") == "redis://cache:6379/0"
    assert mask_url("sqlite:///./digestbot.db") == "sqlite:///./digestbot.db"
    assert "hunter2" not in mask_url("redis://:hunter2@cache:notaport/0")


def test_bad_redis_url_error_keeps_the_password_out(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as raised:
        open_store("redis://:hunter2@cache:notaport/0", tmp_path)
    assert "hunter2" not in str(raised.value)


async def test_each_memory_store_is_separate(tmp_path: Path) -> None:
    first, second = open_store("memory://", tmp_path), open_store("memory://", tmp_path)
    await first.subscribe(Subscription("console", "terminal"))
    assert await first.subscriptions() == [Subscription("console", "terminal")]
    assert await second.subscriptions() == []
