"""The shared rendering core: renderer protocol, surrogate guard, and the recipe for a platform renderer.

Every renderer module exposes the same three functions, each returning the list of API-call
parameter dicts (one per message, in order, without chat ids):

    render_digest(digest: Digest) -> list[Payload]
    render_items(heading: str, items: Sequence[Item], digest: Digest) -> list[Payload]
    render_notice(text: str) -> list[Payload]          # the bot's own words, plain text

No payload carries a surrogate code point: each renderer replaces them with U+FFFD before it
measures (see :func:`digest_without_surrogates`) and once more in what it returns.

How a platform renderer uses the core (a Markdown-like platform such as Discord or WeCom):

1. Markup: a class with ``text(s)``, ``code(s)``, ``link(label, url)`` and
   ``style(inner, bold, italic)`` returning the platform's markup (bot.render.markup.Markup);
   ``text`` and ``code`` escape character by character.
2. Limits as data, each in the platform's own unit: ``[Limit(chars, 2000)]`` for Discord content,
   ``[Limit(utf8_bytes, 4096)]`` for WeCom (bot.render.measure: chars, utf8_bytes, utf16_units).
3. Runs: ``runs.flatten(paragraph, link)`` with ``link = lambda url, label, b, i:
   runs.link_or_text(url, label, b, i, rules)`` (the link policy of bot.render.links decides
   what becomes a link and shows the rest as "label (url)"), after
   :func:`digest_without_surrogates`.
4. Layout: one section per item (``[Block(heading_runs), Block(summary_runs, "\n")]``), one for
   the intro, one for the commentary; ``packing.pack(sections, markup, limits)`` returns the text
   of each part, "(k/n)" on each when there are several, cut at item, paragraph, sentence, word,
   grapheme boundaries and never inside a link or a span's markers.
5. Payloads: wrap each part in the platform's JSON body and pass the list through
   :func:`payloads_without_surrogates`. Titles that must be shortened go through
   ``ellipsis.shorten(text, limit, measure)``.

Below the core, bot.text owns script classes and grapheme clusters (scripts.py) and where text
may be cut and how far a budget reaches (segments.py: break_levels, reach, split_text).
Telegram and Slack use those pieces under packers of their own (entity and block budgets).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from bot.digest.model import Bold, Code, Digest, Inline, Italic, Item, Link, Paragraph, Text

if TYPE_CHECKING:
    from bot.commands import Reply

Payload = dict[str, Any]

# In a Python str every surrogate is unpaired, even two that would make a pair in UTF-16 (text
# decoded with surrogatepass): none of them can be encoded as UTF-8 or sent as JSON to a platform.
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT_CHARACTER = "\ufffd"


class Renderer(Protocol):
    """What every renderer module provides (each platform's, listed in bot.platforms.registry)."""

    def render_digest(self, digest: Digest) -> list[Payload]: ...

    def render_items(self, heading: str, items: Sequence[Item], digest: Digest) -> list[Payload]: ...

    def render_notice(self, text: str) -> list[Payload]: ...


def render_reply(renderer: Renderer, reply: Reply) -> list[Payload]:
    """A command's reply as payloads: its notice first (if any), then the digest or the items."""
    payloads: list[Payload] = []
    if reply.notice:
        payloads += renderer.render_notice(reply.notice)
    if reply.digest is not None:
        payloads += renderer.render_digest(reply.digest)
    elif reply.items and reply.digest_of_items is not None:
        payloads += renderer.render_items(reply.heading or "", reply.items, reply.digest_of_items)
    return payloads


def without_surrogates(text: str) -> str:
    """``text`` with every surrogate code point replaced by U+FFFD (``text`` itself when it has none)."""
    return _SURROGATE.sub(REPLACEMENT_CHARACTER, text) if _SURROGATE.search(text) else text


def _inline_without_surrogates(node: Inline) -> Inline:
    if isinstance(node, Text):
        text = without_surrogates(node.text)
        return node if text is node.text else Text(text)
    if isinstance(node, Code):
        text = without_surrogates(node.text)
        return node if text is node.text else Code(text)
    children = _nodes_without_surrogates(node.children)
    if isinstance(node, Link):
        url = without_surrogates(node.url)
        return node if url is node.url and children is node.children else Link(url, children)
    if children is node.children:
        return node
    return Bold(children) if isinstance(node, Bold) else Italic(children)


def _nodes_without_surrogates(nodes: Paragraph) -> Paragraph:
    cleaned = tuple(_inline_without_surrogates(node) for node in nodes)
    return nodes if all(new is old for new, old in zip(cleaned, nodes, strict=True)) else cleaned


def _paragraphs_without_surrogates(paragraphs: tuple[Paragraph, ...]) -> tuple[Paragraph, ...]:
    return tuple(_nodes_without_surrogates(paragraph) for paragraph in paragraphs)


def item_without_surrogates(item: Item) -> Item:
    """``item`` with U+FFFD for every surrogate in what a renderer shows of it."""
    return dataclasses.replace(item, title=without_surrogates(item.title), url=without_surrogates(item.url),
                               summary=_paragraphs_without_surrogates(item.summary))


def digest_without_surrogates(digest: Digest) -> Digest:
    """``digest`` with U+FFFD for every surrogate in what a renderer shows of it.

    The parser refuses surrogates, but a digest built in code may hold them; replacing them before
    anything is measured keeps lengths and grapheme clusters the ones that are finally sent.
    """
    heading = digest.commentary_heading
    return dataclasses.replace(
        digest,
        title=without_surrogates(digest.title),
        intro=_paragraphs_without_surrogates(digest.intro),
        items=tuple(item_without_surrogates(item) for item in digest.items),
        commentary_heading=None if heading is None else without_surrogates(heading),
        commentary=_paragraphs_without_surrogates(digest.commentary),
    )


def payloads_without_surrogates(payloads: list[Payload]) -> list[Payload]:
    """The last guard of every renderer: the same payloads, every string free of surrogates."""
    return [_value_without_surrogates(payload) for payload in payloads]


def _value_without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, dict):
        return {key: _value_without_surrogates(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_value_without_surrogates(inner) for inner in value]
    return value
