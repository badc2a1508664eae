"""The subcommands that read digest files only, no config: `render`, `check` and `preview`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.cli.common import EXIT_BAD_INPUT, EXIT_OK, RULE, UsageError, fail, one_line, shown, write

PREVIEW_PORT = 8765


def _render_names() -> tuple[str, ...]:
    from bot.platforms.registry import RENDER_NAMES

    return RENDER_NAMES


# -- render -----------------------------------------------------------------------------------

def _cmd_render(args: argparse.Namespace) -> int:
    from bot.digest.parse import parse_file
    from bot.platforms import registry

    digest = parse_file(args.path)
    platform = registry.by_render_name(args.platform)
    payloads: list[dict[str, Any]] = registry.load_renderer(platform).render_digest(digest)
    if args.json:
        write(json.dumps(payloads, ensure_ascii=False, indent=2))
    elif platform.text_payloads:
        write(f"\n{RULE}\n".join(str(payload["text"]) for payload in payloads))
    else:
        write(f"\n{RULE}\n".join(json.dumps(payload, ensure_ascii=False, indent=2) for payload in payloads))
    return EXIT_OK


def add_render(commands: Any) -> None:
    parser = commands.add_parser(
        "render", help="print what would be sent for a digest",
        description="Print the messages a digest becomes on a platform. With --json: a JSON array with "
                    "one element per API call, each exactly that call's parameters.")
    parser.add_argument("path", metavar="PATH", help="a digest file")
    parser.add_argument("--for", dest="platform", choices=_render_names(), default="text",
                        help="the platform to render for (default: text)")
    parser.add_argument("--json", action="store_true", help="print the API-call parameters as JSON")
    parser.set_defaults(handler=_cmd_render)


# -- check ------------------------------------------------------------------------------------

def _cmd_check(args: argparse.Namespace) -> int:
    from bot.digest.parse import parse_file
    from bot.errors import DigestError

    failed = 0
    for path in args.paths:
        try:
            digest = parse_file(path)
        except DigestError as exc:
            fail(one_line(str(exc)))
            failed += 1
            continue
        count = len(digest.items)
        write(f"OK {path} ({count} item{'s' if count != 1 else ''}, {digest.date.isoformat()})")
    return EXIT_BAD_INPUT if failed else EXIT_OK


def add_check(commands: Any) -> None:
    parser = commands.add_parser("check", help="validate digest files",
                                 description="Parse each digest and report it as OK or name the first problem "
                                             "with its line. Exit status 2 when any file is bad.")
    parser.add_argument("paths", metavar="PATH", nargs="+", help="digest files")
    parser.set_defaults(handler=_cmd_check)


# -- preview ----------------------------------------------------------------------------------

def _cmd_preview(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.preview.document import Options, preview_html

    options = Options(platforms=_preview_platforms(args.platforms), categorizer=_preview_categorizer(args.config))
    if args.serve:
        return _serve_preview(Path(args.path), options, args.port)
    html = preview_html(args.path, options)
    if args.out == "-":
        write(html)
        return EXIT_OK
    out = args.out or f"{Path(args.path).stem}.preview.html"
    try:
        Path(out).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{one_line(out)}: cannot write the preview: {exc.strerror or exc}") from None
    write(f"wrote {out}: open it in a browser")
    return EXIT_OK


def _preview_platforms(text: str | None) -> tuple[str, ...] | None:
    from bot.preview.build import chosen_platforms

    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    try:
        chosen_platforms(names)
    except KeyError as exc:
        raise UsageError(f"digestbot preview: --for: no platform {shown(exc.args[0])} "
                         f"(platforms: {', '.join(_render_names())})") from None
    return names


def _preview_categorizer(config: str | None) -> Any:
    from bot.digest.categories import Categorizer

    if config is None:
        return Categorizer(())
    from bot.config import load_config

    return Categorizer(load_config(config).categories)


def _serve_preview(path: Any, options: Any, port: int) -> int:
    import asyncio

    from bot.preview.document import preview_html
    from bot.preview.serve import LivePage, serve

    live = LivePage(path, lambda version: preview_html(path, options, live=True, version=version))
    asyncio.run(serve(live, port, lambda url: write(f"serving {url} (re-rendered when {path} changes; "
                                                    "Ctrl-C stops)")))
    return EXIT_OK


def add_preview(commands: Any) -> None:
    parser = commands.add_parser(
        "preview", help="write an HTML page showing a digest as each platform shows it",
        description="Write one self-contained HTML page with a view per platform, drawn from the payloads "
                    "`render --json` prints, each part metered against the platform's limits. Without "
                    "--out: PATH's name with .preview.html, in the current folder.")
    parser.add_argument("path", metavar="PATH", help="a digest file")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", metavar="FILE.html", help="where to write the page ('-': standard output)")
    where.add_argument("--serve", action="store_true",
                       help="serve the page on 127.0.0.1 and render it again whenever PATH changes")
    parser.add_argument("--port", type=int, default=PREVIEW_PORT, help=f"--serve's port (default {PREVIEW_PORT})")
    parser.add_argument("--for", dest="platforms", metavar="NAMES",
                        help="only these platforms, comma-separated (default: every platform)")
    parser.add_argument("-c", "--config", help="a config whose category rules label the items")
    parser.set_defaults(handler=_cmd_preview)
