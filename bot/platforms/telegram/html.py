"""The Telegram renderer: the digest model to sendMessage payloads (HTML) within Telegram's limits.

The digest is laid out here as a sequence of blocks (a title line, paragraphs, item headings), each
a run of styled text segments; packing.py packs them into messages while four budgets last, each
measured the way Telegram measures it: code points of the parsed text, entity count, entity
payload bytes, and bytes of raw HTML. A message breaks between items where it can, else between
paragraphs, else between sentences, words, and as a last resort grapheme clusters. A bold, italic,
code or link span cut by a break is closed at the end of one message and reopened at the start of
the next, so every message stands alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from bot.digest.model import Bold, Code, Digest, Inline, Italic, Item, Link, Paragraph, Text
from bot.platforms.telegram.limits import LIMITS, TelegramLimits
from bot.platforms.telegram.markup import BLANK, BOLD, CODE, ITALIC, Block, Mark, Marks, Segment, clean, is_blank
from bot.platforms.telegram.packing import pack
from bot.render import Payload, links
from bot.render.options import PostOptions

__all__ = [
    "LIMITS",
    "TelegramLimits",
    "render_digest",
    "render_items",
    "render_notice",
    "telegram_link_url",
]


@lru_cache(maxsize=4096)
def telegram_link_url(url: str, limits: TelegramLimits = LIMITS) -> str | None:
    """``url`` if Telegram surely keeps it as a link target, else None (it is then shown as text).

    Telegram silently drops links it does not accept (other schemes, hosts without a dot, bad
    ports), which would lose the URL; the link policy's strict form is stricter than Telegram.
    """
    if links.link_url(url, links.TELEGRAM) is None or len(url.encode("utf-8")) > limits.max_link_url_bytes:
        return None
    return url


def _inline_segments(nodes: Sequence[Inline], marks: Marks, out: list[Segment], limits: TelegramLimits) -> None:
    for node in nodes:
        if isinstance(node, Text | Code):
            text = clean(node.text)
            if text:
                out.append(Segment(text, _push(marks, CODE) if isinstance(node, Code) else marks))
        elif isinstance(node, Bold):
            _inline_segments(node.children, _push(marks, BOLD), out, limits)
        elif isinstance(node, Italic):
            _inline_segments(node.children, _push(marks, ITALIC), out, limits)
        elif isinstance(node, Link):
            _link_segments(node.url, node.children, marks, out, limits)


def _push(marks: Marks, mark: Mark) -> Marks:
    if mark in marks:
        return marks
    if mark.tag == "a":
        # A link inside a link: the inner target wins for its text.
        marks = tuple(existing for existing in marks if existing.tag != "a")
    return (*marks, mark)


def _link_segments(url: str, children: Sequence[Inline], marks: Marks, out: list[Segment],
                   limits: TelegramLimits) -> None:
    label: list[Segment] = []
    href = telegram_link_url(url, limits)
    if href is None:
        _inline_segments(children, marks, label, limits)
        shown_url = clean(url)
        if not is_blank(label):
            out.extend(label)
            if links.url_beside("".join(segment.text for segment in label), shown_url):
                out.append(Segment(f" ({shown_url})", marks))
        else:
            out.append(Segment(shown_url, marks))
        return
    link_marks = _push(marks, Mark("a", href))
    _inline_segments(children, link_marks, label, limits)
    if not is_blank(label):
        out.extend(label)
    else:
        # Telegram drops links over blank text; the URL itself becomes the label.
        out.append(Segment(href, link_marks))


def _paragraph_block(paragraph: Paragraph, limits: TelegramLimits, separator: str = "\n\n") -> Block:
    segments: list[Segment] = []
    _inline_segments(paragraph, (), segments, limits)
    return Block(segments, separator)


def _heading_block(text: str, separator: str = "\n\n") -> Block:
    return Block([Segment(clean(text), (BOLD,))], separator, keep_with_next=True)


def _item_blocks(item: Item, limits: TelegramLimits) -> list[Block]:
    heading: list[Segment] = [Segment(f"{item.number}. ")]
    _link_segments(item.url, (Text(item.title),), (), heading, limits)
    blocks = [Block(heading, keep_with_next=True)]
    for index, paragraph in enumerate(item.summary):
        block = _paragraph_block(paragraph, limits, "\n" if index == 0 else "\n\n")
        if block.segments:
            blocks.append(block)
    return blocks


def _digest_sections(digest: Digest, limits: TelegramLimits) -> list[list[Block]]:
    header_segments = []
    title = clean(digest.title)
    if title.strip(BLANK):
        header_segments.append(Segment(title, (BOLD,)))
        header_segments.append(Segment("\n"))
    header_segments.append(Segment(digest.date.isoformat()))
    opening = [Block(header_segments, marker_after=True)]
    opening += [block for block in (_paragraph_block(paragraph, limits) for paragraph in digest.intro)
                if block.segments]
    sections = [opening]
    sections += [_item_blocks(item, limits) for item in digest.items]
    closing: list[Block] = []
    if digest.commentary_heading and clean(digest.commentary_heading).strip(BLANK):
        closing.append(_heading_block(digest.commentary_heading))
    for paragraph in digest.commentary:
        # The first paragraph sits right under its heading.
        under_heading = len(closing) == 1 and closing[0].keep_with_next
        block = _paragraph_block(paragraph, limits, "\n" if under_heading else "\n\n")
        if block.segments:
            closing.append(block)
    if closing:
        sections.append(closing)
    return sections


# ---------------------------------------------------------------------------------------------
# Public API


def render_digest(digest: Digest, *, limits: TelegramLimits = LIMITS) -> list[Payload]:
    """The sendMessage parameters for the whole digest, one dict per message, in order."""
    return pack(_digest_sections(digest, limits), limits)


def apply_options(payload: Payload, options: PostOptions) -> Payload:
    """A sendMessage payload posted the way the channel asks (silently, in a forum topic)."""
    shaped = dict(payload)
    if options.silent:
        shaped["disable_notification"] = True
    if options.topic is not None:
        shaped["message_thread_id"] = int(options.topic)
    return shaped


def render_items(heading: str, items: Sequence[Item], digest: Digest, *,
                 limits: TelegramLimits = LIMITS) -> list[Payload]:
    """A reply listing some items of ``digest`` (one item, a category) under ``heading``."""
    sections = [_item_blocks(item, limits) for item in items]
    if clean(heading).strip(BLANK):
        heading_block = _heading_block(heading)
        heading_block.marker_after = True
        if sections:
            sections[0] = [heading_block, *sections[0]]
        else:
            sections = [[heading_block]]
    return pack(sections, limits)


def render_notice(text: str, *, limits: TelegramLimits = LIMITS) -> list[Payload]:
    """The bot's own words as plain text (escaped), split like any message; nothing for blank text."""
    if not clean(text).strip(BLANK):
        return []
    return pack([[Block([Segment(clean(text))])]], limits)
