"""The console's view: the plain text the terminal prints, as it prints it."""

from __future__ import annotations

from typing import Any

from bot.preview.model import Block, Meter, Part
from bot.preview.views.common import Collector, make_part
from bot.render.links import LinkRules

LABEL = "Console"
STYLE = "console"
# The terminal links nothing: every URL is written out.
LINK_RULES = LinkRules(frozenset())


def part(payload: dict[str, Any]) -> Part:
    text = str(payload.get("text", ""))
    links = Collector()
    meters = (Meter(len(text), "characters"), Meter(text.count("\n") + 1, "lines"))
    return make_part([Block("text", links.plain(text))], meters, links)
