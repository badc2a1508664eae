"""The SQLite store's event-loop connection: point operations run inline, never wait for a lock on the
loop, and leave checkpoints to the worker thread."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.store.sqlite import CHECKPOINT_EVERY, SqliteStore


async def test_an_operation_on_a_locked_database_waits_off_the_loop_and_then_completes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    other = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")      # another process holding the write lock
        claim = asyncio.create_task(store.claim("lease:x", "here", 30.0))
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1
        assert not claim.done(), "the claim cannot have been written while the lock was held"
        assert ticks == 20, "the loop kept running while the claim waited"
        other.execute("COMMIT")
        assert await claim
        assert not await store.claim("lease:x", "elsewhere", 30.0)
    finally:
        other.close()
        await store.close()


async def test_a_read_while_another_connection_writes_is_answered_inline(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    other = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    try:
        assert await store.claim("lease:x", "here", 30.0)
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM leases")
        # WAL readers never wait for a writer: the snapshot still has the lease.
        holder = await asyncio.wait_for(store.lease_holder("lease:x"), 10)
        assert holder is not None and holder.owner == "here"
        other.execute("ROLLBACK")
    finally:
        other.close()
        await store.close()


async def test_inline_writes_are_checkpointed_so_the_wal_stays_small(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    writes = 8 * CHECKPOINT_EVERY
    try:
        for index in range(writes):
            assert await store.claim(f"lease:{index}", "here", 30.0)
        await asyncio.sleep(0)
        probe = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
        try:
            # (busy, frames in the WAL, frames checkpointed): a WAL that was never checkpointed would
            # hold at least one frame per commit.
            _, frames, _ = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            probe.close()
        assert frames < writes / 2
    finally:
        await store.close()
