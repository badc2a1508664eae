"""A digest to the page model: one view per platform in the registry that has a view builder."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.digest.categories import Categorizer
from bot.digest.model import Digest
from bot.platforms import registry
from bot.preview import flags
from bot.preview.model import Page, View
from bot.preview.views import builder_for
from bot.render import Payload


def payloads_of(platform: registry.Platform, digest: Digest) -> list[Payload]:
    """Exactly what `render --json` prints for the platform: the renderer's payloads through JSON."""
    rendered = registry.load_renderer(platform).render_digest(digest)
    payloads: list[Payload] = json.loads(json.dumps(rendered, ensure_ascii=False))
    return payloads


def build_view(platform: registry.Platform, digest: Digest) -> View | None:
    """The platform's view of the digest, or None when no view builder knows the platform."""
    builder = builder_for(platform.name)
    if builder is None:
        return None
    parts = tuple(builder.part(payload) for payload in payloads_of(platform, digest))
    found = flags.cut_items(digest, parts) + flags.links_as_text(digest, parts, builder.LINK_RULES, builder.LABEL)
    return View(platform.name, builder.LABEL, builder.STYLE, parts, tuple(found))


def chosen_platforms(names: Sequence[str] | None) -> list[registry.Platform]:
    """The registry's platforms, in its order, limited to ``names`` (config or `render --for` names)
    when given; KeyError for a name no platform has."""
    if names is None:
        return list(registry.PLATFORMS)
    wanted = set(names)
    known = {name for platform in registry.PLATFORMS for name in (platform.name, platform.render_name)}
    unknown = sorted(wanted - known)
    if unknown:
        raise KeyError(unknown[0])
    return [platform for platform in registry.PLATFORMS if wanted & {platform.name, platform.render_name}]


def build_page(digest: Digest, *, platforms: Sequence[str] | None = None,
               categorizer: Categorizer | None = None, live: bool = False) -> Page:
    views = tuple(view for platform in chosen_platforms(platforms)
                  if (view := build_view(platform, digest)) is not None)
    rows = flags.item_rows(digest, categorizer or Categorizer(()))
    return Page(digest.title, digest.date.isoformat(), digest.source, rows, views, live=live)


def error_page(source: str, message: str, *, live: bool = False) -> Page:
    """What --serve shows while the digest does not parse: the problem, until the next save."""
    return Page("digest does not parse", "", source, (), (), live=live, error=message)
