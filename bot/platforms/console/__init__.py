"""The console platform: the digest and command answers printed to a terminal."""

from bot.platforms.console.channel import ConsoleChannel

__all__ = ["ConsoleChannel"]
