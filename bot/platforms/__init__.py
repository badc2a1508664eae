"""Chat platforms, one package each, on the shared render core; base.py holds what they share."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, namespace: dict[str, Any], modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that imports each name's module on first use.

    A platform's SDK takes most of a second to import; rendering (digestbot render, or a send with
    that platform not configured) must not pay for it, so its package exports the SDK-side names
    this way and the renderer and limits directly.
    """

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
