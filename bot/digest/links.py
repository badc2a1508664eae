"""Links in inline text: autolinks, and where a `(destination "title")` after a `]` ends, without rescans."""

from __future__ import annotations

import re

from bot.digest.chars import ASCII_PUNCTUATION

__all__ = ["MAX_DESTINATION_PARENS", "Destinations", "match_autolink"]

# Unescaped parentheses a link destination may nest, as the CommonMark reference implementations
# allow; beyond it `[a](` repeated would make every bracket scan the rest of the text.
MAX_DESTINATION_PARENS = 32

_AUTOLINK = re.compile(r"<((?:https?|ftps?|mailto):[^\s<>]+)>", re.IGNORECASE)
_EMAIL_AUTOLINK = re.compile(
    r"<([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)>"
)
# A parenthesis with the backslashes right before it; the lookbehind makes a match start only where a
# backslash run starts, and the possessive run never backtracks, so the search is linear.
_PAREN = re.compile(r"(?<!\\)\\*+[()]")
# Only ASCII whitespace and control characters end a bare destination (a no-break space does not).
_DESTINATION_STOP = re.compile(r"[\x00-\x20\x7f]")
_POINTY_DESTINATION = re.compile(r"<((?:\\[!-/:-@\[-`{-~]|[^<>\n])*+)>")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_SPACES = re.compile(r"[ \t]*(?:\n[ \t]*)?")
_TITLES = {
    '"': re.compile(r'"(?:\\.|[^"\\])*+"', re.DOTALL),
    "'": re.compile(r"'(?:\\.|[^'\\])*+'", re.DOTALL),
    "(": re.compile(r"\((?:\\.|[^()\\])*+\)", re.DOTALL),
}


def match_autolink(source: str, at: int) -> tuple[str, str, int] | None:
    """`<https://…>` or `<name@host>` at `at`: (the text shown, the URL, the index after `>`), or None."""
    match = _AUTOLINK.match(source, at)
    if match:
        return match.group(1), match.group(1), match.end()
    match = _EMAIL_AUTOLINK.match(source, at)
    if match:
        return match.group(1), "mailto:" + match.group(1), match.end()
    return None


class Destinations:
    """The link destinations of one text, asked for at each `](` in increasing order.

    `steps` counts the characters passed over, so that tests can check the work stays linear.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.steps = 0
        self._bare_ends: dict[int, int] | None = None

    def parse(self, opening: int) -> tuple[str, int] | None:
        """`(destination "title")` at `opening`: the URL and the index after `)`, or None."""
        source = self.source
        if source[opening + 1:opening + 2] not in (" ", "\t", "\n", "<", ""):
            # The usual case, a bare destination right after the parenthesis: looked up, not scanned.
            if self._bare_ends is None:
                self._bare_ends = _bare_destination_ends(source)
            end = self._bare_ends.get(opening, -1)
            if end < 0:
                return None
            return self._bare_url(opening + 1, end)
        start = _SPACES.match(source, opening + 1).end()  # type: ignore[union-attr]
        if source.startswith("<", start):
            pointy = _POINTY_DESTINATION.match(source, start)
            if pointy is None:
                return None
            url = _ESCAPED.sub(r"\1", pointy.group(1)).replace(" ", "%20")
            end = pointy.end()
            self.steps += end - start
            return self._title_and_close(url, end)
        # After spaces the destination is the rest of a run of its own: no other destination starts
        # inside it, so scanning it is no rescan.
        end = _scan_destination(source, start)
        return None if end < 0 else self._bare_url(start, end)

    def _bare_url(self, start: int, end: int) -> tuple[str, int] | None:
        url = self.source[start:end]
        if "\\" in url:
            url = _ESCAPED.sub(r"\1", url)
        self.steps += end - start
        return self._title_and_close(url, end)

    def _title_and_close(self, url: str, after_url: int) -> tuple[str, int] | None:
        source = self.source
        index = _SPACES.match(source, after_url).end()  # type: ignore[union-attr]
        title = _TITLES.get(source[index:index + 1]) if index > after_url else None
        if title is not None:
            match = title.match(source, index)
            if match is None:
                return None
            self.steps += match.end() - index
            index = _SPACES.match(source, match.end()).end()  # type: ignore[union-attr]
        if not source.startswith(")", index):
            return None
        return url, index + 1


def _bare_destination_ends(source: str) -> dict[int, int]:
    """For every unescaped `](`, where a bare destination starting right after the `(` ends: at
    the `)` that closes it, or at the first space or control character; absent when its parentheses
    do not balance there or nest deeper than MAX_DESTINATION_PARENS. One pass over the whole text,
    so no link attempt ever scans the text itself."""
    ends: dict[int, int] = {}
    # The `(` still open within the current run of characters without a stop; one that has had
    # too many opened inside it is kept as -1, a place holder that never gets an end.
    open_parens: list[int] = []
    stop = -1   # the first stop after `last`, once looked for
    last = -1

    def end_at(opening: int, end: int) -> None:
        if opening >= 0 and source[opening - 1:opening] == "]":
            ends[opening] = end

    for match in _PAREN.finditer(source):
        at = match.end() - 1
        if (at - match.start()) % 2:
            continue   # escaped
        if open_parens:
            if stop <= last:
                found = _DESTINATION_STOP.search(source, last + 1)
                stop = found.start() if found else len(source)
            if stop < at:
                # The stop ended every destination still open; only the innermost balances there.
                end_at(open_parens[-1], stop)
                open_parens.clear()
        last = at
        if source[at] == "(":
            open_parens.append(at)
            if len(open_parens) > MAX_DESTINATION_PARENS + 1:
                open_parens[-MAX_DESTINATION_PARENS - 2] = -1
        elif open_parens:
            end_at(open_parens.pop(), at)
    if open_parens:
        found = _DESTINATION_STOP.search(source, last + 1)
        end_at(open_parens[-1], found.start() if found else len(source))
    return ends


def _scan_destination(source: str, start: int) -> int:
    """End of a bare destination starting at `start` (the `)` or the stop after it), or -1."""
    depth = 0
    index = start
    while index < len(source):
        char = source[index]
        if char == "\\" and source[index + 1:index + 2] in ASCII_PUNCTUATION:
            index += 2
            continue
        if char <= " " or char == "\x7f":
            break
        if char == "(":
            depth += 1
            if depth > MAX_DESTINATION_PARENS:
                return -1
        elif char == ")":
            if not depth:
                break
            depth -= 1
        index += 1
    return -1 if depth else index
