"""Meters' limits, read from each platform's own limits module (the measures are the senders' own)."""

from __future__ import annotations

import importlib


def platform_limit(platform: str, attribute: str) -> int:
    """``LIMITS.<attribute>`` of ``bot.platforms.<platform>.limits``: the number the renderer packs to.

    Read, never re-typed, so a meter can not disagree with the renderer; a renamed limit fails here at
    import rather than showing a stale number.
    """
    module = importlib.import_module(f"bot.platforms.{platform}.limits")
    value = getattr(module.LIMITS, attribute)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"bot.platforms.{platform}.limits.LIMITS.{attribute} is not a whole number")
    return value
