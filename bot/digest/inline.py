"""Inline Markdown → model nodes, in one left-to-right pass whose work grows linearly with the text."""

from __future__ import annotations

import re

from bot.digest.chars import ASCII_PUNCTUATION
from bot.digest.emphasis import GROUP, LINK, MAX_EMPHASIS_DEPTH, Delimiter, Node, Pairing, Piece, finish, flanking
from bot.digest.links import Destinations, match_autolink
from bot.digest.model import Code, Paragraph

# The depth bound belongs to emphasis pairing; it is named here too, so that both bounds on what
# parse_inline builds can be found where it is.
__all__ = ["MAX_EMPHASIS_DEPTH", "MAX_EMPHASIS_RUNS", "parse_inline"]

# Emphasis runs one paragraph may pair; beyond them `*` and `_` are text. A real paragraph has a
# handful and no platform shows thousands of styled spans in one message, while `***a` repeated would
# otherwise build five objects for every eight characters.
MAX_EMPHASIS_RUNS = 2_000

# Where ordinary text stops: escapes, code spans, brackets, emphasis runs, and a `<` that may begin a
# comment or an autolink. An `_` between two letters or digits can neither open nor close emphasis
# (snake_case), and `<` before a space or another `<` begins nothing, so neither is looked at.
# Every alternative starts with its character, so the engine skips ordinary text by a character set.
_SPECIAL = re.compile(r"[\\`\[\]]|\*++|<(?=[!A-Za-z0-9.#$%&'*+/=?^_`{|}~-])|_(?:(?<![^\W_]_)|(?![^\W_]))")
_BACKTICKS = re.compile(r"`+")
_UNDERSCORES = re.compile(r"_+")

# An open "[": (its index in the source, its index in the pieces, how many delimiter runs came
# before it, and how many of those could open emphasis with `*` and with `_`).
_Bracket = tuple[int, int, int, int, int]


def parse_inline(source: str) -> Paragraph:
    """Inline Markdown → model nodes: emphasis, code spans, links and autolinks, backslash escapes.

    Soft line breaks ("\\n") are kept as they are; paragraph building decides what they become.
    HTML entities and raw HTML are not interpreted: they are text a reader sees as written; HTML
    comments are invisible. A link inside another link's text keeps only its text.
    """
    return _InlineParser(source).parse()


def _counted_parse(source: str) -> tuple[Paragraph, int]:
    """The nodes and the parser's step count: characters passed over plus loop rounds (for tests)."""
    parser = _InlineParser(source)
    nodes = parser.parse()
    return nodes, parser.steps


