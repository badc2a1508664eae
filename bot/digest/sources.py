"""Where digests come from: an indexed folder of Markdown files, or an http(s) URL template."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import re
import string
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import aiohttp

from bot.digest.model import Digest
from bot.digest.parse import parse_digest, parse_file
from bot.errors import DigestError
from bot.settings import Settings

log = logging.getLogger(__name__)

DIGEST_SUFFIXES = (".md", ".markdown")


class DigestSource(Protocol):
    """Digests by date; a date without a published digest is None, an unreadable one a DigestError."""

    async def for_date(self, day: dt.date) -> Digest | None: ...

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


# -- folder -----------------------------------------------------------------------------------

Stamp = tuple[int, int]     # (mtime_ns, size): a changed file changes one of them


@dataclasses.dataclass(frozen=True, slots=True)
class _IndexedFile:
    stamp: Stamp
    digest: Digest | None
    problem: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class _Index:
    files: dict[str, _IndexedFile]
    by_date: dict[dt.date, str]
    dates: tuple[dt.date, ...]                          # ascending
    contested: dict[dt.date, tuple[str, ...]]           # dates several files claim, winner first


_EMPTY_INDEX = _Index({}, {}, (), {})


class FolderSource:
    """A folder (and its subfolders) of digests, indexed by front-matter date.

    File names are never trusted. The index is built once and refreshed at most every
    `refresh_interval` seconds by comparing (mtime_ns, size): only new or changed files are parsed,
    deleted ones dropped. Unreadable files stay out of the index and are listed in `problems`.
    """

    def __init__(self, folder: Path, categorizer: Categorizes, tz: ZoneInfo, *,
                 refresh_interval: float = 1.0, on_problem: ProblemHook | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = folder
        self.categorizer = categorizer
        self.tz = tz
        self.refresh_interval = refresh_interval
        self.on_problem = on_problem
        self.clock = clock
        self.parses = 0                     # files parsed since start: unchanged files cost nothing
        self._index = _EMPTY_INDEX
        self._checked_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def problems(self) -> dict[str, str]:
        """path → why that file is not in the index."""
        return {path: entry.problem for path, entry in self._index.files.items() if entry.problem is not None}

    async def refresh(self, force: bool = True) -> None:
        """Bring the index up to date with the folder (unless checked within the interval)."""
        async with self._lock:
            if not force and self._checked_at is not None \
                    and self.clock() - self._checked_at < self.refresh_interval:
                return
            # Parsing hundreds of files must not stall the event loop; the new index is swapped in here.
            self._index = await asyncio.to_thread(self._rescan, self._index)
            self._checked_at = self.clock()

    async def for_date(self, day: dt.date) -> Digest | None:
        await self.refresh(force=False)
        path = self._index.by_date.get(day)
        return None if path is None else self._index.files[path].digest

    async def latest(self, on_or_before: dt.date) -> Digest | None:
        await self.refresh(force=False)
        earlier = [day for day in self._index.dates if day <= on_or_before]
        return await self.for_date(earlier[-1]) if earlier else None

    async def dates(self) -> tuple[dt.date, ...]:
        await self.refresh(force=False)
        return self._index.dates

    async def close(self) -> None:
        return None

    # -- indexing (runs in a worker thread; reads the old index, returns a new one) ------------
    def _scan(self, folder: str) -> Iterator[tuple[str, Stamp]]:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(".") or entry.name.endswith("~"):
                    continue            # hidden files and editors' temporary copies
                if entry.is_dir():
                    yield from self._scan(entry.path)
                elif entry.is_file() and entry.name.lower().endswith(DIGEST_SUFFIXES):
                    info = entry.stat()
                    yield entry.path, (info.st_mtime_ns, info.st_size)

    def _rescan(self, old: _Index) -> _Index:
        try:
            found = dict(self._scan(str(self.folder)))
        except FileNotFoundError:
            raise DigestError(str(self.folder), "digest folder not found") from None
        except OSError as exc:
            raise DigestError(str(self.folder), f"digest folder cannot be read: {exc.strerror}") from None
        changed = set(found) ^ set(old.files)
        files: dict[str, _IndexedFile] = {}
        for path, stamp in found.items():
            previous = old.files.get(path)
            if previous is not None and previous.stamp == stamp:
                files[path] = previous
            else:
                files[path] = self._load(path, stamp)
                changed.add(path)
        if not changed and old is not _EMPTY_INDEX:
            return old
        for path in sorted(set(old.files) - set(found)):
            log.info("digest %s was removed", path)
        return self._index_dates(files, old.contested)

    def _load(self, path: str, stamp: Stamp) -> _IndexedFile:
        self.parses += 1
        try:
            digest = in_time_zone(self.categorizer.categorize(parse_file(Path(path))), self.tz)
        except DigestError as exc:
            return self._problem(path, stamp, str(exc))
        except OSError as exc:
            return self._problem(path, stamp, f"{path}: cannot be read: {exc.strerror}")
        except Exception as exc:
            # A parser defect must cost one file, not the whole folder.
            log.exception("unexpected failure reading digest %s", path)
            return self._problem(path, stamp, f"{path}: unexpected error: {type(exc).__name__}: {exc}")
        return _IndexedFile(stamp, digest, None)

    def _problem(self, path: str, stamp: Stamp, message: str) -> _IndexedFile:
        log.warning("skipping digest %s", message)
        if self.on_problem is not None:
            self.on_problem(path, message)
        return _IndexedFile(stamp, None, message)

    @staticmethod
    def _index_dates(files: dict[str, _IndexedFile], reported: dict[dt.date, tuple[str, ...]]) -> _Index:
        claims: dict[dt.date, list[str]] = {}
        for path, entry in files.items():
            if entry.digest is not None:
                claims.setdefault(entry.digest.date, []).append(path)
        by_date: dict[dt.date, str] = {}
        contested: dict[dt.date, tuple[str, ...]] = {}
        for day, paths in claims.items():
            # The newest file wins; the path breaks ties so the choice never flips between scans.
            paths.sort(key=lambda p: (files[p].stamp[0], p), reverse=True)
            by_date[day] = paths[0]
            if len(paths) > 1:
                contested[day] = tuple(paths)
                if reported.get(day) != contested[day]:
                    log.warning("%d digests are dated %s; using the newest, %s (ignoring %s)",
                                len(paths), day.isoformat(), paths[0], ", ".join(paths[1:]))
        return _Index(files, by_date, tuple(sorted(by_date)), contested)


# -- URL template -----------------------------------------------------------------------------

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


_URL_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>)]+")


def _scrub_urls(text: str) -> str:
    """Every URL in a message shown without credentials or query string, whatever its spelling."""
    return " ".join(_URL_IN_TEXT.sub(lambda match: _shown(match.group(0)), text).split())


def _shown(url: str) -> str:
    """The URL as logs and errors may show it: no credentials, no query string."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


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
        shown = _shown(url)
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
            raise DigestUnavailable(shown, f"cannot fetch: {_scrub_urls(str(exc)) or type(exc).__name__}") from None
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


