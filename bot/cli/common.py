"""What every subcommand shares: exit statuses, one-line usage errors, output, the config option and loading."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from bot.settings import Settings

# Exit statuses: 0 fine, 1 something could not be done, 2 bad input (digest, config, arguments).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

DEFAULT_CONFIG = "config.yaml"
RULE = "─" * 60

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad command-line arguments, reported in one line instead of argparse's usage dump."""


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def write(text: str) -> None:
    """Prints text to stdout even when the terminal's encoding cannot show every character."""
    try:
        sys.stdout.write(text + "\n")
    except UnicodeEncodeError:
        sys.stdout.flush()
        sys.stdout.buffer.write((text + "\n").encode("utf-8", "backslashreplace"))


def fail(message: str) -> None:
    try:
        sys.stderr.write(message.rstrip("\n") + "\n")
    except (AttributeError, OSError, ValueError):
        pass            # no stderr to write to (closed, or None): the exit status still tells


def one_line(text: str) -> str:
    """Text made one line: a file name or a message with a line break must not look like two problems."""
    return " ".join(text.replace("\x00", "\\0").splitlines())


def shown(value: object) -> str:
    from bot.bounded import shown as bounded_shown

    return bounded_shown(value)


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", default=os.environ.get("DIGESTBOT_CONFIG", DEFAULT_CONFIG),
                        help="the config file (default: $DIGESTBOT_CONFIG or ./config.yaml)")


def date_argument(text: str) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a date (expected YYYY-MM-DD)") from None


def log_level() -> str:
    """DIGESTBOT_LOG_LEVEL as a level name (default INFO); a UsageError when it names no level."""
    import logging

    text = os.environ.get("DIGESTBOT_LOG_LEVEL", "").strip() or "INFO"
    if text.upper() not in logging.getLevelNamesMapping():
        raise UsageError(f"DIGESTBOT_LOG_LEVEL: {shown(text)} is not a log level "
                         "(DEBUG, INFO, WARNING or ERROR)")
    return text.upper()


def load_settings(path: str) -> Settings:
    """Load and validate the config; a ConfigError reaches main(), which prints it and exits 2."""
    from bot.config import load_config, secrets_of
    from bot.logs import setup_logging
    from bot.secrets import update_secrets

    level = log_level()
    settings = load_config(path)
    setup_logging(level=level, secrets=secrets_of(settings))
    update_secrets(secrets_of(settings))
    return settings
