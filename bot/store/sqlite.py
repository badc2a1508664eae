"""The embedded store: one SQLite file in WAL mode, shared safely by the processes of one host."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from bot.store import sqlite_subscriptions as subscriptions
from bot.store.base import (
    DeliveryHistory,
    DeliveryKey,
    Failure,
    InactiveChat,
    LeaseHolder,
    LedgerEntry,
    Store,
    StoreError,
    Subscription,
    chat_moves,
)
from bot.store.sqlite_schema import MIGRATIONS, SCHEMA_VERSION

T = TypeVar("T")



class SqliteStore(Store):
    """All SQL runs on one worker thread that owns the connection (sqlite3 objects stay on their thread).

    Writes take the database's write lock up front (BEGIN IMMEDIATE), so a read-then-write never
    races another process; lease times are wall-clock seconds because several processes compare them.
    """

    def __init__(self, path: Path, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._connection: sqlite3.Connection | None = None
        self._closed = False
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digestbot-sqlite")
        try:
            # Opening blocks the caller once, at start-up, so a bad path or a newer schema fails early.
            self._worker.submit(self._guarded, self._open).result()
        except BaseException:
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

    async def _run(self, begin: str, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError(f"sqlite store {self.path} is closed")

        def on_worker() -> T:
            assert self._connection is not None
            return self._transaction(self._connection, begin, work)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, self._guarded, on_worker)

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run("BEGIN IMMEDIATE", work)

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        # A deferred transaction still gives every SELECT inside it the same snapshot.
        return await self._run("BEGIN", work)

    async def ping(self) -> None:
        await self._read(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def close_connection() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._worker, self._guarded, close_connection)
        finally:
            self._worker.shutdown(wait=False)

    # -- leases -------------------------------------------------------------------------------
    async def claim(self, name: str, owner: str, ttl: float) -> bool:
        def claim(conn: sqlite3.Connection) -> bool:
            now = time.time()
            cursor = conn.execute(
                """INSERT INTO leases (name, owner, expires_at, claimed_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
                   claimed_at = CASE WHEN leases.owner = excluded.owner AND leases.expires_at > ?
                                THEN coalesce(leases.claimed_at, excluded.claimed_at) ELSE excluded.claimed_at END
                   WHERE leases.owner = excluded.owner OR leases.expires_at <= ?""",
                (name, owner, now + ttl, now, now, now))
            return cursor.rowcount == 1

        return await self._write(claim)

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        def renew(conn: sqlite3.Connection) -> bool:
            now = time.time()
            cursor = conn.execute(
                "UPDATE leases SET expires_at = ? WHERE name = ? AND owner = ? AND expires_at > ?",
                (now + ttl, name, owner, now))
            return cursor.rowcount == 1

        return await self._write(renew)

    async def release(self, name: str, owner: str) -> None:
        await self._write(lambda conn: conn.execute(
            "DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner)))

    # -- delivery ledger ----------------------------------------------------------------------
    async def ledger(self, key: DeliveryKey) -> LedgerEntry:
        date = key.digest_date.isoformat()

        def read(conn: sqlite3.Connection) -> LedgerEntry:
            entry = LedgerEntry()
            row = conn.execute("SELECT parts_total, finished_at FROM deliveries "
                               "WHERE digest_date = ? AND channel = ?", (date, key.channel)).fetchone()
            if row is not None:
                entry.parts_total = row[0]
                entry.finished = row[1] is not None
            for part, message_id in conn.execute(
                    "SELECT part, message_id FROM delivery_parts WHERE digest_date = ? AND channel = ?",
                    (date, key.channel)):
                if message_id is None:
                    entry.in_flight.add(part)
                else:
                    entry.sent[part] = message_id
            entry.maybe_sent = {part for (part,) in conn.execute(
                "SELECT part FROM delivery_maybe_sent WHERE digest_date = ? AND channel = ?",
                (date, key.channel))}
            return entry

        return await self._read(read)

    async def begin_part(self, key: DeliveryKey, part: int, parts_total: int) -> None:
        date = key.digest_date.isoformat()

        def begin(conn: sqlite3.Connection) -> None:
            conn.execute("""INSERT INTO deliveries (digest_date, channel, parts_total) VALUES (?, ?, ?)
                            ON CONFLICT (digest_date, channel) DO UPDATE SET parts_total = excluded.parts_total""",
                         (date, key.channel, parts_total))
            # A part already confirmed keeps its message id.
            conn.execute("""INSERT INTO delivery_parts (digest_date, channel, part, message_id, updated_at)
                            VALUES (?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING""",
                         (date, key.channel, part, time.time()))

        await self._write(begin)

    async def record_part(self, key: DeliveryKey, part: int, message_id: str) -> None:
        date = key.digest_date.isoformat()

        def record(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO deliveries (digest_date, channel) VALUES (?, ?) ON CONFLICT DO NOTHING",
                         (date, key.channel))
            conn.execute("""INSERT INTO delivery_parts (digest_date, channel, part, message_id, updated_at)
                            VALUES (?, ?, ?, ?, ?)
                            ON CONFLICT (digest_date, channel, part) DO UPDATE
                            SET message_id = excluded.message_id, updated_at = excluded.updated_at""",
                         (date, key.channel, part, message_id, time.time()))

        await self._write(record)

    async def mark_maybe_sent(self, key: DeliveryKey, part: int) -> bool:
        date = key.digest_date.isoformat()

        def mark(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("""INSERT INTO delivery_maybe_sent (digest_date, channel, part, marked_at)
                                     VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                                  (date, key.channel, part, time.time()))
            return cursor.rowcount == 1

        return await self._write(mark)

    async def finish(self, key: DeliveryKey) -> None:
        date = key.digest_date.isoformat()
        await self._write(lambda conn: conn.execute(
            """INSERT INTO deliveries (digest_date, channel, finished_at) VALUES (?, ?, ?)
               ON CONFLICT (digest_date, channel) DO UPDATE
               SET finished_at = coalesce(deliveries.finished_at, excluded.finished_at)""",
            (date, key.channel, time.time())))

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
        rows = await self._read(lambda conn: conn.execute(
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
        rows = await self._read(lambda conn: conn.execute(
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
        row = await self._read(lambda conn: conn.execute(
            "SELECT reason FROM inactive_chats WHERE platform = ? AND chat = ?", (platform, chat)).fetchone())
        return None if row is None else str(row[0])

    async def inactive_chats(self) -> dict[tuple[str, str], str]:
        rows = await self._read(lambda conn: conn.execute(
            "SELECT platform, chat, reason FROM inactive_chats").fetchall())
        return {(platform, chat): reason for platform, chat, reason in rows}

    @staticmethod
    def _next_chat(conn: sqlite3.Connection, platform: str) -> Callable[[str], str | None]:
        def next_chat(chat: str) -> str | None:
            row = conn.execute("SELECT new_chat FROM moved_chats WHERE platform = ? AND old_chat = ?",
                               (platform, chat)).fetchone()
            return None if row is None else str(row[0])

        return next_chat

    async def move_chat(self, platform: str, old_chat: str, new_chat: str) -> None:
        if old_chat == new_chat:
            return

        def move(conn: sqlite3.Connection) -> None:
            path = chat_moves(self._next_chat(conn, platform), new_chat)
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
        return await self._read(lambda conn: chat_moves(self._next_chat(conn, platform), chat)[-1])

    # -- subscriptions ------------------------------------------------------------------------
    async def subscribe(self, subscription: Subscription) -> None:
        await self._write(lambda conn: subscriptions.subscribe(conn, subscription))

    async def unsubscribe(self, platform: str, chat: str) -> bool:
        return await self._write(lambda conn: subscriptions.unsubscribe(conn, platform, chat))

    async def subscriptions(self) -> list[Subscription]:
        return await self._read(subscriptions.subscriptions)

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
