"""Styled runs: one model of a paragraph as pieces of text, code or link, each bold and/or italic.

A digest paragraph (bot.digest.model) is a tree of inline nodes; every renderer wants it flat. It
is flattened here once, with hooks where a platform differs (bare URLs turned into links, how a
link is checked and shortened). Slack writes these runs as mrkdwn; the generic packer
(bot/render/packing.py) writes them through any platform's :class:`~bot.render.markup.Markup`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.digest.model import Bold, Code, Inline, Italic, Link, Text, plain_text
from bot.render import links

__all__ = ["Run", "RunKind", "flatten", "link_or_text", "slice_runs"]

RunKind = Literal["text", "code", "link"]


@dataclass(frozen=True, slots=True)
class Run:
    kind: RunKind
    text: str  # what the reader sees (a link's label)
    bold: bool = False
    italic: bool = False
    url: str = ""  # links: the target in the form the platform writes it

    @property
    def styled(self) -> bool:
        return self.bold or self.italic

    def with_text(self, text: str, kind: RunKind | None = None) -> Run:
        # dataclasses.replace is several times slower, and this runs once per piece of text.
        return Run(kind or self.kind, text, self.bold, self.italic, self.url)


# (text, bold, italic, out): appends the runs of one Text node.
TextHook = Callable[[str, bool, bool, list[Run]], None]
# (url, label, bold, italic) -> the runs of one link.
LinkHook = Callable[[str, str, bool, bool], list[Run]]


def _plain(text: str, bold: bool, italic: bool, out: list[Run]) -> None:
    out.append(Run("text", text, bold, italic))


def flatten(nodes: Sequence[Inline], link: LinkHook, text: TextHook = _plain, *,
            bold: bool = False, italic: bool = False) -> list[Run]:
    """The runs of ``nodes`` in reading order; a link's label is its plain text."""
    out: list[Run] = []
    _flatten(nodes, bold, italic, link, text, out)
    return out


def _flatten(nodes: Sequence[Inline], bold: bool, italic: bool, link: LinkHook, text: TextHook,
             out: list[Run]) -> None:
    for node in nodes:
        if isinstance(node, Text):
            text(node.text, bold, italic, out)
        elif isinstance(node, Bold):
            _flatten(node.children, True, italic, link, text, out)
        elif isinstance(node, Italic):
            _flatten(node.children, bold, True, link, text, out)
        elif isinstance(node, Code):
            out.append(Run("code", node.text, bold, italic))
        elif isinstance(node, Link):
            out.extend(link(node.url, plain_text(node.children), bold, italic))


def link_or_text(url: str, label: str, bold: bool, italic: bool, rules: links.LinkRules) -> list[Run]:
    """A link run when ``rules`` let ``url`` be a link, else its text as "label (url)"."""
    label = " ".join(label.split())
    if links.link_url(url, rules) is None:
        return [Run("text", links.as_text(label, url), bold, italic)]
    return [Run("link", label or url, bold, italic, url)]


def slice_runs(runs: Sequence[Run], starts: Sequence[int], start: int, stop: int) -> list[Run]:
    """The runs covering positions [start, stop) of their joined text (``starts``: where each run
    begins); a link is never cut, so one overlapping the range comes whole."""
    out: list[Run] = []
    index = bisect.bisect_right(starts, start) - 1
    while index < len(runs) and starts[index] < stop:
        run, run_start = runs[index], starts[index]
        if run.kind == "link":
            out.append(run)
        else:
            out.append(run.with_text(run.text[max(start, run_start) - run_start: stop - run_start]))
        index += 1
    return out
