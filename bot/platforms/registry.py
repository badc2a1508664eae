"""The platforms this installation knows: one entry each, naming its renderer; the one list of them."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import cast

from bot.render import Renderer


@dataclass(frozen=True, slots=True)
class Platform:
    name: str                 # as written in channels[].platform
    renderer: str             # module with render_digest, render_items and render_notice
    render_name: str          # as written in `digestbot render --for`
    # `render` without --json prints each payload's "text" (the message as a reader sees it)
    # instead of the whole payload.
    text_payloads: bool


# Modules are named, not imported, so that a command only loads the SDKs it uses.
PLATFORMS: tuple[Platform, ...] = (
    Platform("console", "bot.render.text", "text", text_payloads=True),
    Platform("telegram", "bot.platforms.telegram.html", "telegram", text_payloads=True),
    Platform("slack", "bot.platforms.slack.blocks", "slack", text_payloads=False),
)

NAMES: tuple[str, ...] = tuple(platform.name for platform in PLATFORMS)
RENDER_NAMES: tuple[str, ...] = tuple(platform.render_name for platform in PLATFORMS)


def by_name(name: str) -> Platform:
    """The platform called `name` in a config; KeyError for one this installation lacks."""
    for platform in PLATFORMS:
        if platform.name == name:
            return platform
    raise KeyError(name)


def by_render_name(name: str) -> Platform:
    """The platform called `name` by `render --for`; KeyError for one this installation lacks."""
    for platform in PLATFORMS:
        if platform.render_name == name:
            return platform
    raise KeyError(name)


def load_renderer(platform: Platform) -> Renderer:
    return cast(Renderer, importlib.import_module(platform.renderer))


def load_renderers() -> dict[str, Renderer]:
    """Every platform's renderer by config name."""
    return {platform.name: load_renderer(platform) for platform in PLATFORMS}
