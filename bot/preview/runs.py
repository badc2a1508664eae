"""Building styled runs: a stack of marks, adjacent runs of one style merged, only safe link targets."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.preview.model import Run, Runs
from bot.render.links import FOLLOWABLE_SCHEMES


def safe_href(url: str) -> str | None:
    """``url`` when the page may make it a link: a scheme a reader can follow, never script or data."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in FOLLOWABLE_SCHEMES else None


class RunBuilder:
    """Collects text under the marks currently open."""

    def __init__(self) -> None:
        self._runs: list[Run] = []
        self._marks: list[str] = []
        self._hrefs: list[str | None] = []
        self._color: str | None = None
        self.links: list[str] = []          # every link target the message carries, safe or not

    def push(self, mark: str) -> None:
        self._marks.append(mark)

    def pop(self, mark: str) -> None:
        if mark in self._marks:
            del self._marks[len(self._marks) - 1 - self._marks[::-1].index(mark)]

    def open_link(self, url: str) -> None:
        self.links.append(url)
        self._hrefs.append(safe_href(url))

    def close_link(self) -> None:
        if self._hrefs:
            self._hrefs.pop()

    def set_color(self, color: str | None) -> None:
        self._color = color

    def add(self, text: str, *extra: str) -> None:
        if not text:
            return
        run = Run(text, frozenset((*self._marks, *extra)), self._hrefs[-1] if self._hrefs else None, self._color)
        last = self._runs[-1] if self._runs else None
        if last is not None and (last.marks, last.href, last.color) == (run.marks, run.href, run.color):
            self._runs[-1] = Run(last.text + text, run.marks, run.href, run.color)
        else:
            self._runs.append(run)

    def link(self, url: str, label: str) -> None:
        self.open_link(url)
        self.add(label)
        self.close_link()

    def runs(self) -> Runs:
        return tuple(self._runs)


def plain(runs: Runs) -> str:
    return "".join(run.text for run in runs)
