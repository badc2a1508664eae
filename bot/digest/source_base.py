"""The digest source interface shared by the folder and URL sources, and dating a digest in a time zone."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.digest.model import Digest
from bot.errors import DigestError

DIGEST_SUFFIXES = (".md", ".markdown")


class DigestSource(Protocol):
    """Digests by date; a date without a published digest is None, an unreadable one a DigestError."""

    async def for_date(self, day: dt.date) -> Digest | None: ...

    async def current(self, day: dt.date) -> Digest | None:
        """for_date, looked up at the source now rather than answered from a recent check: what a
        replica about to correct a chat compares its digest with (another may already know a newer one)."""
        ...

    async def latest(self, on_or_before: dt.date) -> Digest | None: ...

    async def close(self) -> None: ...


class Categorizes(Protocol):
    def categorize(self, digest: Digest) -> Digest: ...


# Called with (where, message) each time a digest newly turns out unreadable: a metric hook.
ProblemHook = Callable[[str, str], None]


class DigestUnavailable(DigestError):
    """The document could not be fetched at all (HTTP error, timeout, connection failure)."""


def in_time_zone(digest: Digest, tz: ZoneInfo) -> Digest:
    """The digest dated by the calendar in `tz` when its front matter carries a time with an offset.

    A bare date (or a time without an offset) is taken as written.
    """
    published = digest.published_at
    if published is None or published.utcoffset() is None:
        return digest
    local = published.astimezone(tz).date()
    return digest if local == digest.date else dataclasses.replace(digest, date=local)
