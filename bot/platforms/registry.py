"""The platforms this installation knows: each one's renderer, config section and channel factory, one entry each.

Adding a platform is its package under bot/platforms/ and one line here.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO, cast, runtime_checkable
from zoneinfo import ZoneInfo

from bot.checking import Section
from bot.ratelimit import LOCAL, Limiters, limiters_in_use
from bot.render import Renderer

if TYPE_CHECKING:
    from aiohttp import web

    from bot.commands import Commands
    from bot.platforms.base import Channel, ReplySink
    from bot.store.base import Store


@dataclass(frozen=True, slots=True)
class Platform:
    name: str                 # as written in channels[].platform
    renderer: str             # module with render_digest, render_items and render_notice
    render_name: str          # as written in `digestbot render --for`
    # `render` without --json prints each payload's "text" (the message as a reader sees it)
    # instead of the whole payload.
    text_payloads: bool
    # "module:function" that builds the channel: function(its settings or None, Surroundings).
    channel: str
    # Module whose SECTION (a bot.checking.Section) is the platform's config section; None: it has none.
    settings: str | None = None


# Modules are named, not imported, so that a command only loads the SDKs it uses.
PLATFORMS: tuple[Platform, ...] = (
    Platform("console", "bot.render.text", "text", True, "bot.platforms.console.channel:open_channel"),
    Platform("telegram", "bot.platforms.telegram.html", "telegram", True, "bot.platforms.telegram.channel:open_channel",
             "bot.platforms.telegram.settings"),
    Platform("slack", "bot.platforms.slack.blocks", "slack", False, "bot.platforms.slack.channel:open_channel",
             "bot.platforms.slack.settings"),
    Platform("discord", "bot.platforms.discord.embeds", "discord", False, "bot.platforms.discord.channel:open_channel",
             "bot.platforms.discord.settings"),
    Platform("feishu", "bot.platforms.feishu.card", "feishu", False, "bot.platforms.feishu.channel:open_channel",
             "bot.platforms.feishu.settings"),
    Platform("wecom", "bot.platforms.wecom.markdown", "wecom", False, "bot.platforms.wecom.channel:open_channel",
             "bot.platforms.wecom.settings"),
    Platform("dingtalk", "bot.platforms.dingtalk.markdown", "dingtalk", False,
             "bot.platforms.dingtalk.channel:open_channel", "bot.platforms.dingtalk.settings"),
)

NAMES: tuple[str, ...] = tuple(platform.name for platform in PLATFORMS)
RENDER_NAMES: tuple[str, ...] = tuple(platform.render_name for platform in PLATFORMS)


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    """One configured channel of a platform as its factory sees it: where it posts, and its own options."""

    chat: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Surroundings:
    """What the app hands every platform's channel factory besides the platform's own settings."""

    commands: Commands
    store: Store
    language: str
    timezone: ZoneInfo
    now: Callable[[], dt.datetime]
    out: TextIO               # the terminal, for the console
    # The config's channels of this platform (a webhook platform learns each robot's secret here).
    channels: tuple[ChannelEntry, ...] = ()
    # Where the platforms' rate limits are counted: this process, or every replica (a Redis store).
    limiters: Limiters = LOCAL


@runtime_checkable
class Receiver(Protocol):
    """A channel that also takes commands: bound to the deliverer's reply sink, started with the service."""

    platform: str

    def bind(self, sink: ReplySink) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def ready(self) -> bool: ...
    def routes(self) -> list[web.RouteDef]: ...


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


def section(platform: Platform) -> Section[Any] | None:
    """The platform's config section, or None when it has none."""
    if platform.settings is None:
        return None
    return cast(Section[Any], importlib.import_module(platform.settings).SECTION)


def sections() -> list[Section[Any]]:
    """Every platform's config section, in registry order."""
    return [found for platform in PLATFORMS if (found := section(platform)) is not None]


def default_sections() -> dict[str, Any]:
    """Each platform section's settings when the config leaves it out, by section key."""
    return {found.key: found.settings() for found in sections()}


def open_channel(platform: Platform, settings: object, around: Surroundings) -> Channel:
    """The platform's channel, built by its factory (importing its SDK only now).

    The rate limits a channel takes while it is built (`RateLimits.chain()`) are `around.limiters`.
    """
    module, _, function = platform.channel.partition(":")
    factory = cast(Callable[[Any, Surroundings], "Channel"], getattr(importlib.import_module(module), function))
    with limiters_in_use(around.limiters):
        return factory(settings, around)


def receivers(channels: Sequence[object]) -> list[Receiver]:
    """The channels that also take commands."""
    return [channel for channel in channels if isinstance(channel, Receiver)]
