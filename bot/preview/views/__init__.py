"""View builders by platform name: each turns one payload of `render --json` into a part of its view.

A new platform adds one module here (LABEL, STYLE, LINK_RULES and ``part(payload)``) and one line
below; a platform in the registry without a view builder is left off the page.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, cast

from bot.preview.model import Part
from bot.render.links import LinkRules

VIEWS: dict[str, str] = {
    "telegram": "bot.preview.views.telegram",
    "slack": "bot.preview.views.slack",
    "discord": "bot.preview.views.discord",
    "feishu": "bot.preview.views.feishu",
    "wecom": "bot.preview.views.wecom",
    "dingtalk": "bot.preview.views.dingtalk",
    "console": "bot.preview.views.console",
}


class ViewBuilder(Protocol):
    LABEL: str
    STYLE: str
    LINK_RULES: LinkRules

    def part(self, payload: dict[str, Any]) -> Part: ...


def builder_for(platform: str) -> ViewBuilder | None:
    """The view builder of the platform called ``platform`` in a config, or None when it has none."""
    module = VIEWS.get(platform)
    return None if module is None else cast(ViewBuilder, importlib.import_module(module))
