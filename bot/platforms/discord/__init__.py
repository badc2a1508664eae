"""The Discord platform: webhook posts and slash commands; renderer and limits load at once, the adapter on use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platforms import lazy_exports
from bot.platforms.discord.embeds import render_digest, render_items, render_notice
from bot.platforms.discord.limits import LIMITS, PACE, DiscordLimits, DiscordRateLimit

if TYPE_CHECKING:
    from bot.platforms.discord.channel import DiscordChannel
    from bot.platforms.discord.errors import DiscordStartError

__all__ = [
    "LIMITS",
    "PACE",
    "DiscordChannel",
    "DiscordLimits",
    "DiscordRateLimit",
    "DiscordStartError",
    "render_digest",
    "render_items",
    "render_notice",
]

# The adapter needs aiohttp's client and PyNaCl; rendering (digestbot render) does not.
_ON_USE = {
    "DiscordChannel": "bot.platforms.discord.channel",
    "DiscordStartError": "bot.platforms.discord.errors",
}


__getattr__ = lazy_exports(__name__, globals(), _ON_USE)
