"""Writing styled runs through a platform's markup, and what each character and run may cost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.render.measure import Measure
from bot.render.runs import Run

__all__ = ["Markup", "char_costs", "run_overhead", "write"]


class Markup(Protocol):
    """How one platform writes text. ``text`` and ``code`` must escape character by character
    (``text(a + b) == text(a) + text(b)``): costs are worked out per character from them."""

    def text(self, text: str) -> str: ...

    def code(self, text: str) -> str: ...

    def link(self, label: str, url: str) -> str: ...

    def style(self, inner: str, bold: bool, italic: bool) -> str: ...


def write(runs: Sequence[Run], markup: Markup) -> str:
    """``runs`` as one string of ``markup``; neighbouring runs of one style share one span."""
    out: list[str] = []
    index = 0
    while index < len(runs):
        first = runs[index]
        end = index + 1
        if first.styled:
            while end < len(runs) and (runs[end].bold, runs[end].italic) == (first.bold, first.italic):
                end += 1
            out.append(_span(runs[index:end], markup))
        else:
            out.append(_piece(first, markup))
        index = end
    return "".join(out)


def _piece(run: Run, markup: Markup) -> str:
    if run.kind == "link":
        return markup.link(run.text, run.url)
    return markup.code(run.text) if run.kind == "code" else markup.text(run.text)


def _span(group: Sequence[Run], markup: Markup) -> str:
    # Markdown flavours ignore a marker next to whitespace, so edge whitespace stays outside the span.
    runs = list(group)
    lead = trail = ""
    if runs[0].kind == "text":
        stripped = runs[0].text.lstrip()
        lead = runs[0].text[:len(runs[0].text) - len(stripped)]
        runs[0] = runs[0].with_text(stripped)
    if runs[-1].kind == "text":
        stripped = runs[-1].text.rstrip()
        trail = runs[-1].text[len(stripped):]
        runs[-1] = runs[-1].with_text(stripped)
    inner = "".join(_piece(run, markup) for run in runs if run.text)
    if not inner:
        return markup.text(lead + trail)
    return markup.text(lead) + markup.style(inner, group[0].bold, group[0].italic) + markup.text(trail)


def run_overhead(run: Run, markup: Markup, measure: Measure) -> int:
    """Most that writing ``run`` adds beyond its characters' costs: its span's markers, code fences,
    or for a link the whole link (a link is never cut, so it is charged whole)."""
    style = measure(markup.style("", run.bold, run.italic)) if run.styled else 0
    if run.kind == "link":
        return style + measure(markup.link(run.text, run.url))
    if run.kind == "code":
        return style + measure(markup.code(""))
    return style


def char_costs(run: Run, markup: Markup, measure: Measure) -> list[int]:
    """The cost of each code point of a text or code run once escaped (a link's are charged in its overhead)."""
    if run.kind == "link":
        return [0] * len(run.text)
    escape = markup.code if run.kind == "code" else markup.text
    empty = measure(escape(""))
    known: dict[str, int] = {}
    costs: list[int] = []
    for char in run.text:
        cost = known.get(char)
        if cost is None:
            cost = known[char] = measure(escape(char)) - empty
        costs.append(cost)
    return costs
