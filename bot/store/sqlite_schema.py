"""The SQLite store's schema, as the migrations that build it one version at a time."""

from __future__ import annotations

# Each entry upgrades the schema by one version; PRAGMA user_version records how far a file got.
# Append new migrations, never edit old ones: files in the field have already run them.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            expires_at REAL NOT NULL
        )""",
        """CREATE TABLE deliveries (
            digest_date TEXT NOT NULL,
            channel TEXT NOT NULL,
            parts_total INTEGER,
            finished_at REAL,
            PRIMARY KEY (digest_date, channel)
        )""",
        # message_id is NULL while the part is in flight: recorded as about to go, never confirmed.
        """CREATE TABLE delivery_parts (
            digest_date TEXT NOT NULL,
            channel TEXT NOT NULL,
            part INTEGER NOT NULL,
            message_id TEXT,
            updated_at REAL NOT NULL,
            PRIMARY KEY (digest_date, channel, part)
        )""",
        """CREATE TABLE inactive_chats (
            platform TEXT NOT NULL,
            chat TEXT NOT NULL,
            reason TEXT NOT NULL,
            since REAL NOT NULL,
            PRIMARY KEY (platform, chat)
        )""",
        """CREATE TABLE moved_chats (
            platform TEXT NOT NULL,
            old_chat TEXT NOT NULL,
            new_chat TEXT NOT NULL,
            moved_at REAL NOT NULL,
            PRIMARY KEY (platform, old_chat)
        )""",
        """CREATE TABLE subscriptions (
            platform TEXT NOT NULL,
            chat TEXT NOT NULL,
            schedule TEXT,
            timezone TEXT,
            subscribed_by TEXT NOT NULL,
            subscribed_at REAL NOT NULL,
            PRIMARY KEY (platform, chat)
        )""",
        """CREATE TABLE seen_tokens (
            token TEXT PRIMARY KEY,
            expires_at REAL NOT NULL
        )""",
        "CREATE INDEX seen_tokens_by_expiry ON seen_tokens (expires_at)",
    ),
    (
        # A part whose send timed out after the request went out; its one resend is spent.
        """CREATE TABLE delivery_maybe_sent (
            digest_date TEXT NOT NULL,
            channel TEXT NOT NULL,
            part INTEGER NOT NULL,
            marked_at REAL NOT NULL,
            PRIMARY KEY (digest_date, channel, part)
        )""",
    ),
    (
        # What `digestbot status` shows: since when a lease's owner holds it, a delivery's latest failure.
        "ALTER TABLE leases ADD COLUMN claimed_at REAL",
        "ALTER TABLE deliveries ADD COLUMN failure_reason TEXT",
        "ALTER TABLE deliveries ADD COLUMN failed_at REAL",
    ),
    (
        # A subscription's categories (a JSON list of canonical names); [] is the whole digest.
        "ALTER TABLE subscriptions ADD COLUMN categories TEXT NOT NULL DEFAULT '[]'",
    ),
    (
        # The forum topic a subscription posts in (Telegram message_thread_id); NULL: the chat itself.
        "ALTER TABLE subscriptions ADD COLUMN topic TEXT",
    ),
    (
        # What the chat shows of a finished delivery, for corrections (bot.corrections); NULL: nothing yet.
        "ALTER TABLE deliveries ADD COLUMN fingerprint TEXT",
    ),
    (
        # Bumped with every change to the subscriptions, so a scheduler re-reads them only after one.
        # Triggers bump it in the changing statement's own transaction, whichever statement it is.
        "CREATE TABLE subscriptions_version (version INTEGER NOT NULL)",
        "INSERT INTO subscriptions_version (version) VALUES (0)",
        """CREATE TRIGGER subscription_inserted AFTER INSERT ON subscriptions
           BEGIN UPDATE subscriptions_version SET version = version + 1; END""",
        """CREATE TRIGGER subscription_updated AFTER UPDATE ON subscriptions
           BEGIN UPDATE subscriptions_version SET version = version + 1; END""",
        """CREATE TRIGGER subscription_deleted AFTER DELETE ON subscriptions
           BEGIN UPDATE subscriptions_version SET version = version + 1; END""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
