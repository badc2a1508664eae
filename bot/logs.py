"""Structured logging for the bot: JSON lines or readable text, with every secret redacted."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from bot.secrets import redact, update_secrets

# Every attribute a plain LogRecord has; anything else on a record came in through `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message", "asctime", "taskName",
}


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {redact(str(key)): _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    return redact(str(value))


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}


class RedactionFilter(logging.Filter):
    """Rewrites a record before any formatter sees it: message, args, exception text, extra fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record or leak its args
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in _extras(record).items():
            setattr(record, key, _redact_value(value))
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the `extra` fields, exc when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in _extras(record).items():
            entry.setdefault(key, _redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class ReadableFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value …` for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = _extras(record)
        if extras:
            fields = " ".join(f"{key}={_redact_value(value)}" for key, value in extras.items())
            first, newline, rest = text.partition("\n")
            text = f"{first} {fields}{newline}{rest}"
        # Last line of defence: whatever a subclass or a third-party field added is redacted too.
        return redact(text)


class _BotHandler(logging.StreamHandler[TextIO]):
    """The handler setup_logging installs; marked so a second call replaces it instead of adding one."""


def setup_logging(
    level: str | int = "INFO",
    json_lines: bool | None = None,
    secrets: Iterable[str] = (),
    *,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Install the bot's one root handler (replacing an earlier one) and return it.

    json_lines None picks JSON lines when the stream is not a terminal (a service under a supervisor)
    and readable text when a person is watching.
    """
    update_secrets(secrets)
    target = stream if stream is not None else sys.stderr
    if json_lines is None:
        is_terminal = getattr(target, "isatty", None)
        json_lines = not (callable(is_terminal) and is_terminal())
    handler = _BotHandler(target)
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonLinesFormatter() if json_lines else ReadableFormatter())

    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _BotHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # httpx logs every request URL at INFO, and a Telegram Bot API URL carries the token;
    # redaction still covers them if someone lowers these levels again.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return handler


# A repeated log line (a refused connection, a broken request, a forged request) at most this often.
QUIET_INTERVAL = 60.0


class Throttled:
    """Logs a recurring line at most once per `interval`; the next line says how many were held back."""

    def __init__(self, logger: logging.Logger, interval: float = QUIET_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self.held = 0

    def __call__(self, level: int, message: str, *args: object) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            self.held += 1
            return
        if self.held:
            message += " (and %d more like it since the last report)"
            args = (*args, self.held)
        self._last, self.held = now, 0
        self._logger.log(level, message, *args)
