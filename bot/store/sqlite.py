"""The embedded store: one SQLite file in WAL mode, shared safely by the processes of one host."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from bot.store import sqlite_delivery as delivery
from bot.store import sqlite_subscriptions as subscriptions
from bot.store.base import (
    DeliveryHistory,
    DeliveryKey,
    Failure,
    InactiveChat,
    LeaseHolder,
    LedgerEntry,
    Opening,
    Store,
    StoreError,
    Subscription,
    chat_moves,
)
from bot.store.sqlite_schema import MIGRATIONS, SCHEMA_VERSION

T = TypeVar("T")

# Inline commits between two checkpoints, which the worker thread runs (see SqliteStore._inline).
CHECKPOINT_EVERY = 256
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SqliteStore(Store):
    """Two connections: one on the event loop that never waits, one on a worker thread that may.

    A point operation (a lease, a ledger step, one chat's state) runs right on the event loop on a
    connection whose busy timeout is zero: it takes tens of microseconds, and handing it to a thread
    cost three times that again in CPU (the hop, the future, the wake-up), which at a platform's
    ceiling was most of the store's share of each message. When another process or the worker holds
    the write lock, the operation goes to the worker thread instead, which waits for it; so does
    anything that reads many rows. The loop's connection never checkpoints: the worker does, every
    CHECKPOINT_EVERY inline commits, so the WAL's fsyncs never block the loop.

    Writes take the database's write lock up front (BEGIN IMMEDIATE), so a read-then-write never
    races another process; lease times are wall-clock seconds because several processes compare them.
    """

    def __init__(self, path: Path, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._connection: sqlite3.Connection | None = None
        self._loop_connection: sqlite3.Connection | None = None
        self._inline_commits = 0
        self._closed = False
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digestbot-sqlite")
        try:
            # Opening blocks the caller once, at start-up, so a bad path or a newer schema fails early.
            self._worker.submit(self._guarded, self._open).result()
            self._loop_connection = self._guarded(self._open_loop_connection)
        except BaseException:
            self._worker.submit(self._close_connection).result()
            self._worker.shutdown(wait=True)
            raise

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    # -- plumbing -----------------------------------------------------------------------------
    def _guarded(self, work: Callable[[], T]) -> T:
        try:
            return work()
        except sqlite3.Error as error:
            raise StoreError(f"sqlite store {self.path}: {error}") from error
        except OSError as error:
            raise StoreError(f"sqlite store {self.path}: {error.strerror or error}") from error

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            self._enable_wal(connection)
            # In WAL mode NORMAL still survives the process being killed (only an OS crash or power
            # loss can drop the last commits), and it keeps record_part from lagging behind the send
            # it records, which is the window in which a kill causes a duplicate. After a power loss the
            # worst case is a resent part, never a skipped one.
            connection.execute("PRAGMA synchronous = NORMAL")
            self._migrate(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def _open_loop_connection(self) -> sqlite3.Connection:
        # Used only from the event loop's thread, which need not be the thread that built the store.
        connection = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA busy_timeout = 0")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA wal_autocheckpoint = 0")
        except BaseException:
            connection.close()
            raise
        return connection

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _enable_wal(self, connection: sqlite3.Connection) -> None:
        # Switching the journal mode can report "locked" at once, without the busy handler, while
        # another process is creating the same file: wait for it as the busy timeout would.
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
                break
            except sqlite3.OperationalError as error:
                busy = getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
                if not busy or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if str(mode).lower() != "wal":
            raise StoreError(f"sqlite store {self.path}: cannot switch to WAL mode (got {mode})")

    def _migrate(self, connection: sqlite3.Connection) -> None:
        def upgrade(conn: sqlite3.Connection) -> None:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise StoreError(f"sqlite store {self.path}: schema version {version} is newer than "
                                 f"this digestbot understands ({SCHEMA_VERSION})")
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    conn.execute(statement)
            if version != SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

        self._transaction(connection, "BEGIN IMMEDIATE", upgrade)

    @staticmethod
    def _transaction(connection: sqlite3.Connection, begin: str,
                     work: Callable[[sqlite3.Connection], T]) -> T:
        connection.execute(begin)
        try:
            result = work(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return result

    async def _run(self, begin: str, work: Callable[[sqlite3.Connection], T], inline: bool = True) -> T:
        if self._closed:
            raise StoreError(f"sqlite store {self.path} is closed")
        if inline:
            done, result = self._guarded(lambda: self._inline(begin, work))
            if done:
                return result       # type: ignore[return-value]   # done: the work's own result

        def on_worker() -> T:
            assert self._connection is not None
            return self._transaction(self._connection, begin, work)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, self._guarded, on_worker)

    def _inline(self, begin: str, work: Callable[[sqlite3.Connection], T]) -> tuple[bool, T | None]:
        """(True, result), or (False, None) when the database was busy and nothing was done."""
        connection = self._loop_connection
        assert connection is not None
        try:
            result = self._transaction(connection, begin, work)
        except sqlite3.OperationalError as error:
            if (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _BUSY:
                return False, None
            raise
        if begin != "BEGIN":
            self._inline_commits += 1
            if self._inline_commits % CHECKPOINT_EVERY == 0:
                self._worker.submit(self._checkpoint)
        return True, result

    def _checkpoint(self) -> None:
        # PASSIVE never waits for readers or writers; a busy database just checkpoints next time.
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run("BEGIN IMMEDIATE", work)

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        # A deferred transaction still gives every SELECT inside it the same snapshot.
        return await self._run("BEGIN", work)

    async def _read_many(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """A read whose rows grow with the number of chats: on the worker thread, off the event loop."""
        return await self._run("BEGIN", work, inline=False)

    async def ping(self) -> None:
        await self._read(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._loop_connection is not None:
            self._loop_connection.close()
            self._loop_connection = None
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._worker, self._guarded, self._close_connection)
        finally:
            self._worker.shutdown(wait=False)

    # -- leases -------------------------------------------------------------------------------
    async def claim(self, name: str, owner: str, ttl: float) -> bool:
        return await self._write(lambda conn: delivery.claim(conn, name, owner, ttl))

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        return await self._write(lambda conn: delivery.renew(conn, name, owner, ttl))

    async def release(self, name: str, owner: str) -> None:
        await self._write(lambda conn: delivery.release(conn, name, owner))

    # -- delivery ledger ----------------------------------------------------------------------
    async def ledger(self, key: DeliveryKey) -> LedgerEntry:
        return await self._read(lambda conn: delivery.ledger(conn, key))

    async def begin_part(self, key: DeliveryKey, part: int, parts_total: int) -> None:
        await self._write(lambda conn: delivery.begin_part(conn, key, part, parts_total))

    async def record_part(self, key: DeliveryKey, part: int, message_id: str) -> None:
        await self._write(lambda conn: delivery.record_part(conn, key, part, message_id))

    async def unmark_in_flight(self, key: DeliveryKey, part: int) -> None:
        await self._write(lambda conn: delivery.unmark_in_flight(conn, key, part))

    async def mark_maybe_sent(self, key: DeliveryKey, part: int) -> bool:
        return await self._write(lambda conn: delivery.mark_maybe_sent(conn, key, part))

    async def finish(self, key: DeliveryKey) -> None:
        await self._write(lambda conn: delivery.finish(conn, key))

    # Each step of a delivery is one transaction on the worker thread: the thread hop and the commit
    # are what a step costs, so four lease and ledger calls become one.
    async def open_delivery(self, key: DeliveryKey, lease: str, owner: str, ttl: float, platform: str,
                            chat: str, chat_lease: str, parts_total: int) -> Opening:
        return await self._write(lambda conn: delivery.open_delivery(conn, key, lease, owner, ttl, platform, chat,
                                                                     chat_lease, parts_total))

    async def plan_delivery(self, key: DeliveryKey, chat_lease: str, owner: str, ttl: float, parts_total: int,
                            first_part: int) -> bool:
        return await self._write(lambda conn: delivery.plan_delivery(conn, key, chat_lease, owner, ttl,
                                                                     parts_total, first_part))

    async def record_sent(self, key: DeliveryKey, part: int, message_id: str, next_part: int | None) -> None:
        await self._write(lambda conn: delivery.record_sent(conn, key, part, message_id, next_part))

    async def close_delivery(self, key: DeliveryKey, owner: str, leases: Sequence[str], finished: bool,
                             never_sent: int | None = None, last_sent: tuple[int, str] | None = None,
                             fingerprint: str = "") -> None:
        await self._write(lambda conn: delivery.close_delivery(conn, key, owner, tuple(leases), finished,
                                                               never_sent, last_sent, fingerprint))

    async def fingerprint(self, key: DeliveryKey) -> str:
        row = await self._read(lambda conn: conn.execute(
            "SELECT fingerprint FROM deliveries WHERE digest_date = ? AND channel = ?",
            (key.digest_date.isoformat(), key.channel)).fetchone())
        return "" if row is None or row[0] is None else str(row[0])

    async def swap_fingerprint(self, key: DeliveryKey, expected: str, new: str) -> bool:
        return await self._write(lambda conn: conn.execute(
            "UPDATE deliveries SET fingerprint = ? WHERE digest_date = ? AND channel = ? "
            "AND coalesce(fingerprint, '') = ?", (new, key.digest_date.isoformat(), key.channel, expected)
        ).rowcount == 1)

    async def finished_deliveries(self, digest_date: dt.date) -> set[str]:
        rows = await self._read_many(lambda conn: conn.execute(
            "SELECT channel FROM deliveries WHERE digest_date = ? AND finished_at IS NOT NULL",
            (digest_date.isoformat(),)).fetchall())
        return {channel for (channel,) in rows}

    # -- what operators ask ---------------------------------------------------------------------
    async def record_failure(self, key: DeliveryKey, reason: str) -> None:
        await self._write(lambda conn: conn.execute(
            """INSERT INTO deliveries (digest_date, channel, failure_reason, failed_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (digest_date, channel) DO UPDATE
               SET failure_reason = excluded.failure_reason, failed_at = excluded.failed_at""",
            (key.digest_date.isoformat(), key.channel, reason, time.time())))

    async def delivery_history(self, key: DeliveryKey) -> DeliveryHistory:
        where = (key.digest_date.isoformat(), key.channel)

        def read(conn: sqlite3.Connection) -> DeliveryHistory:
            row = conn.execute("SELECT finished_at, failure_reason, failed_at FROM deliveries "
                               "WHERE digest_date = ? AND channel = ?", where).fetchone()
            times = dict(conn.execute("SELECT part, updated_at FROM delivery_parts WHERE digest_date = ? "
                                      "AND channel = ? AND message_id IS NOT NULL", where).fetchall())
            if row is None:
                return DeliveryHistory(times)
            failure = Failure(row[1], row[2]) if row[1] is not None else None
            return DeliveryHistory(times, row[0], failure)

        return await self._read(read)

    async def lease_holder(self, name: str) -> LeaseHolder | None:
        row = await self._read(lambda conn: conn.execute(
            "SELECT owner, claimed_at, expires_at FROM leases WHERE name = ? AND expires_at > ?",
            (name, time.time())).fetchone())
        return None if row is None else LeaseHolder(row[0], row[1], row[2])

    async def inactive_details(self) -> dict[tuple[str, str], InactiveChat]:
        rows = await self._read_many(lambda conn: conn.execute(
            "SELECT platform, chat, reason, since FROM inactive_chats").fetchall())
        return {(platform, chat): InactiveChat(reason, since) for platform, chat, reason, since in rows}

    # -- chat state ---------------------------------------------------------------------------
    async def mark_inactive(self, platform: str, chat: str, reason: str) -> None:
        await self._write(lambda conn: conn.execute(
            """INSERT INTO inactive_chats (platform, chat, reason, since) VALUES (?, ?, ?, ?)
               ON CONFLICT (platform, chat) DO UPDATE SET reason = excluded.reason""",
            (platform, chat, reason, time.time())))

    async def reactivate(self, platform: str, chat: str) -> None:
        await self._write(lambda conn: conn.execute(
            "DELETE FROM inactive_chats WHERE platform = ? AND chat = ?", (platform, chat)))

    async def inactive_reason(self, platform: str, chat: str) -> str | None:
        return await self._read(lambda conn: delivery.inactive_reason(conn, platform, chat))

    async def inactive_chats(self) -> dict[tuple[str, str], str]:
        rows = await self._read_many(lambda conn: conn.execute(
            "SELECT platform, chat, reason FROM inactive_chats").fetchall())
        return {(platform, chat): reason for platform, chat, reason in rows}

    async def move_chat(self, platform: str, old_chat: str, new_chat: str) -> None:
        if old_chat == new_chat:
            return

        def move(conn: sqlite3.Connection) -> None:
            path = chat_moves(delivery.next_chat(conn, platform), new_chat)
            if old_chat in path:
                # Moving back to an id the chat came from: the new id is current again, not a hop.
                conn.execute("DELETE FROM moved_chats WHERE platform = ? AND old_chat = ?", (platform, new_chat))
                target = new_chat
            else:
                target = path[-1]
            conn.execute("""INSERT INTO moved_chats (platform, old_chat, new_chat, moved_at) VALUES (?, ?, ?, ?)
                            ON CONFLICT (platform, old_chat) DO UPDATE
                            SET new_chat = excluded.new_chat, moved_at = excluded.moved_at""",
                         (platform, old_chat, new_chat, time.time()))
            # OR IGNORE keeps a subscription the target chat already has of its own.
            conn.execute("UPDATE OR IGNORE subscriptions SET chat = ? WHERE platform = ? AND chat = ?",
                         (target, platform, old_chat))
            conn.execute("DELETE FROM subscriptions WHERE platform = ? AND chat = ?", (platform, old_chat))

        await self._write(move)

    async def resolve_chat(self, platform: str, chat: str) -> str:
        return await self._read(lambda conn: chat_moves(delivery.next_chat(conn, platform), chat)[-1])

    # -- subscriptions ------------------------------------------------------------------------
    async def subscribe(self, subscription: Subscription) -> bool:
        return await self._write(lambda conn: subscriptions.subscribe(conn, subscription))

    async def unsubscribe(self, platform: str, chat: str) -> bool:
        return await self._write(lambda conn: subscriptions.unsubscribe(conn, platform, chat))

    async def subscriptions(self) -> list[Subscription]:
        return await self._read_many(subscriptions.subscriptions)

    async def subscriptions_version(self) -> str:
        return await self._read(subscriptions.version)

    # -- deduplication ------------------------------------------------------------------------
    async def first_seen(self, token: str, ttl: float) -> bool:
        def offer(conn: sqlite3.Connection) -> bool:
            now = time.time()
            conn.execute("DELETE FROM seen_tokens WHERE expires_at <= ?", (now,))
            cursor = conn.execute("INSERT INTO seen_tokens (token, expires_at) VALUES (?, ?) "
                                  "ON CONFLICT (token) DO NOTHING", (token, now + ttl))
            return cursor.rowcount == 1

        return await self._write(offer)
