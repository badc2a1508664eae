"""What a publisher should know before sending: items cut inside themselves, links shown as text,
and the categories each item falls in."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from urllib.parse import unquote, urlsplit

from bot.digest.categories import Categorizer
from bot.digest.model import Bold, Digest, Italic, Link, Paragraph, plain_text
from bot.preview.model import Flag, ItemRow, Part
from bot.render.links import LinkRules, link_url

# How much of an item's last words identifies where it ends: long enough to be unique in a digest.
_PROBE = 16


def _squash(text: str) -> str:
    """Text compared blind to the spaces, zero-width and control characters renderers add or drop."""
    return "".join(char for char in unicodedata.normalize("NFC", text)
                   if not char.isspace() and unicodedata.category(char) not in ("Cf", "Cc"))


def cut_items(digest: Digest, parts: Sequence[Part]) -> list[Flag]:
    """A flag on the part where each item starts whose last words only come in a later part."""
    texts = [_squash(part.plain) for part in parts]
    flags: list[Flag] = []
    start = 0
    for item in digest.items:
        title = _squash(item.title)
        where = next((index for index in range(start, len(texts)) if title and title in texts[index]), None)
        if where is None:
            continue
        start = where
        ending = _squash(plain_text(item.summary[-1])) if item.summary else ""
        for probe in (ending[-_PROBE:], ending[-3 * _PROBE:-2 * _PROBE]):
            if not probe or probe in texts[where][texts[where].find(title):]:
                break
            later = next((index for index in range(where + 1, len(texts)) if probe in texts[index]), None)
            if later is not None:
                flags.append(Flag("cut", f"item {item.number} is cut inside itself: it goes on in part {later + 1}",
                                  part=where))
                break
    return flags


def _links(nodes: Paragraph) -> Iterator[Link]:
    for node in nodes:
        if isinstance(node, Link):
            yield node
        if isinstance(node, Bold | Italic | Link):
            yield from _links(node.children)


def digest_links(digest: Digest) -> list[str]:
    """Every URL the digest links to, in reading order, once each."""
    urls = [item.url for item in digest.items]
    for paragraphs in (digest.intro, *(item.summary for item in digest.items), digest.commentary):
        for paragraph in paragraphs:
            urls += [link.url for link in _links(paragraph)]
    return list(dict.fromkeys(url for url in urls if url.strip()))


def _same_target(url: str) -> str:
    return unquote(url.strip()).rstrip("/")


def links_as_text(digest: Digest, parts: Sequence[Part], rules: LinkRules, label: str) -> list[Flag]:
    """A flag for every digest link the payloads do not link to, saying why the policy kept it text."""
    if not rules.schemes:
        return []                           # a platform that links nothing: every URL is text by design
    linked = {_same_target(href) for part in parts for href in part.hrefs}
    texts = [_squash(part.plain) for part in parts]
    flags: list[Flag] = []
    for url in digest_links(digest):
        if _same_target(url) in linked:
            continue
        scheme = urlsplit(url).scheme.lower() if ":" in url else ""
        if scheme not in rules.schemes:
            why = f"{label} does not link {scheme + ':' if scheme else 'scheme-less'} URLs"
        elif link_url(url, rules) is None:
            why = f"not a well-formed {scheme}: link for {label}"
        else:
            why = "too long to be a link target"
        shown = _squash(url)
        where = next((index for index, text in enumerate(texts) if shown and shown in text), None)
        flags.append(Flag("link-as-text", f"link shown as text ({why}): {url}", part=where))
    return flags


def item_rows(digest: Digest, categorizer: Categorizer) -> tuple[ItemRow, ...]:
    """Each item with the categories it falls in (explicit markers, then the config's keyword rules)."""
    return tuple(ItemRow(item.number, item.title, item.url, categorizer.item_categories(item, digest))
                 for item in digest.items)
