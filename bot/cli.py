"""The `digestbot` command line: one small function per subcommand, one-line errors, exit codes."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, NoReturn

from bot import __version__
from bot.errors import DigestBotError

__all__ = ["PLATFORMS", "main"]

# Exit statuses: 0 fine, 1 something could not be done, 2 bad input (digest, config, arguments).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

PLATFORMS = ("telegram", "slack", "text")
RULE = "─" * 60

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad command-line arguments, reported in one line instead of argparse's usage dump."""


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


# -- output -----------------------------------------------------------------------------------

def _write(text: str) -> None:
    """Prints text to stdout even when the terminal's encoding cannot show every character."""
    try:
        sys.stdout.write(text + "\n")
    except UnicodeEncodeError:
        sys.stdout.flush()
        sys.stdout.buffer.write((text + "\n").encode("utf-8", "backslashreplace"))


def _fail(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")


# -- render -----------------------------------------------------------------------------------

def renderer(platform: str) -> ModuleType:
    """The renderer module for a platform, imported only when it is asked for."""
    return importlib.import_module(f"bot.render.{platform}")


def _cmd_render(args: argparse.Namespace) -> int:
    from bot.digest.parse import parse_file

    digest = parse_file(args.path)
    try:
        module = renderer(args.platform)
    except ModuleNotFoundError as exc:
        if exc.name != f"bot.render.{args.platform}":
            raise
        _fail(f"digestbot render: no renderer for {args.platform} in this installation")
        return EXIT_FAILED
    payloads: list[dict[str, Any]] = module.render_digest(digest)
    if args.json:
        _write(json.dumps(payloads, ensure_ascii=False, indent=2))
    elif args.platform in ("text", "telegram"):
        _write(f"\n{RULE}\n".join(str(payload["text"]) for payload in payloads))
    else:
        _write(f"\n{RULE}\n".join(json.dumps(payload, ensure_ascii=False, indent=2) for payload in payloads))
    return EXIT_OK


def _add_render(commands: Any) -> None:
    parser = commands.add_parser(
        "render", help="print what would be sent for a digest",
        description="Print the messages a digest becomes on a platform. With --json: a JSON array with "
                    "one element per API call, each exactly that call's parameters.")
    parser.add_argument("path", metavar="PATH", help="a digest file")
    parser.add_argument("--for", dest="platform", choices=PLATFORMS, default="text",
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
            _fail(str(exc))
            failed += 1
            continue
        count = len(digest.items)
        _write(f"OK {path} ({count} item{'s' if count != 1 else ''}, {digest.date.isoformat()})")
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _add_check(commands: Any) -> None:
    parser = commands.add_parser("check", help="validate digest files",
                                 description="Parse each digest and report it as OK or name the first problem "
                                             "with its line. Exit status 2 when any file is bad.")
    parser.add_argument("paths", metavar="PATH", nargs="+", help="digest files")
    parser.set_defaults(handler=_cmd_check)


# -- entry point ------------------------------------------------------------------------------

# Each entry adds one subcommand (its parser and its handler) to the command line.
SUBCOMMANDS: list[Callable[[Any], None]] = [_add_render, _add_check]


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="digestbot",
                             description="Deliver a daily news digest into Telegram and Slack chats.")
    parser.add_argument("--version", action="version", version=f"digestbot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=_ArgumentParser)
    for add in SUBCOMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
        handler: Handler = args.handler
        return handler(args)
    except UsageError as exc:
        _fail(str(exc))
        return EXIT_BAD_INPUT
    except DigestBotError as exc:
        _fail(str(exc))
        return EXIT_BAD_INPUT
    except SystemExit as exc:          # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`digestbot render … | head`); stay quiet about it.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
