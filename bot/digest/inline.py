"""Inline Markdown → model nodes, in one left-to-right pass whose work grows linearly with the text."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from bot.digest.model import Bold, Code, Inline, Italic, Link, Paragraph, Text

__all__ = ["ASCII_PUNCTUATION", "is_cjk_letter", "parse_inline"]

ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

# Deeper emphasis than any writer uses is kept flat, so that no input can exhaust the recursion of
# the code that walks the model (here and in every renderer).
MAX_EMPHASIS_DEPTH = 12
# Emphasis runs one paragraph may pair; beyond them `*` and `_` are text. A real paragraph has a
# handful and no platform shows thousands of styled spans in one message, while `***a` repeated would
# otherwise build five objects for every eight characters.
MAX_EMPHASIS_RUNS = 2_000
# Unescaped parentheses a link destination may nest, as the CommonMark reference implementations
# allow; beyond it `[a](` repeated would make every bracket scan the rest of the text.
MAX_DESTINATION_PARENS = 32


def is_cjk_letter(char: str) -> bool:
    """Han, kana and Hangul: scripts whose words are not separated by spaces (or, for Hangul, whose
    text sits directly against emphasis markers)."""
    if not char:
        return False
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF        # CJK unified ideographs
        or 0x3400 <= code <= 0x4DBF     # extension A
        or 0x20000 <= code <= 0x3FFFF   # extensions B and later
        or 0xF900 <= code <= 0xFAFF     # compatibility ideographs
        or 0x3040 <= code <= 0x30FF     # hiragana, katakana
        or 0x31F0 <= code <= 0x31FF     # katakana extensions
        or 0x3100 <= code <= 0x312F     # bopomofo
        or 0xAC00 <= code <= 0xD7AF     # Hangul syllables
    )


def _is_whitespace(char: str) -> bool:
    return not char or char.isspace()


def _is_punctuation(char: str) -> bool:
    if not char:
        return False
    if char in ASCII_PUNCTUATION:
        return True
    return char > "\x7f" and unicodedata.category(char)[0] in "PS"


# Where ordinary text stops: escapes, code spans, brackets, emphasis runs, and a `<` that may begin a
# comment or an autolink. An `_` between two letters or digits can neither open nor close emphasis
# (snake_case), and `<` before a space or another `<` begins nothing, so neither is looked at.
# Every alternative starts with its character, so the engine skips ordinary text by a character set.
_SPECIAL = re.compile(r"[\\`\[\]]|\*++|<(?=[!A-Za-z0-9.#$%&'*+/=?^_`{|}~-])|_(?:(?<![^\W_]_)|(?![^\W_]))")
_BACKTICKS = re.compile(r"`+")
_UNDERSCORES = re.compile(r"_+")
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

_GROUP, _LINK = range(2)


@dataclass(slots=True)
class _Delimiter:
    """A run of `*` or `_` that may open or close emphasis (CommonMark's delimiter run)."""

    char: str
    count: int
    original: int
    can_open: bool
    can_close: bool
    start: int          # where the run is in the source
    end: int


@dataclass(slots=True)
class _Node:
    """A link, or a group (text kept without its markup), while the pass is still running.

    Links become model nodes only at the end, so that one that later turns out to sit inside another
    link's text is dropped to its text by changing its kind, never by copying what it holds.
    """

    kind: int
    children: list[_Piece]
    level: int          # how deeply emphasis nests inside
    url: str = ""


_Piece = str | Code | Bold | Italic | _Delimiter | _Node
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
        self.pieces: list[_Piece] = []
        self.runs = 0                       # delimiter runs in pieces that may still pair up
        self.runs_made = 0                  # every run made so far, against MAX_EMPHASIS_RUNS
        self.brackets: list[_Bracket] = []  # "[" not yet closed
        self.star_openers = 0               # of those runs, how many can open, per character
        self.underscore_openers = 0
        self._backtick_runs: dict[int, list[int]] | None = None
        self._backtick_cursor: dict[int, int] = {}
        self._comment_searched_from = -1
        self._comment_close = -1
        self._bare_ends: dict[int, int] | None = None

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
        self.steps += steps
        return _finish(self._pair(pieces)[0] if self.runs else pieces)

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
        match = _AUTOLINK.match(source, at)
        if match:
            self.pieces.append(_Node(_LINK, [match.group(1)], 0, match.group(1)))
            return match.end()
        match = _EMAIL_AUTOLINK.match(source, at)
        if match:
            self.pieces.append(_Node(_LINK, [match.group(1)], 0, "mailto:" + match.group(1)))
            return match.end()
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
        can_open, can_close = _flanking(char, source[at - 1:at], source[end:end + 1])
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
        self.pieces.append(_Delimiter(char, end - at, end - at, can_open, can_close, at, end))
        return end

    def _pair(self, pieces: list[_Piece]) -> tuple[list[_Piece], int]:
        """Emphasis paired over pieces (a link's text, or at the end the paragraph): the new pieces
        and how deeply emphasis nests in them."""
        pairing = _Pairing()
        for piece in pieces:
            if isinstance(piece, _Delimiter):
                pairing.take(piece)
            else:
                pairing.out.append(piece)
                pairing.levels.append(piece.level if isinstance(piece, _Node) else 0)
        self.steps += pairing.steps
        return pairing.out, max(pairing.levels, default=0)

    # -- links -----------------------------------------------------------------------------------

    def _close_bracket(self, at: int) -> int:
        """Makes the link that the `]` at `at` closes and returns the index after it; returns at + 1
        (leaving the `]` to be text) when it closes none."""
        if not self.brackets:
            return at + 1
        bracket = self.brackets.pop()
        parsed = self._destination(at + 1) if self.source.startswith("(", at + 1) else None
        if parsed is None:
            return at + 1
        url, end = parsed
        position, first_piece, first_run, self.star_openers, self.underscore_openers = bracket
        text = self.pieces[first_piece + 1:]
        del self.pieces[first_piece:]
        for piece in text:
            # Link text cannot hold another link (as in CommonMark): an inner one keeps its text.
            if isinstance(piece, _Node) and piece.kind == _LINK:
                piece.kind = _GROUP
        if self.runs > first_run:
            self._isolate_link_text(text, position, at)
            text, level = self._pair(text)
            self.runs = first_run
        else:
            level = max((piece.level for piece in text if isinstance(piece, _Node)), default=0)
        # An empty destination leaves only the text.
        self.pieces.append(_Node(_LINK if url else _GROUP, text, level, url))
        return end

    def _isolate_link_text(self, text: list[_Piece], opening: int, closing: int) -> None:
        """Emphasis in link text pairs as if the text stood alone: a run at its very start or end
        has nothing beside it there, rather than the bracket."""
        source = self.source
        for run in text[:1] + text[-1:]:
            if isinstance(run, _Delimiter) and (run.start == opening + 1 or run.end == closing):
                before = source[run.start - 1] if run.start > opening + 1 else ""
                after = source[run.end] if run.end < closing else ""
                run.can_open, run.can_close = _flanking(run.char, before, after)

    def _destination(self, opening: int) -> tuple[str, int] | None:
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


class _Pairing:
    """CommonMark's "process emphasis", fed the pieces of a paragraph or a link's text in order.

    Closers are taken left to right, so the runs that may still open always form a stack and
    everything after an opener in the output so far lies between it and the closer: a match takes
    the output's tail as the node's children, and nothing is ever spliced. The search for an opener
    stops where an earlier failed search for the same kind of closer stopped (CommonMark's
    openers_bottom), so no run is passed over more than a dozen times.
    """

    def __init__(self) -> None:
        self.out: list[_Piece] = []
        self.levels: list[int] = []          # how deeply emphasis nests in each piece of out
        self.openers: list[_Delimiter] = []  # the runs in out that may still open, in order
        self.opener_at: list[int] = []       # and where each one is in out
        # Per kind of closer (character, can it open, length % 3): the source position of the
        # opener a failed search started from; nothing at or below it can pair with that kind.
        self.floors = [-1] * 12
        self.steps = 0

    def take(self, closer: _Delimiter) -> None:
        if closer.can_close:
            openers, floors = self.openers, self.floors
            char, both, length = closer.char, closer.can_open, closer.original
            kind = (6 if char == "*" else 0) + (3 if both else 0) + length % 3
            while closer.count:
                index = len(openers) - 1
                while index >= 0:
                    opener = openers[index]
                    if opener.start <= floors[kind]:
                        index = -1
                        break
                    self.steps += 1
                    # The "rule of 3": `*foo**bar*` must not pair the single with the double run.
                    if opener.char == char and opener.can_open and (
                            not (opener.can_close or both) or (opener.original + length) % 3
                            or (opener.original % 3 == 0 and length % 3 == 0)):
                        break
                    index -= 1
                if index < 0:
                    floors[kind] = openers[-1].start if openers else -1
                    break
                self.wrap(index, closer)
        if closer.count:
            if closer.can_open:
                self.openers.append(closer)
                self.opener_at.append(len(self.out))
            self.out.append(closer)
            self.levels.append(0)

    def wrap(self, index: int, closer: _Delimiter) -> None:
        """Makes the emphasis between openers[index] and the closer."""
        out, levels, openers, opener_at = self.out, self.levels, self.openers, self.opener_at
        opener, at = openers[index], opener_at[index]
        children = out[at + 1:]
        level = max(levels[at + 1:], default=0)
        del out[at + 1:], levels[at + 1:]
        if index + 1 < len(openers):
            del openers[index + 1:], opener_at[index + 1:]   # runs between the two are text now
        self.steps += len(children)
        # `***a***`: once the inner node is made the same two runs pair again at once (nothing is
        # left between them), so both nodes are made here.
        made: Bold | Italic | None = None
        while opener.count and closer.count and level < MAX_EMPHASIS_DEPTH:
            used = 2 if opener.count >= 2 and closer.count >= 2 else 1
            opener.count -= used
            closer.count -= used
            made = (Bold if used == 2 else Italic)(_finish(children) if made is None else (made,))
            level += 1
        node: Bold | Italic | _Node
        if opener.count and closer.count:
            # As deep as emphasis goes: the rest of the two runs pairs up, unstyled.
            used = min(opener.count, closer.count)
            opener.count -= used
            closer.count -= used
            node = _Node(_GROUP, children if made is None else [made], level)
        else:
            assert made is not None
            node = made
        if opener.count:
            out.append(node)
            levels.append(level)
        else:
            out[at] = node   # in the opener's place: it is used up
            levels[at] = level
            openers.pop()
            opener_at.pop()


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


@functools.lru_cache(maxsize=4096)
def _flanking(char: str, before: str, after: str) -> tuple[bool, bool]:
    """(can open, can close) by CommonMark's flanking rules, relaxed next to Han/kana/Hangul letters
    so that `**“强调”**的` works the way Chinese writers expect (the rule the CJK-friendly Markdown
    extensions use)."""
    space_before, space_after = _is_whitespace(before), _is_whitespace(after)
    mark_before, mark_after = _is_punctuation(before), _is_punctuation(after)
    left = not space_after and (not mark_after or space_before or mark_before or is_cjk_letter(before))
    right = not space_before and (not mark_before or space_after or mark_after or is_cjk_letter(after))
    if char == "*":
        return left, right
    # `_` inside a word (snake_case) neither opens nor closes.
    return left and (not right or mark_before), right and (not left or mark_after)


def _finish(pieces: list[_Piece]) -> tuple[Inline, ...]:
    """Model nodes from pieces: groups dissolved, neighbouring text joined, runs left as text."""
    if len(pieces) == 1:
        only = pieces[0]
        if isinstance(only, str):
            return (Text(only),) if only else ()
        if isinstance(only, Bold | Italic | Code):
            return (only,)
    out: list[Inline] = []
    pending: list[str] = []
    # Groups may nest as deep as links did, so they are walked with a stack, not recursion.
    stack = [iter(pieces)]
    while stack:
        for piece in stack[-1]:
            if isinstance(piece, str):
                pending.append(piece)
            elif isinstance(piece, _Delimiter):
                pending.append(piece.char * piece.count)
            elif isinstance(piece, _Node) and piece.kind == _GROUP:
                stack.append(iter(piece.children))
                break
            else:
                if pending:
                    text = "".join(pending)
                    if text:
                        out.append(Text(text))
                    pending.clear()
                # A link's text holds no link, so this recursion is one level deep.
                out.append(Link(piece.url, _finish(piece.children)) if isinstance(piece, _Node) else piece)
        else:
            stack.pop()
    text = "".join(pending)
    if text:
        out.append(Text(text))
    return tuple(out)
