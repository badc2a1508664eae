"""The SQL of leases and of the delivery ledger, as steps on one connection inside a transaction."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from bot.store.base import DeliveryKey, LedgerEntry, Opening, Plan, chat_moves, part_to_plan


def _where(key: DeliveryKey) -> tuple[str, str]:
    return key.digest_date.isoformat(), key.channel


# -- leases ------------------------------------------------------------------------------------------
def claim(conn: sqlite3.Connection, name: str, owner: str, ttl: float) -> bool:
    now = time.time()
    cursor = conn.execute(
        """INSERT INTO leases (name, owner, expires_at, claimed_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
           claimed_at = CASE WHEN leases.owner = excluded.owner AND leases.expires_at > ?
                        THEN coalesce(leases.claimed_at, excluded.claimed_at) ELSE excluded.claimed_at END
           WHERE leases.owner = excluded.owner OR leases.expires_at <= ?""",
        (name, owner, now + ttl, now, now, now))
    return cursor.rowcount == 1


def renew(conn: sqlite3.Connection, name: str, owner: str, ttl: float) -> bool:
    now = time.time()
    cursor = conn.execute("UPDATE leases SET expires_at = ? WHERE name = ? AND owner = ? AND expires_at > ?",
                          (now + ttl, name, owner, now))
    return cursor.rowcount == 1


def release(conn: sqlite3.Connection, name: str, owner: str) -> None:
    conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))


# -- the ledger --------------------------------------------------------------------------------------
# The delivery's row, its parts and its maybe-sent marks in one statement: every delivery opens with
# this read, and each statement costs ~9 µs of the loop's time whatever it finds.
_LEDGER = """
SELECT 0, parts_total, finished_at FROM deliveries WHERE digest_date = ?1 AND channel = ?2
UNION ALL SELECT 1, part, message_id FROM delivery_parts WHERE digest_date = ?1 AND channel = ?2
UNION ALL SELECT 2, part, NULL FROM delivery_maybe_sent WHERE digest_date = ?1 AND channel = ?2
"""


def ledger(conn: sqlite3.Connection, key: DeliveryKey) -> LedgerEntry:
    entry = LedgerEntry()
    for table, number, value in conn.execute(_LEDGER, _where(key)):
        if table == 0:
            entry.parts_total = number
            entry.finished = value is not None
        elif table == 2:
            entry.maybe_sent.add(number)
        elif value is None:
            entry.in_flight.add(number)
        else:
            entry.sent[number] = value
    return entry


def begin_part(conn: sqlite3.Connection, key: DeliveryKey, part: int, parts_total: int) -> None:
    date, channel = _where(key)
    conn.execute("""INSERT INTO deliveries (digest_date, channel, parts_total) VALUES (?, ?, ?)
                    ON CONFLICT (digest_date, channel) DO UPDATE SET parts_total = excluded.parts_total""",
                 (date, channel, parts_total))
    mark_in_flight(conn, key, part)


def mark_in_flight(conn: sqlite3.Connection, key: DeliveryKey, part: int) -> None:
    # A part already confirmed keeps its message id.
    conn.execute("""INSERT INTO delivery_parts (digest_date, channel, part, message_id, updated_at)
                    VALUES (?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING""", (*_where(key), part, time.time()))


def unmark_in_flight(conn: sqlite3.Connection, key: DeliveryKey, part: int) -> None:
    conn.execute("DELETE FROM delivery_parts WHERE digest_date = ? AND channel = ? AND part = ? "
                 "AND message_id IS NULL", (*_where(key), part))


def record_part(conn: sqlite3.Connection, key: DeliveryKey, part: int, message_id: str) -> None:
    conn.execute("INSERT INTO deliveries (digest_date, channel) VALUES (?, ?) ON CONFLICT DO NOTHING", _where(key))
    _record_planned_part(conn, key, part, message_id)


def _record_planned_part(conn: sqlite3.Connection, key: DeliveryKey, part: int, message_id: str) -> None:
    """record_part for a delivery whose row its plan wrote already."""
    conn.execute("""INSERT INTO delivery_parts (digest_date, channel, part, message_id, updated_at)
                    VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (digest_date, channel, part) DO UPDATE
                    SET message_id = excluded.message_id, updated_at = excluded.updated_at""",
                 (*_where(key), part, message_id, time.time()))


def mark_maybe_sent(conn: sqlite3.Connection, key: DeliveryKey, part: int) -> bool:
    cursor = conn.execute("""INSERT INTO delivery_maybe_sent (digest_date, channel, part, marked_at)
                             VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING""", (*_where(key), part, time.time()))
    return cursor.rowcount == 1


def finish(conn: sqlite3.Connection, key: DeliveryKey, fingerprint: str = "") -> None:
    """Mark the delivery finished (the first time counts) and keep `fingerprint` unless it has one."""
    conn.execute("""INSERT INTO deliveries (digest_date, channel, finished_at, fingerprint) VALUES (?, ?, ?, ?)
                    ON CONFLICT (digest_date, channel) DO UPDATE
                    SET finished_at = coalesce(deliveries.finished_at, excluded.finished_at),
                        fingerprint = CASE WHEN coalesce(deliveries.fingerprint, '') = ''
                                      THEN excluded.fingerprint ELSE deliveries.fingerprint END""",
                 (*_where(key), time.time(), fingerprint or None))


def next_chat(conn: sqlite3.Connection, platform: str) -> Callable[[str], str | None]:
    def moved_to(chat: str) -> str | None:
        row = conn.execute("SELECT new_chat FROM moved_chats WHERE platform = ? AND old_chat = ?",
                           (platform, chat)).fetchone()
        return None if row is None else str(row[0])

    return moved_to


def inactive_reason(conn: sqlite3.Connection, platform: str, chat: str) -> str | None:
    row = conn.execute("SELECT reason FROM inactive_chats WHERE platform = ? AND chat = ?",
                       (platform, chat)).fetchone()
    return None if row is None else str(row[0])


# -- one delivery's steps, each one transaction ---------------------------------------------------------
def open_delivery(conn: sqlite3.Connection, key: DeliveryKey, lease: str, owner: str, ttl: float,
                  platform: str, chat: str, chat_lease: str, parts_total: int) -> Opening:
    if not claim(conn, lease, owner, ttl):
        return Opening(False, LedgerEntry(), chat)
    entry = ledger(conn, key)
    if entry.finished:
        return Opening(True, entry, chat)
    # Usually the chat has not moved: whether it did and whether it is inactive come in one statement.
    moved_to, reason = conn.execute(
        "SELECT (SELECT new_chat FROM moved_chats WHERE platform = ?1 AND old_chat = ?2), "
        "(SELECT reason FROM inactive_chats WHERE platform = ?1 AND chat = ?2)", (platform, chat)).fetchone()
    current = chat
    if moved_to is not None:
        current = chat_moves(next_chat(conn, platform), chat)[-1]
        reason = inactive_reason(conn, platform, current)
    if reason is not None or current != chat:
        return Opening(True, entry, current, reason)
    planned = plan_delivery(conn, key, chat_lease, owner, ttl, parts_total, part_to_plan(entry, parts_total))
    return Opening(True, entry, current, None, Plan.PLANNED if planned else Plan.CHAT_TAKEN)


def plan_delivery(conn: sqlite3.Connection, key: DeliveryKey, chat_lease: str, owner: str, ttl: float,
                  parts_total: int, first_part: int) -> bool:
    if not claim(conn, chat_lease, owner, ttl):
        return False
    begin_part(conn, key, first_part, parts_total)
    return True


def record_sent(conn: sqlite3.Connection, key: DeliveryKey, part: int, message_id: str,
                next_part: int | None) -> None:
    _record_planned_part(conn, key, part, message_id)
    if next_part is not None:
        mark_in_flight(conn, key, next_part)


def close_delivery(conn: sqlite3.Connection, key: DeliveryKey, owner: str, leases: tuple[str, ...],
                   finished: bool, never_sent: int | None, last_sent: tuple[int, str] | None,
                   fingerprint: str) -> None:
    if last_sent is not None:
        _record_planned_part(conn, key, *last_sent)
    if finished:
        finish(conn, key, fingerprint)
    elif never_sent is not None:
        unmark_in_flight(conn, key, never_sent)
    if leases:
        conn.execute(f"DELETE FROM leases WHERE owner = ? AND name IN ({', '.join('?' * len(leases))})",
                     (owner, *leases))
