"""Digests fetched from an http(s) URL template, with conditional GETs, a per-date cache and scrubbed errors."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import math
import string
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from zoneinfo import ZoneInfo

import aiohttp

from bot.digest.model import Digest
from bot.digest.parse import parse_digest
from bot.digest.source_base import Categorizes, DigestUnavailable, in_time_zone
from bot.errors import DigestError
from bot.secrets import mask_url, scrub_urls

# Every digest source logs under one name, which operators filter on.
log = logging.getLogger("bot.digest.sources")

_EXAMPLE_TEMPLATE = "https://host/{date:%Y-%m-%d}.md"
_PLACEHOLDERS_ONLY = ("only {date} and {date:FORMAT} placeholders are allowed, e.g. " + _EXAMPLE_TEMPLATE
                      + " (write {{ and }} for literal braces)")


def url_template_problem(template: str) -> str | None:
    """Why `template` cannot name one http(s) document per date, or None when it can.

    The service refuses to start with such a template and `check-config` reports the same words;
    no part of the template is quoted (its query string or user:password@ may be a credential).
    """
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"bad URL template: {exc}; {_PLACEHOLDERS_ONLY}"
    for _literal, name, spec, conversion in fields:
        # Attribute access, indexing, conversions and nested fields ({date!s:>999999999}) are
        # refused: only strftime formats, whose output stays about as long as the template.
        if name is not None and (name != "date" or conversion is not None or "{" in (spec or "")):
            return f"bad URL template: {_PLACEHOLDERS_ONLY}"
    try:
        first = template.format(date=dt.date(2000, 1, 2))
        second = template.format(date=dt.date(2000, 1, 3))
    except ValueError as exc:
        return f"bad URL template: {exc}; {_PLACEHOLDERS_ONLY}"
    if first == second:
        return "URL template does not use the date; put {date:%Y-%m-%d} where it goes"
    if any(ord(character) < 0x21 or ord(character) == 0x7F for character in first):
        return "URL template contains a space or a control character; write %20 for a space"
    try:
        parts = urllib.parse.urlsplit(first)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number in range
    except ValueError:
        return "URL template is not an http(s) URL with a valid host and port"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "URL template is not an http(s) URL with a host, like " + _EXAMPLE_TEMPLATE
    return None


@dataclasses.dataclass(slots=True)
class _Cached:
    digest: Digest | None           # None: the server said 404
    etag: str | None
    last_modified: str | None
    checked_at: float


class UrlSource:
    """Digests fetched from `template.format(date=...)` with conditional GETs and a per-date cache.

    404/410 means "not published"; any other failure is a one-line DigestError naming the URL.
    Within `fresh_for` seconds of the last check a date is answered from the cache.
    """

    def __init__(self, template: str, categorizer: Categorizes, tz: ZoneInfo, *,
                 session_factory: Callable[[], aiohttp.ClientSession] = aiohttp.ClientSession,
                 timeout: float = 20.0, lookback_days: int = 14, fresh_for: float = 60.0,
                 max_bytes: int = 4 * 1024 * 1024, cache_size: int = 64,
                 clock: Callable[[], float] = time.monotonic) -> None:
        problem = url_template_problem(template)
        if problem is not None:
            raise ValueError(problem)
        self.template = template
        self.categorizer = categorizer
        self.tz = tz
        self.session_factory = session_factory
        self.timeout = timeout
        self.lookback_days = lookback_days
        self.fresh_for = fresh_for
        self.max_bytes = max_bytes
        self.cache_size = cache_size
        self.clock = clock
        self.requests = 0
        self._session: aiohttp.ClientSession | None = None
        self._cache: OrderedDict[dt.date, _Cached] = OrderedDict()
        self._inflight: dict[dt.date, asyncio.Task[Digest | None]] = {}

    def url_for(self, day: dt.date) -> str:
        return self.template.format(date=day)

    async def current(self, day: dt.date) -> Digest | None:
        cached = self._cache.get(day)
        if cached is not None:
            cached.checked_at = -math.inf      # asked again (conditionally: unchanged, it costs a 304)
        return await self.for_date(day)

    async def for_date(self, day: dt.date) -> Digest | None:
        cached = self._cache.get(day)
        if cached is not None and self.clock() - cached.checked_at < self.fresh_for:
            return cached.digest
        task = self._inflight.get(day)
        if task is None:
            # Concurrent askers (a broadcast to many chats) share one request.
            task = asyncio.create_task(self._fetch(day))
            self._inflight[day] = task
            task.add_done_callback(lambda _: self._inflight.pop(day, None))
        return await asyncio.shield(task)

    async def latest(self, on_or_before: dt.date) -> Digest | None:
        malformed: DigestError | None = None
        for back in range(self.lookback_days + 1):
            day = on_or_before - dt.timedelta(days=back)
            try:
                digest = await self.for_date(day)
            except DigestUnavailable:
                raise
            except DigestError as exc:
                # One broken document should not hide an older good one.
                malformed = malformed or exc
                continue
            if digest is not None:
                return digest
        if malformed is not None:
            raise malformed
        return None

    async def close(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _fetch(self, day: dt.date) -> Digest | None:
        url = self.url_for(day)
        shown = mask_url(url, bare=True)
        cached = self._cache.get(day)
        headers: dict[str, str] = {}
        if cached is not None and cached.digest is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        if self._session is None:
            self._session = self.session_factory()
        self.requests += 1
        try:
            async with self._session.get(url, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                if response.status == 304 and cached is not None and cached.digest is not None:
                    return self._remember(day, cached.digest, cached.etag, cached.last_modified)
                if response.status in (404, 410):
                    return self._remember(day, None, None, None)
                if response.status != 200:
                    raise DigestUnavailable(shown, f"HTTP {response.status} {response.reason or ''}".rstrip())
                body = await self._read_body(response, shown)
                etag = response.headers.get("ETag")
                last_modified = response.headers.get("Last-Modified")
        except TimeoutError:
            raise DigestUnavailable(shown, f"no answer within {self.timeout:g} s") from None
        except aiohttp.ClientResponseError as exc:
            # Its text carries the (possibly redirected, re-encoded) URL with the query: only the status.
            raise DigestUnavailable(shown, f"cannot fetch: {type(exc).__name__} (HTTP {exc.status})") from None
        except aiohttp.ClientError as exc:
            raise DigestUnavailable(shown, f"cannot fetch: {scrub_urls(str(exc)) or type(exc).__name__}") from None
        # A multi-megabyte document takes a while to parse; commands, /healthz and every other
        # delivery keep being served meanwhile.
        digest = await asyncio.to_thread(self._digest_from, body, shown)
        if digest.date != day:
            # Another day's document (a stale copy behind the URL) is not that day's digest.
            log.warning("%s is dated %s, not %s: treated as not published", shown, digest.date.isoformat(),
                        day.isoformat())
            return self._remember(day, None, None, None)
        return self._remember(day, digest, etag, last_modified)

    def _digest_from(self, body: bytes, shown: str) -> Digest:
        """Parse and categorize a fetched document; runs in a worker thread."""
        return in_time_zone(self.categorizer.categorize(parse_digest(body, source=shown)), self.tz)

    async def _read_body(self, response: aiohttp.ClientResponse, shown: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                raise DigestError(shown, f"document is larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _remember(self, day: dt.date, digest: Digest | None, etag: str | None,
                  last_modified: str | None) -> Digest | None:
        self._cache[day] = _Cached(digest, etag, last_modified, self.clock())
        self._cache.move_to_end(day)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return digest
