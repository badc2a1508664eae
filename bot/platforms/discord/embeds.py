"""Digests as Discord webhook messages: the intro in `content`, an embed per item, the commentary last.

Built on the shared render core: the digest's paragraphs become styled runs (bot.render.runs), are
written in Discord markdown (markdown.py) and packed into pieces within Discord's limits by
bot.render.packing; this module only lays the pieces out as embeds and messages (messages.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.digest.model import Bold, Digest, Item, Paragraph, Text
from bot.platforms.discord import markdown
from bot.platforms.discord.limits import LIMITS, SUPPRESS_NOTIFICATIONS, DiscordLimits
from bot.platforms.discord.messages import Embed, assemble
from bot.render import Payload, digest_without_surrogates, item_without_surrogates, links, without_surrogates
from bot.render.ellipsis import shorten
from bot.render.measure import Limit, chars
from bot.render.options import PostOptions
from bot.render.packing import Block, pack
from bot.render.runs import Run, flatten, link_or_text

__all__ = ["DiscordMarkup", "apply_options", "render_digest", "render_items", "render_notice"]

# Discord makes links of http(s) targets only; anything else is shown as "label (url)".
LINK_RULES = links.LinkRules(frozenset({"http", "https"}))
# Blurple: the digest's embeds share one colour, so a message reads as one digest.
COLOR = 0x5865F2
# How much of the digest title the first message's header line shows, at most and as a share of `content`
# (the rest is the intro's, and escaping may double the title's length).
MAX_HEADER_TITLE = 600
HEADER_SHARE = 5


class DiscordMarkup:
    """How Discord markdown writes styled runs (the core's Markup): `angle` keeps links in `content`
    from unfurling a preview card; in embeds links never unfurl."""

    def __init__(self, *, angle: bool) -> None:
        self.angle = angle

    def text(self, text: str) -> str:
        return markdown.escape(text)

    def code(self, text: str) -> str:
        return markdown.code(text)

    def link(self, label: str, url: str) -> str:
        return markdown.masked_link(label, url, angle=self.angle)

    def style(self, inner: str, bold: bool, italic: bool) -> str:
        return markdown.styled(inner, bold=bold, italic=italic)


CONTENT = DiscordMarkup(angle=True)
EMBED = DiscordMarkup(angle=False)


def _runs(paragraph: Paragraph, limits: DiscordLimits) -> list[Run]:
    def link(url: str, label: str, bold: bool, italic: bool) -> list[Run]:
        url = url.strip()
        if len(url) > limits.max_url:
            return [Run("text", links.as_text(" ".join(label.split()), url), bold, italic)]
        return link_or_text(url, label, bold, italic, LINK_RULES)

    return flatten(paragraph, link)


def _blocks(paragraphs: Sequence[Paragraph], limits: DiscordLimits) -> list[Block]:
    return [Block(_runs(paragraph, limits)) for paragraph in paragraphs]


def _escaped_length(text: str) -> int:
    return len(markdown.escape(text))


def _title(text: str, most: int) -> str:
    """Plain text as an escaped one-line title of at most `most` characters once escaped."""
    return markdown.escape(shorten(" ".join(text.split()), most, _escaped_length))


def _descriptions(paragraphs: Sequence[Paragraph], title: str, limits: DiscordLimits) -> list[str]:
    """The description of each embed a section needs: one, or several continuing it ("(k/n)" atop)."""
    blocks = _blocks(paragraphs, limits)
    if not blocks:
        return []
    room = min(limits.max_description, limits.max_embed_total - len(title))
    return pack([blocks], EMBED, [Limit(chars, room)])


def _section_embeds(full_title: str, url: str | None, paragraphs: Sequence[Paragraph],
                    limits: DiscordLimits) -> list[Embed]:
    """A titled section (an item, the commentary) as embeds: the title on the first, the text spread on."""
    title = _title(full_title, limits.max_title)
    if markdown.escape(" ".join(full_title.split())) != title:
        # Too long for an embed's title: the description opens with it whole, in bold, so nothing is lost.
        paragraphs = ((Bold((Text(full_title),)),), *paragraphs)
    descriptions = _descriptions(paragraphs, title, limits) or [""]
    embeds: list[Embed] = []
    for number, description in enumerate(descriptions):
        embed: dict[str, Any] = {"color": COLOR}
        if number == 0 and title:
            embed["title"] = title
            if url:
                embed["url"] = markdown.link_url(url)
        if description:
            embed["description"] = description
        if len(embed) > 1:
            embeds.append(Embed(embed))
    return embeds


def item_embeds(item: Item, limits: DiscordLimits = LIMITS) -> list[Embed]:
    """One item: "N. Title" linked to its URL, the summary as description (continued when too long)."""
    url = item.url.strip()
    followable = links.link_url(url, LINK_RULES) is not None and len(url) <= limits.max_url
    summary: tuple[Paragraph, ...] = item.summary
    if url and not followable:
        # Not a link Discord would follow: the reader still gets the address, as text.
        summary = ((Text(url),), *summary)
    return _section_embeds(f"{item.number}. {item.title}", url if followable else None, summary, limits)


def _commentary_embeds(digest: Digest, limits: DiscordLimits) -> list[Embed]:
    heading = " ".join((digest.commentary_heading or "").split())
    if not heading and not digest.commentary:
        return []
    return _section_embeds(heading, None, digest.commentary, limits)


def header_title_room(limits: DiscordLimits) -> int:
    """How many characters of the digest's title the header line keeps."""
    return min(MAX_HEADER_TITLE, limits.max_content // HEADER_SHARE)


def _header(title: str, limits: DiscordLimits, suffix: str = "") -> str:
    shown = shorten(" ".join(title.split()), header_title_room(limits))
    return markdown.styled(markdown.escape(shown), bold=True, italic=False) + suffix if shown else suffix


def _content_pieces(paragraphs: Sequence[Paragraph], head: str, limits: DiscordLimits) -> list[str]:
    """The intro as `content` pieces, each leaving room for the header line and a part marker."""
    blocks = _blocks(paragraphs, limits)
    if not blocks:
        return []
    room = limits.max_content - len(head) - len(" (999/999)") - 2
    return pack([blocks], CONTENT, [Limit(chars, room)])


def render_digest(digest: Digest, limits: DiscordLimits = LIMITS) -> list[Payload]:
    digest = digest_without_surrogates(digest)
    head = _header(digest.title, limits, f" · {digest.date.isoformat()}")
    embeds = [embed for item in digest.items for embed in item_embeds(item, limits)]
    embeds += _commentary_embeds(digest, limits)
    return assemble(head, _content_pieces(digest.intro, head, limits), embeds, limits)


def render_items(heading: str, items: Sequence[Item], digest: Digest, limits: DiscordLimits = LIMITS) -> list[Payload]:
    head = _header(without_surrogates(heading), limits)
    embeds = [embed for item in items for embed in item_embeds(item_without_surrogates(item), limits)]
    return assemble(head, [], embeds, limits)


def apply_options(payload: Payload, options: PostOptions) -> Payload:
    """A webhook message posted the way the channel asks (silently: SUPPRESS_NOTIFICATIONS)."""
    if not options.silent:
        return payload
    return {**payload, "flags": int(payload.get("flags", 0)) | SUPPRESS_NOTIFICATIONS}


def render_notice(text: str, limits: DiscordLimits = LIMITS) -> list[Payload]:
    """The bot's own words as plain `content` messages, escaped, split when long."""
    paragraphs = [paragraph for paragraph in without_surrogates(text).split("\n\n") if paragraph.strip()]
    blocks = [Block([Run("text", paragraph)]) for paragraph in paragraphs] or [Block([Run("text", "…")])]
    pieces = pack([blocks], CONTENT, [Limit(chars, limits.max_content)])
    return assemble("", pieces, [], limits, numbered=False)
