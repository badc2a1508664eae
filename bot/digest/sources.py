"""Where digests come from: the `digests:` settings and their check, and the folder or URL source they name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.checking import Checker
from bot.digest.folder_source import FolderSource
from bot.digest.source_base import Categorizes, DigestSource, DigestUnavailable, ProblemHook, in_time_zone
from bot.digest.url_source import UrlSource, url_template_problem
from bot.secrets import MaskedRepr

__all__ = ["DIGEST_KEYS", "DigestSettings", "DigestSource", "DigestUnavailable", "FolderSource", "UrlSource",
           "check_digests", "folder_path", "in_time_zone", "is_url", "open_source", "url_template_problem"]

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


@dataclass(frozen=True, slots=True, repr=False)
class DigestSettings(MaskedRepr):
    # A folder (resolved against the config file's folder) or an http(s) URL template.
    source: str = "./examples"
    # While the day's digest is not published yet at a scheduled time: poll every interval, give up at deadline.
    poll_interval: float = 300.0
    poll_deadline: float = 6 * 3600.0
    # A delivery missed while the bot was down is still made at start-up within this window.
    catch_up: float = 6 * 3600.0
    fetch_timeout: float = 20.0


DIGEST_KEYS = ("source", "poll_interval", "poll_deadline", "catch_up", "fetch_timeout")


def _checked_source(check: Checker, source: str) -> str:
    if is_url(source):
        # The same check the service makes before it fetches anything.
        problem = url_template_problem(source)
        if problem is not None:
            check.add("digests.source", problem)
    elif "://" in source:
        check.add("digests.source", "a URL template must be http:// or https:// with a host")
    elif source:
        # Existence is not checked: a config is often validated away from where it runs (CI, an
        # image build) and the folder may be a volume mounted at start-up.
        try:
            source = str(folder_path(source, check.base_dir))
        except ValueError as exc:
            check.add("digests.source", str(exc))
    else:
        check.add("digests.source", "must name a folder or an http(s) URL template")
    return source


def check_digests(check: Checker, raw: object) -> DigestSettings:
    """The `digests:` section, every problem added to `check`."""
    section = check.section(raw, "digests", DIGEST_KEYS)
    defaults = DigestSettings()
    return DigestSettings(
        source=_checked_source(check, check.text(section, "source", "digests", defaults.source).strip()),
        poll_interval=check.duration(section, "poll_interval", "digests", defaults.poll_interval),
        poll_deadline=check.duration(section, "poll_deadline", "digests", defaults.poll_deadline),
        catch_up=check.duration(section, "catch_up", "digests", defaults.catch_up, allow_zero=True),
        fetch_timeout=check.duration(section, "fetch_timeout", "digests", defaults.fetch_timeout),
    )


class SourceSettings(Protocol):
    """What opening the source reads from the whole settings."""

    @property
    def timezone(self) -> str: ...
    @property
    def digests(self) -> DigestSettings: ...
    @property
    def base_dir(self) -> Path: ...


def open_source(settings: SourceSettings, categorizer: Categorizes, *,
                on_problem: ProblemHook | None = None) -> DigestSource:
    """The configured source: a URL template when `digests.source` is http(s), else a folder."""
    tz = ZoneInfo(settings.timezone)
    source = settings.digests.source
    if is_url(source):
        return UrlSource(source, categorizer, tz, timeout=settings.digests.fetch_timeout)
    return FolderSource(folder_path(source, settings.base_dir), categorizer, tz, on_problem=on_problem)
