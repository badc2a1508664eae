"""Persistent state behind one interface: delivery ledger, leases, subscriptions, chat state."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from bot.bounded import shown
from bot.secrets import mask_url
from bot.store.base import DeliveryKey, LedgerEntry, Store, StoreError, Subscription

__all__ = [
    "DeliveryKey",
    "LedgerEntry",
    "Store",
    "StoreError",
    "Subscription",
    "check_store_url",
    "mask_url",
    "open_store",
    "sqlite_path",
]

_SUPPORTED = "memory://, sqlite:///relative/path, sqlite:////absolute/path or redis://host:port/db"


def open_store(url: str, base_dir: Path, prefix: str = "digestbot:") -> Store:
    """Open the store a URL names; relative sqlite paths resolve against `base_dir`.

    Raises ValueError for a URL that names no store (the same check `check-config` makes),
    StoreError if the backend cannot be opened. Redis connects lazily: call `ping()` to find out
    whether it is reachable.
    """
    check_store_url(url, base_dir)
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        from bot.store.memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        from bot.store.sqlite import SqliteStore

        return SqliteStore(sqlite_path(url, base_dir))
    from bot.store.redis import RedisStore

    return RedisStore(url, prefix=prefix)


def check_store_url(url: str, base_dir: Path) -> None:
    """Raises ValueError, in one line that quotes no part of the URL but its scheme, unless the URL
    names a store open_store can open."""
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ValueError(f"store URL has no scheme: expected {_SUPPORTED}")
    if scheme == "sqlite":
        sqlite_path(url, base_dir)
    elif scheme in ("redis", "rediss"):
        _check_redis_url(url)
    elif scheme != "memory":
        raise ValueError(f"unknown store URL scheme {shown(scheme, 20)}: expected {_SUPPORTED}")


def _check_redis_url(url: str) -> None:
    if any(ord(character) < 0x21 or ord(character) == 0x7F for character in url):
        raise ValueError("a Redis URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("the Redis port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("a Redis URL needs a host, like redis://127.0.0.1:6379/0")
    if port is not None and port < 1:
        raise ValueError("the Redis port must be a number from 1 to 65535")
    if parts.path not in ("", "/") and not re.fullmatch(r"/\d{1,5}", parts.path):
        raise ValueError("the Redis database after the host must be a number, like /0")


def sqlite_path(url: str, base_dir: Path) -> Path:
    """The database file of a sqlite:/// URL: three slashes and a relative path (against
    `base_dir`, `~` for the home folder), or four and an absolute one.

    `check-config` shows this path and the service opens it: one function decides both.
    """
    scheme, _, rest = url.partition("://")
    if scheme.lower() != "sqlite" or not rest.startswith("/") or rest.rstrip("/") == "":
        raise ValueError("store URL names no database file: expected sqlite:///relative/path "
                         "or sqlite:////absolute/path")
    if "\x00" in rest:
        raise ValueError("the sqlite path contains a NUL character")
    # "sqlite:///x" leaves "/x" (relative x); "sqlite:////x" leaves "//x" (absolute /x).
    path = Path(rest[1:])
    try:
        path = path.expanduser()
    except RuntimeError:
        # `~name` of an unknown user, or `~` without HOME and without a passwd entry (a systemd DynamicUser).
        raise ValueError("the sqlite path starts with ~ but that home folder is unknown here; "
                         "write sqlite:////absolute/path") from None
    return path if path.is_absolute() else base_dir / path
