"""The `digestbot` command line: the parser, the one entry point, and how every failure becomes an exit status.

Subcommands live beside this module, one concern each: common.py (what they share), digest_files.py
(render, check, preview), service.py (run, send, console, check-config), operator.py (status, reactivate).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bot import __version__
from bot.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ArgumentParser,
    Handler,
    UsageError,
    fail,
    log_level,
    one_line,
)
from bot.cli.digest_files import add_check, add_preview, add_render
from bot.cli.operator import add_operator
from bot.cli.service import add_service
from bot.errors import DigestBotError

__all__ = ["build_parser", "main"]

# Each entry adds its subcommands (their parsers and handlers) to the command line.
SUBCOMMANDS: list[Callable[[Any], None]] = [add_render, add_check, add_service, add_preview, add_operator]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="digestbot",
                            description="Deliver a daily news digest into the chats where people already are.")
    parser.add_argument("--version", action="version", version=f"digestbot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=ArgumentParser)
    for add in SUBCOMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; whatever happens, the answer is an exit status and at most a few lines."""
    command = "digestbot"
    try:
        parser = build_parser()
        args = parser.parse_args(None if argv is None else list(argv))
        command = f"digestbot {args.command}"
        handler: Handler = args.handler
        return handler(args)
    except UsageError as exc:
        fail(one_line(str(exc)))
        return EXIT_BAD_INPUT
    except DigestBotError as exc:
        return _report(exc)
    except SystemExit as exc:          # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`digestbot render … | head`); stay quiet about it.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (AttributeError, OSError, ValueError):
            pass
        return EXIT_FAILED
    except Exception as exc:
        return _unexpected(command, exc)


def _report(exc: DigestBotError) -> int:
    """The bot's own errors: bad input (config, digest, arguments) exits 2, could-not-serve exits 1."""
    from bot.digest.sources import DigestUnavailable
    from bot.errors import ConfigError, DigestError

    if isinstance(exc, ConfigError):
        for line in str(exc).splitlines():
            fail(line)
        return EXIT_BAD_INPUT
    fail(one_line(str(exc)))
    if isinstance(exc, DigestError) and not isinstance(exc, DigestUnavailable):
        return EXIT_BAD_INPUT
    return EXIT_FAILED


def _unexpected(command: str, exc: Exception) -> int:
    """A failure the bot has no words for: one line on stderr, the traceback only in the log at DEBUG."""
    import logging

    from bot.logs import setup_logging
    from bot.secrets import redact

    try:
        detail = one_line(redact(str(exc)))
    except Exception:
        detail = ""
    if len(detail) > 200:
        detail = detail[:200] + "…"
    fail(f"{command}: unexpected error: {type(exc).__name__}{': ' + detail if detail else ''} "
         "(DIGESTBOT_LOG_LEVEL=DEBUG logs the traceback)")
    try:
        root = logging.getLogger()
        if not root.handlers:
            setup_logging(level=log_level())
        logging.getLogger("bot.cli").debug("%s failed", command, exc_info=exc)
    except Exception:
        pass            # the one line above is the report; a log that cannot be written adds nothing
    return EXIT_FAILED