class _InlineParser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.steps = 0
        self.pieces: list[Piece] = []
        self.runs = 0                       # delimiter runs in pieces that may still pair up
        self.runs_made = 0                  # every run made so far, against MAX_EMPHASIS_RUNS
        self.brackets: list[_Bracket] = []  # "[" not yet closed
        self.star_openers = 0               # of those runs, how many can open, per character
        self.underscore_openers = 0
        self._backtick_runs: dict[int, list[int]] | None = None
        self._backtick_cursor: dict[int, int] = {}
        self._comment_searched_from = -1
        self._comment_close = -1
        self.destinations = Destinations(source)

    def parse(self) -> Paragraph:
        source = self.source
        length = len(source)
        pieces = self.pieces
        search = _SPECIAL.search
        position = text_from = steps = 0   # the search goes on from position; text starts at text_from
        while position < length:
            found = search(source, position)
            if found is None:
                steps += length - position
                break
            at = found.start()
            if at > text_from:
                pieces.append(source[text_from:at])
            steps += at - position + 1
            char = source[at]
            if char == "*":
                position = self._delimiter_run(at, found.end(), char)
            elif char == "[":
                self.brackets.append((at, len(pieces), self.runs, self.star_openers, self.underscore_openers))
                pieces.append("[")
                position = at + 1
            elif char == "]":
                position = self._close_bracket(at)
                if position == at + 1:
                    text_from = at   # a `]` that closes no link is text, joined to what follows
                    continue
            elif char == "\\":
                position = self._escape(at)
            elif char == "`":
                position = self._code_span(at)
            elif char == "<":
                position = self._angle(at)
            else:
                position = self._delimiter_run(at, _UNDERSCORES.match(source, at).end(), char)  # type: ignore[union-attr]
            text_from = position
        if text_from < length:
            pieces.append(source[text_from:])
        self.steps += steps + self.destinations.steps
        return finish(self._pair(pieces)[0] if self.runs else pieces)

    # -- atoms -----------------------------------------------------------------------------------

    def _escape(self, at: int) -> int:
        following = self.source[at + 1:at + 2]
        if following and following in ASCII_PUNCTUATION:
            self.pieces.append(following)
            return at + 2
        if following == "\n":
            # A hard line break; the model has none inside a paragraph, so it is a soft one.
            self.pieces.append("\n")
            return at + 2
        self.pieces.append("\\")
        return at + 1

    def _code_span(self, at: int) -> int:
        source = self.source
        end = _BACKTICKS.match(source, at).end()  # type: ignore[union-attr]
        run = end - at
        close = self._closing_backticks(run, end)
        if close < 0:
            self.pieces.append(source[at:end])
            return end
        content = source[end:close].replace("\n", " ")
        if len(content) >= 2 and content[0] == " " and content[-1] == " " and content.strip(" "):
            content = content[1:-1]
        self.pieces.append(Code(content))
        self.steps += close - end
        return close + run

    def _closing_backticks(self, run: int, after: int) -> int:
        """Start of the first run of exactly `run` backticks at or after `after`, or -1.

        Every run is found once, by length; the pass asks in increasing positions, so each length
        keeps a cursor that only moves forward and no run is ever looked at twice.
        """
        if self._backtick_runs is None:
            self._backtick_runs = {}
            for match in _BACKTICKS.finditer(self.source):
                self._backtick_runs.setdefault(match.end() - match.start(), []).append(match.start())
        starts = self._backtick_runs.get(run)
        if not starts:
            return -1
        cursor = self._backtick_cursor.get(run, 0)
        while cursor < len(starts) and starts[cursor] < after:
            cursor += 1
            self.steps += 1
        self._backtick_cursor[run] = cursor
        return starts[cursor] if cursor < len(starts) else -1

    def _angle(self, at: int) -> int:
        source = self.source
        if source.startswith("<!--", at):
            end = self._comment_end(at)
            if end >= 0:
                # Comments are invisible in every Markdown viewer, so they are invisible here.
                return end
        autolink = match_autolink(source, at)
        if autolink is not None:
            text, url, end = autolink
            self.pieces.append(Node(LINK, [text], 0, url))
            return end
        self.pieces.append("<")
        return at + 1

    def _comment_end(self, at: int) -> int:
        """The index after the comment opening at `at`, or -1 when no `-->` ever closes it."""
        source = self.source
        # CommonMark 0.31: `<!-->` and `<!--->` are complete (empty) comments.
        if source.startswith("<!-->", at):
            return at + 5
        if source.startswith("<!--->", at):
            return at + 6
        start = at + 4
        if self._comment_close >= start:
            return self._comment_close + 3
        if self._comment_close < 0 <= self._comment_searched_from <= start:
            return -1   # an earlier search found no `-->` anywhere after this point
        close = source.find("-->", start)
        self.steps += (close if close >= 0 else len(source)) - start
        self._comment_searched_from = start
        self._comment_close = close
        return close + 3 if close >= 0 else -1

    # -- emphasis ----------------------------------------------------------------------------

    def _delimiter_run(self, at: int, end: int, char: str) -> int:
        source = self.source
        if self.runs_made >= MAX_EMPHASIS_RUNS:
            self.pieces.append(source[at:end])
            return end
        star = char == "*"
        can_open, can_close = flanking(char, source[at - 1:at], source[end:end + 1])
        if not can_open and (not can_close or not (self.star_openers if star else self.underscore_openers)):
            # Nothing before it could pair with it (counting runs before unclosed brackets too, which
            # it may yet pair with): it is text, and stays out of the pairing, so that `a* a* a*`
            # costs nothing.
            self.pieces.append(source[at:end])
            return end
        if can_open:
            if star:
                self.star_openers += 1
            else:
                self.underscore_openers += 1
        self.runs += 1
        self.runs_made += 1
        self.pieces.append(Delimiter(char, end - at, end - at, can_open, can_close, at, end))
        return end

    def _pair(self, pieces: list[Piece]) -> tuple[list[Piece], int]:
        """Emphasis paired over pieces (a link's text, or at the end the paragraph): the new pieces
        and how deeply emphasis nests in them."""
        pairing = Pairing()
        for piece in pieces:
            if isinstance(piece, Delimiter):
                pairing.take(piece)
            else:
                pairing.out.append(piece)
                pairing.levels.append(piece.level if isinstance(piece, Node) else 0)
        self.steps += pairing.steps
        return pairing.out, max(pairing.levels, default=0)

    # -- links -----------------------------------------------------------------------------------

    def _close_bracket(self, at: int) -> int:
        """Makes the link that the `]` at `at` closes and returns the index after it; returns at + 1
        (leaving the `]` to be text) when it closes none."""
        if not self.brackets:
            return at + 1
        bracket = self.brackets.pop()
        parsed = self.destinations.parse(at + 1) if self.source.startswith("(", at + 1) else None
        if parsed is None:
            return at + 1
        url, end = parsed
        position, first_piece, first_run, self.star_openers, self.underscore_openers = bracket
        text = self.pieces[first_piece + 1:]
        del self.pieces[first_piece:]
        for piece in text:
            # Link text cannot hold another link (as in CommonMark): an inner one keeps its text.
            if isinstance(piece, Node) and piece.kind == LINK:
                piece.kind = GROUP
        if self.runs > first_run:
            self._isolate_link_text(text, position, at)
            text, level = self._pair(text)
            self.runs = first_run
        else:
            level = max((piece.level for piece in text if isinstance(piece, Node)), default=0)
        # An empty destination leaves only the text.
        self.pieces.append(Node(LINK if url else GROUP, text, level, url))
        return end

    def _isolate_link_text(self, text: list[Piece], opening: int, closing: int) -> None:
        """Emphasis in link text pairs as if the text stood alone: a run at its very start or end
        has nothing beside it there, rather than the bracket."""
        source = self.source
        for run in text[:1] + text[-1:]:
            if isinstance(run, Delimiter) and (run.start == opening + 1 or run.end == closing):
                before = source[run.start - 1] if run.start > opening + 1 else ""
                after = source[run.end] if run.end < closing else ""
                run.can_open, run.can_close = flanking(run.char, before, after)
