"""The SQLite store's subscriptions table: a chat's /subscribe, its schedule, categories and topic."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from bot.store.base import Subscription


def subscribe(conn: sqlite3.Connection, subscription: Subscription) -> bool:
    """Add or replace (inside the caller's write transaction); True if the chat had none."""
    had = conn.execute("SELECT 1 FROM subscriptions WHERE platform = ? AND chat = ?",
                       (subscription.platform, subscription.chat)).fetchone() is not None
    conn.execute(
        """INSERT INTO subscriptions (platform, chat, schedule, timezone, subscribed_by, subscribed_at,
           categories, topic) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (platform, chat) DO UPDATE SET schedule = excluded.schedule,
           timezone = excluded.timezone, subscribed_by = excluded.subscribed_by,
           subscribed_at = excluded.subscribed_at, categories = excluded.categories, topic = excluded.topic""",
        (subscription.platform, subscription.chat, subscription.schedule, subscription.timezone,
         subscription.subscribed_by, time.time(), json.dumps(subscription.categories), subscription.topic))
    return not had


def unsubscribe(conn: sqlite3.Connection, platform: str, chat: str) -> bool:
    cursor = conn.execute("DELETE FROM subscriptions WHERE platform = ? AND chat = ?", (platform, chat))
    return cursor.rowcount > 0


def subscriptions(conn: sqlite3.Connection) -> list[Subscription]:
    # Rows are read one at a time, and values many subscriptions share (platform, schedule, time zone,
    # who subscribed, categories) are kept once, so a long list costs little beyond its chat ids.
    kept: dict[Any, Any] = {}
    categories_of: dict[str, tuple[str, ...]] = {}
    found = []
    for platform, chat, schedule, timezone, by, categories, topic in conn.execute(
            "SELECT platform, chat, schedule, timezone, subscribed_by, categories, topic "
            "FROM subscriptions ORDER BY platform, chat"):
        if categories not in categories_of:
            categories_of[categories] = tuple(json.loads(categories))
        found.append(Subscription(kept.setdefault(platform, platform), chat, kept.setdefault(schedule, schedule),
                                  kept.setdefault(timezone, timezone), kept.setdefault(by, by),
                                  categories_of[categories], topic))
    return found


def version(conn: sqlite3.Connection) -> str:
    (current,) = conn.execute("SELECT version FROM subscriptions_version").fetchone()
    return str(current)
