"""The one ellipsis cutter: text shortened to a budget in any measure, an ellipsis marking the cut."""

from __future__ import annotations

from collections.abc import Callable

from bot.text.segments import BreakLevel, break_levels, reach

__all__ = ["ELLIPSIS", "shorten"]

ELLIPSIS = "…"


def shorten(text: str, limit: int, measure: Callable[[str], int] = len, *, at_breaks: bool = False) -> str:
    """``text`` itself when ``measure(text) <= limit``, else a prefix of it and an ellipsis.

    ``measure`` gives the cost of any string (each code point is charged with it on its own, so it
    must not charge a character less alone than inside a string). The prefix ends at a grapheme
    cluster boundary: the farthest one that fits, or with ``at_breaks`` the latest cut of the best
    kind that fits (paragraph, else sentence, word, grapheme), which reads better in a sentence but
    may keep less. Whitespace clusters before the ellipsis are dropped. With ``at_breaks`` a first
    cluster too big for the budget is kept whole (the text is never emptied); otherwise it goes.
    ``limit`` is assumed to leave room for the ellipsis itself.
    """
    if measure(text) <= limit:
        return text
    budget = limit - measure(ELLIPSIS)
    levels = break_levels(text)
    used = 0

    def take(position: int) -> bool:
        nonlocal used
        cost = measure(text[position])
        if used + cost > budget:
            return False
        used += cost
        return True

    found = reach(levels, 0, len(text), take, lambda: None)
    cuts = [cut[0] for cut in found.cuts if cut is not None]
    if not at_breaks:
        keep = max(cuts, default=0)
    elif cuts:
        keep = cuts[0]
    else:
        keep = next(position for position in range(1, len(text) + 1) if levels[position] < BreakLevel.NONE)
    return _without_trailing_space(text, keep, levels) + ELLIPSIS


def _without_trailing_space(text: str, keep: int, levels: bytearray) -> str:
    """``text[:keep]`` less the whole clusters of whitespace at its end."""
    end = keep
    while end:
        start = end - 1
        while start and levels[start] == BreakLevel.NONE:
            start -= 1
        if not text[start:end].isspace():
            break
        end = start
    return text[:end]
