"""A digest file to its preview HTML: parse, build the page, render it; a live page shows a parse
error in place of the views instead of failing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.digest.categories import Categorizer
from bot.digest.parse import parse_file
from bot.errors import DigestError
from bot.preview.build import build_page, error_page
from bot.preview.page import render_page


@dataclass(frozen=True, slots=True)
class Options:
    platforms: tuple[str, ...] | None = None            # None: every platform that has a view
    categorizer: Categorizer = field(default_factory=lambda: Categorizer(()))


def preview_html(path: str | Path, options: Options, *, live: bool = False, version: str = "") -> str:
    """The page for the digest at ``path``; a DigestError names the file unless the page is live."""
    try:
        digest = parse_file(path)
    except DigestError as exc:
        if not live:
            raise
        return render_page(error_page(str(path), str(exc), live=True), version)
    page = build_page(digest, platforms=options.platforms, categorizer=options.categorizer, live=live)
    return render_page(page, version)
