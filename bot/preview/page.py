"""The page as HTML: Jinja2 templates under templates/, autoescaped, everything inline."""

from __future__ import annotations

from functools import lru_cache

import jinja2

from bot.preview.model import Page


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # autoescape on for every template whatever its name: digest text must never become markup.
    return jinja2.Environment(loader=jinja2.PackageLoader("bot.preview", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_page(page: Page, version: str = "") -> str:
    """The page as one self-contained HTML document; ``version`` is what a live page polls against."""
    return _environment().get_template("page.html.j2").render(page=page, version=version)
