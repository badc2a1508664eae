"""The sqlite store beyond the contract: several processes on one file, paths, WAL and the schema version."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.store import DeliveryKey, StoreError, Subscription, open_store
from bot.store.sqlite import SqliteStore
from bot.store.sqlite_schema import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import ROOT

DAY = dt.date(2025, 9, 25)
KEY = DeliveryKey(DAY, "ai-news")

# A second process on the same file. "read" prints what it sees; "write" leaves a lease, a short
# lease and a ledger part; "open" waits for the start signal, then opens (maybe creating) the file.
_CHILD = """
import asyncio, datetime, json, sys, time
from pathlib import Path
from bot.store.base import DeliveryKey, Subscription
from bot.store.sqlite import SqliteStore

async def main(mode, db, arg):
    if mode == "open":
        while not Path(arg).exists():
            time.sleep(0.002)
    store = SqliteStore(Path(db))
    key = DeliveryKey(datetime.date(2025, 9, 25), "ai-news")
    if mode == "read":
        print(json.dumps({
            "subscriptions": [[s.platform, s.chat, s.schedule] for s in await store.subscriptions()],
            "finished": sorted(await store.finished_deliveries(key.digest_date)),
            "inactive": [[p, c, r] for (p, c), r in (await store.inactive_chats()).items()],
        }))
    elif mode == "write":
        assert await store.claim("lease:child", "child", 30.0)
        assert await store.claim("lease:short", "child", 0.2)
        await store.begin_part(key, 0, 2)
        await store.record_part(key, 0, "from-child")
    elif mode == "open":
        await store.subscribe(Subscription("telegram", str(time.monotonic_ns())))
    await store.close()

asyncio.run(main(*sys.argv[1:4]))
"""


async def _spawn(mode: str, db: Path, arg: str = "") -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, mode, str(db), arg,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)


async def _finish(child: asyncio.subprocess.Process) -> str:
    output, errors = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 0, errors.decode()
    return output.decode()


async def _run_child(mode: str, db: Path) -> str:
    return await _finish(await _spawn(mode, db))


async def test_another_process_sees_our_writes_and_we_see_its(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    store = SqliteStore(db)
    try:
        await store.subscribe(Subscription("telegram", "-100", "09:30"))
        await store.finish(DeliveryKey(DAY, "slack-ai"))
        await store.mark_inactive("slack", "C01", "archived")

        seen = json.loads(await _run_child("read", db))
        assert seen == {
            "subscriptions": [["telegram", "-100", "09:30"]],
            "finished": ["slack-ai"],
            "inactive": [["slack", "C01", "archived"]],
        }

        await _run_child("write", db)
        assert not await store.claim("lease:child", "parent", 30)
        assert (await store.ledger(KEY)).sent == {0: "from-child"}
        # Lease times are wall-clock seconds, so a lease from another process expires here too.
        await asyncio.sleep(0.5)
        assert await store.claim("lease:short", "parent", 30)
    finally:
        await store.close()


async def test_processes_opening_a_new_file_together_all_succeed(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "bot.db"
    go = tmp_path / "go"
    children = [await _spawn("open", db, str(go)) for _ in range(4)]
    await asyncio.sleep(0.2)
    await asyncio.to_thread(go.touch)
    for child in children:
        await _finish(child)
    store = SqliteStore(db)
    try:
        assert len(await store.subscriptions()) == 4
    finally:
        await store.close()


async def test_relative_paths_resolve_against_the_base_dir(tmp_path: Path) -> None:
    base_dir = tmp_path / "config"
    elsewhere = tmp_path / "elsewhere"
    cases = {
        "sqlite:///data/bot.db": base_dir / "data" / "bot.db",
        "sqlite:///./digestbot.db": base_dir / "digestbot.db",
        f"sqlite:///{tmp_path}/absolute.db": tmp_path / "absolute.db",
    }
    for url, expected in cases.items():
        store = open_store(url, base_dir if "absolute" not in url else elsewhere)
        try:
            assert isinstance(store, SqliteStore)
            assert store.path == expected
            await store.subscribe(Subscription("console", "terminal"))
        finally:
            await store.close()
        assert expected.is_file(), url
    assert not elsewhere.exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://relative.db"])
def test_urls_without_a_file_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="names no database file"):
        open_store(url, tmp_path)


async def test_file_is_in_wal_mode_with_the_current_schema_version(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    store = SqliteStore(db)
    try:
        await store.subscribe(Subscription("console", "terminal"))
        inspector = sqlite3.connect(db)
        try:
            assert inspector.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert inspector.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        finally:
            inspector.close()
        assert db.with_name("bot.db-wal").exists()
    finally:
        await store.close()


async def test_data_survives_closing_and_reopening(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    first = SqliteStore(db)
    await first.begin_part(KEY, 0, 2)
    await first.record_part(KEY, 0, "m-0")
    await first.begin_part(KEY, 1, 2)
    await first.move_chat("telegram", "-100", "-200")
    await first.close()

    second = SqliteStore(db)
    try:
        entry = await second.ledger(KEY)
        assert (entry.sent, entry.in_flight, entry.parts_total) == ({0: "m-0"}, {1}, 2)
        assert await second.resolve_chat("telegram", "-100") == "-200"
    finally:
        await second.close()


async def test_a_file_from_the_first_schema_is_upgraded_with_its_ledger_kept(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    old = sqlite3.connect(db, isolation_level=None)
    for statement in MIGRATIONS[0]:
        old.execute(statement)
    old.execute("PRAGMA user_version = 1")
    old.execute("INSERT INTO deliveries (digest_date, channel, parts_total) VALUES (?, ?, 2)",
                (DAY.isoformat(), KEY.channel))
    old.execute("INSERT INTO delivery_parts VALUES (?, ?, 0, 'm-0', 0), (?, ?, 1, NULL, 0)",
                (DAY.isoformat(), KEY.channel, DAY.isoformat(), KEY.channel))
    old.close()

    store = SqliteStore(db)
    try:
        entry = await store.ledger(KEY)
        assert (entry.sent, entry.in_flight, entry.maybe_sent) == ({0: "m-0"}, {1}, set())
        assert await store.mark_maybe_sent(KEY, 1)
        assert (await store.ledger(KEY)).maybe_sent == {1}
    finally:
        await store.close()
    inspector = sqlite3.connect(db)
    try:
        assert inspector.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    finally:
        inspector.close()


def test_a_file_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    newer = sqlite3.connect(db)
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.close()
    with pytest.raises(StoreError, match=re.escape(f"{db}: schema version {SCHEMA_VERSION + 1} is newer")):
        SqliteStore(db)


def test_a_file_that_is_not_a_database_is_reported_by_path(tmp_path: Path) -> None:
    db = tmp_path / "notes.txt"
    db.write_text("this is not a database\n" * 100)
    with pytest.raises(StoreError, match=re.escape(str(db))) as raised:
        SqliteStore(db)
    assert "\n" not in str(raised.value)


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    await store.close()
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.subscriptions()
