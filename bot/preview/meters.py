"""Meters' limits, read from each platform's own limits module, and the measures shared by views."""

from __future__ import annotations

import importlib
import json
from typing import Any


def platform_limit(platform: str, attribute: str, documented: int) -> int:
    """``LIMITS.<attribute>`` of ``bot.platforms.<platform>.limits``; ``documented`` (the number in
    PLATFORMS.md) only while that platform's package has no such limit yet."""
    try:
        module = importlib.import_module(f"bot.platforms.{platform}.limits")
    except ImportError:
        return documented
    value = getattr(getattr(module, "LIMITS", None), attribute, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else documented


def body_bytes(payload: Any) -> int:
    """The size of a JSON body as POSTed: UTF-8, non-ASCII characters unescaped."""
    return len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))
