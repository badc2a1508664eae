"""Persistent state behind one interface: delivery ledger, leases, subscriptions, chat state."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bot.store.base import DeliveryKey, LedgerEntry, Store, StoreError, Subscription

__all__ = [
    "DeliveryKey",
    "LedgerEntry",
    "Store",
    "StoreError",
    "Subscription",
    "mask_url",
    "open_store",
]

_SUPPORTED = "memory://, sqlite:///relative/path, sqlite:////absolute/path or redis://host:port/db"


def mask_url(url: str) -> str:
    """The store URL with any password replaced by ***, safe for logs and error messages."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        # Unparseable: show only the scheme, since a secret may sit anywhere in the rest.
        scheme, sep, _ = url.partition("://")
        return f"{scheme}://***" if sep else "***"
    if not password:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user, _, _ = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def open_store(url: str, base_dir: Path, prefix: str = "digestbot:") -> Store:
    """Open the store a URL names; relative sqlite paths resolve against `base_dir`.

    Raises ValueError for a URL that names no store, StoreError if the backend cannot be opened.
    Redis connects lazily: call `ping()` to find out whether it is reachable.
    """
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ValueError(f"store URL {mask_url(url)!r} has no scheme: expected {_SUPPORTED}")
    if scheme == "memory":
        from bot.store.memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        from bot.store.sqlite import SqliteStore

        return SqliteStore(sqlite_path(url, base_dir))
    if scheme in ("redis", "rediss"):
        from bot.store.redis import RedisStore

        return RedisStore(url, prefix=prefix)
    raise ValueError(f"unknown store URL scheme {scheme!r} in {mask_url(url)!r}: expected {_SUPPORTED}")


def sqlite_path(url: str, base_dir: Path) -> Path:
    """The database file of a sqlite:/// URL: three slashes and a relative path, or four and an absolute one."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() != "sqlite" or not rest.startswith("/") or rest.rstrip("/") == "":
        raise ValueError(f"store URL {url!r} names no database file: expected sqlite:///relative/path "
                         "or sqlite:////absolute/path")
    # "sqlite:///x" leaves "/x" (relative x); "sqlite:////x" leaves "//x" (absolute /x).
    path = Path(rest[1:])
    return path if path.is_absolute() else base_dir / path
