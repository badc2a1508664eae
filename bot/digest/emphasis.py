"""Emphasis over an inline pass's pieces (CommonMark's flanking rules and pairing), and pieces → model nodes."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

from bot.digest.chars import ASCII_PUNCTUATION
from bot.digest.model import Bold, Code, Inline, Italic, Link, Text
from bot.text.scripts import is_cjk_letter

__all__ = ["GROUP", "LINK", "MAX_EMPHASIS_DEPTH", "Delimiter", "Node", "Pairing", "Piece", "finish", "flanking"]

# Deeper emphasis than any writer uses is kept flat, so that no input can exhaust the recursion of
# the code that walks the model (here and in every renderer).
MAX_EMPHASIS_DEPTH = 12

GROUP, LINK = range(2)


@dataclass(slots=True)
class Delimiter:
    """A run of `*` or `_` that may open or close emphasis (CommonMark's delimiter run)."""

    char: str
    count: int
    original: int
    can_open: bool
    can_close: bool
    start: int          # where the run is in the source
    end: int


@dataclass(slots=True)
class Node:
    """A link, or a group (text kept without its markup), while the pass is still running.

    Links become model nodes only at the end, so that one that later turns out to sit inside another
    link's text is dropped to its text by changing its kind, never by copying what it holds.
    """

    kind: int
    children: list[Piece]
    level: int          # how deeply emphasis nests inside
    url: str = ""


Piece = str | Code | Bold | Italic | Delimiter | Node


class Pairing:
    """CommonMark's "process emphasis", fed the pieces of a paragraph or a link's text in order.

    Closers are taken left to right, so the runs that may still open always form a stack and
    everything after an opener in the output so far lies between it and the closer: a match takes
    the output's tail as the node's children, and nothing is ever spliced. The search for an opener
    stops where an earlier failed search for the same kind of closer stopped (CommonMark's
    openers_bottom), so no run is passed over more than a dozen times.
    """

    def __init__(self) -> None:
        self.out: list[Piece] = []
        self.levels: list[int] = []          # how deeply emphasis nests in each piece of out
        self.openers: list[Delimiter] = []   # the runs in out that may still open, in order
        self.opener_at: list[int] = []       # and where each one is in out
        # Per kind of closer (character, can it open, length % 3): the source position of the
        # opener a failed search started from; nothing at or below it can pair with that kind.
        self.floors = [-1] * 12
        self.steps = 0

    def take(self, closer: Delimiter) -> None:
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

    def wrap(self, index: int, closer: Delimiter) -> None:
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
            made = (Bold if used == 2 else Italic)(finish(children) if made is None else (made,))
            level += 1
        node: Bold | Italic | Node
        if opener.count and closer.count:
            # As deep as emphasis goes: the rest of the two runs pairs up, unstyled.
            used = min(opener.count, closer.count)
            opener.count -= used
            closer.count -= used
            node = Node(GROUP, children if made is None else [made], level)
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


def _is_whitespace(char: str) -> bool:
    return not char or char.isspace()


def _is_punctuation(char: str) -> bool:
    if not char:
        return False
    if char in ASCII_PUNCTUATION:
        return True
    return char > "\x7f" and unicodedata.category(char)[0] in "PS"


@functools.lru_cache(maxsize=4096)
def flanking(char: str, before: str, after: str) -> tuple[bool, bool]:
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


def finish(pieces: list[Piece]) -> tuple[Inline, ...]:
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
            elif isinstance(piece, Delimiter):
                pending.append(piece.char * piece.count)
            elif isinstance(piece, Node) and piece.kind == GROUP:
                stack.append(iter(piece.children))
                break
            else:
                if pending:
                    text = "".join(pending)
                    if text:
                        out.append(Text(text))
                    pending.clear()
                # A link's text holds no link, so this recursion is one level deep.
                out.append(Link(piece.url, finish(piece.children)) if isinstance(piece, Node) else piece)
        else:
            stack.pop()
    text = "".join(pending)
    if text:
        out.append(Text(text))
    return tuple(out)
