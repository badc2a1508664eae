"""Digests from a folder of Markdown files, indexed by front-matter date and refreshed by mtime and size."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.digest.model import Digest
from bot.digest.parse import parse_file
from bot.digest.source_base import DIGEST_SUFFIXES, Categorizes, ProblemHook, in_time_zone
from bot.errors import DigestError

# Every digest source logs under one name, which operators filter on.
log = logging.getLogger("bot.digest.sources")

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

    async def current(self, day: dt.date) -> Digest | None:
        await self.refresh(force=True)
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
