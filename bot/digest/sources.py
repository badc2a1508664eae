"""Where digests come from: chooses the folder or URL source that `digests.source` names."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.digest.folder_source import FolderSource
from bot.digest.source_base import Categorizes, DigestSource, DigestUnavailable, ProblemHook, in_time_zone
from bot.digest.url_source import UrlSource, url_template_problem
from bot.settings import Settings

__all__ = ["DigestSource", "DigestUnavailable", "FolderSource", "UrlSource", "folder_path", "in_time_zone", "is_url",
           "open_source", "url_template_problem"]

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
