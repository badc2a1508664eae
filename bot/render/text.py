"""Plain-text rendering for terminals and logs: one payload {"text": ...} per digest, no markup."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.digest.model import Bold, Code, Digest, Inline, Italic, Item, Link, Paragraph, Text
from bot.render import Payload, links, payloads_without_surrogates, without_surrogates

__all__ = ["render_digest", "render_items", "render_notice"]

INDENT = "   "

# Control characters (ESC above all) would let a digest drive the reader's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _clean(text: str) -> str:
    # Surrogates go before anything is measured or joined; the payloads are checked once more.
    return without_surrogates(_CONTROL.sub("", text))


def _inline(nodes: Sequence[Inline]) -> str:
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, Text | Code):
            parts.append(node.text)
        elif isinstance(node, Bold | Italic):
            parts.append(_inline(node.children))
        elif isinstance(node, Link):
            # A terminal cannot hide a URL behind its label: every link reads as text, the way
            # the other renderers show a URL that cannot be a link.
            parts.append(links.as_text(_inline(node.children), node.url))
    return "".join(parts)


def paragraph_text(paragraph: Paragraph) -> str:
    """A paragraph as a reader should see it in plain text: markup gone, link targets kept."""
    return _clean(_inline(paragraph))


_LIST_LINE = re.compile(r"(?:• |\d{1,9}[.)] )")


def _paragraph_blocks(paragraphs: Sequence[Paragraph]) -> list[list[str]]:
    """One block per paragraph, except that consecutive list lines stay together as one list."""
    blocks: list[list[str]] = []
    previous_was_list = False
    for paragraph in paragraphs:
        text = paragraph_text(paragraph)
        is_list = _LIST_LINE.match(text) is not None
        if is_list and previous_was_list:
            blocks[-1].append(text)
        else:
            blocks.append([text])
        previous_was_list = is_list
    return blocks


def _date_line(digest: Digest) -> str:
    stamp = digest.published_at
    if stamp is None:
        return digest.date.isoformat()
    shown = f"{digest.date.isoformat()} {stamp:%H:%M}"
    offset = stamp.strftime("%z")
    if offset:
        shown += f" {offset[:3]}:{offset[3:5]}"
    return shown


def _item_lines(item: Item) -> list[str]:
    lines = [f"{item.number}. {_clean(item.title)}", f"{INDENT}{_clean(item.url)}"]
    for paragraph in item.summary:
        lines += ["", INDENT + paragraph_text(paragraph)]
    return lines


def _join(blocks: Sequence[Sequence[str]]) -> str:
    return "\n\n".join("\n".join(block) for block in blocks if block)


def render_digest(digest: Digest) -> list[Payload]:
    blocks: list[list[str]] = [[_clean(digest.title), _date_line(digest)]]
    blocks += _paragraph_blocks(digest.intro)
    blocks += [_item_lines(item) for item in digest.items]
    if digest.commentary_heading:
        blocks.append([_clean(digest.commentary_heading)])
    blocks += _paragraph_blocks(digest.commentary)
    return payloads_without_surrogates([{"text": _join(blocks)}])


def render_items(heading: str, items: Sequence[Item], digest: Digest) -> list[Payload]:
    blocks: list[list[str]] = [[_clean(heading)]]
    blocks += [_item_lines(item) for item in items]
    return payloads_without_surrogates([{"text": _join(blocks)}])


def render_notice(text: str) -> list[Payload]:
    return payloads_without_surrogates([{"text": _clean(text)}])