# -- choosing ---------------------------------------------------------------------------------

_URL_SCHEME = re.compile(r"(?i)https?://")


def is_url(source: str) -> bool:
    """Whether `digests.source` is a URL template (else it is a folder); the scheme in any case."""
    return _URL_SCHEME.match(source) is not None


def folder_path(source: str, base_dir: Path) -> Path:
    """The folder `digests.source` names: `~` is the home folder, relative paths are relative to
    `base_dir` (the config file's folder). ValueError when it cannot name a folder here.

    `check-config` shows this path and the service reads it: one function decides both.
    """
    if "\x00" in source:
        raise ValueError("the folder name contains a NUL character")
    try:
        folder = Path(source).expanduser()
    except RuntimeError:
        raise ValueError("the folder starts with ~ but that home folder is unknown here; "
                         "write an absolute path") from None
    return (folder if folder.is_absolute() else base_dir / folder).resolve()


def open_source(settings: Settings, categorizer: Categorizes, *,
                on_problem: ProblemHook | None = None) -> DigestSource:
    """The configured source: a URL template when `digests.source` is http(s), else a folder."""
    tz = ZoneInfo(settings.timezone)
    source = settings.digests.source
    if is_url(source):
        return UrlSource(source, categorizer, tz, timeout=settings.digests.fetch_timeout)
    return FolderSource(folder_path(source, settings.base_dir), categorizer, tz, on_problem=on_problem)
