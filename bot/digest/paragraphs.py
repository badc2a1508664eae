"""Paragraph text → model paragraphs: soft line breaks (none between CJK characters), headings, list lines, quotes."""

from __future__ import annotations

import re

from bot.digest.blocks import Line, heading_text, is_rule_text
from bot.digest.inline import parse_inline
from bot.digest.model import Bold, Inline, Italic, Link, Paragraph, Text, plain_text
from bot.text.scripts import joins_lines

__all__ = ["paragraph_of", "paragraphs_of", "resolve_soft_breaks"]

_NEWLINE = re.compile("\n")
_BULLET = re.compile(r"[-*+][ \t]+(.*)")
_ORDERED = re.compile(r"(\d{1,9})([.)])[ \t]+(.*)")
_QUOTE_MARKS = re.compile(r"(?:>\s*)*+")


def resolve_soft_breaks(nodes: Paragraph) -> Paragraph:
    """A line break inside a paragraph becomes a space, or nothing between two CJK characters."""
    flat = plain_text(nodes)
    if "\n" not in flat:
        return nodes
    joiners = iter([
        "" if joins_lines(flat[pos - 1] if pos else "")
        and joins_lines(flat[pos + 1] if pos + 1 < len(flat) else "") else " "
        for pos in (match.start() for match in _NEWLINE.finditer(flat))
    ])

    def rebuild(children: tuple[Inline, ...]) -> tuple[Inline, ...]:
        out: list[Inline] = []
        for node in children:
            if isinstance(node, Text):
                if "\n" in node.text:
                    head, *rest = node.text.split("\n")
                    node = Text(head + "".join(next(joiners) + part for part in rest))
                out.append(node)
            elif isinstance(node, Bold):
                out.append(Bold(rebuild(node.children)))
            elif isinstance(node, Italic):
                out.append(Italic(rebuild(node.children)))
            elif isinstance(node, Link):
                out.append(Link(node.url, rebuild(node.children)))
            else:
                out.append(node)
        return tuple(out)

    return rebuild(nodes)


def paragraph_of(source: str, prefix: str = "") -> Paragraph:
    nodes = parse_inline(source)
    if "\n" in source:
        nodes = resolve_soft_breaks(nodes)
    if not prefix:
        return nodes
    if nodes and isinstance(nodes[0], Text):
        return (Text(prefix + nodes[0].text), *nodes[1:])
    return (Text(prefix), *nodes)



def paragraphs_of(lines: list[Line]) -> tuple[Paragraph, ...]:
    """Paragraph text into model paragraphs: headings stand alone (bold), each list line is its own
    paragraph ("• " or its number in front), quotes lose their `>`, rules and comments vanish."""
    paragraphs: list[Paragraph] = []
    current: list[str] = []
    prefix = ""

    def flush() -> None:
        nonlocal prefix
        if current:
            paragraphs.append(paragraph_of("\n".join(current), prefix))
        current.clear()
        prefix = ""

    for line in lines:
        text = line.text.strip()
        if line.comment or not text or is_rule_text(text):
            flush()
            if line.after_comment:
                paragraphs.append(paragraph_of(line.after_comment))
            continue
        heading = heading_text(text)
        if heading is not None:
            flush()
            if heading:
                paragraphs.append((Bold(paragraph_of(heading)),))
            continue
        text = text[_QUOTE_MARKS.match(text).end():]  # type: ignore[union-attr]
        if not text:
            flush()
            continue
        bullet = _BULLET.fullmatch(text)
        ordered = _ORDERED.fullmatch(text)
        if bullet:
            flush()
            prefix = "• "
            current.append(bullet.group(1))
        elif ordered:
            flush()
            prefix = f"{ordered.group(1)}{ordered.group(2)} "
            current.append(ordered.group(3))
        else:
            current.append(text)
    flush()
    return tuple(paragraphs)
