"""The toolkit components check their config sections with: Checker, Section, PlatformSettings.

Values are checked one at a time and every problem is collected with its key path; a component
declares its Section (key, settings dataclass, check) and config assembles them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Generic, TypeVar, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.bounded import shown
from bot.schedule import Schedule, parse_daily_time
from bot.secrets import MaskedRepr, mask, show

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|[dhms])")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|[dhms]))+")
_UTC = ZoneInfo("UTC")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# Longer than any wait the bot has a use for, short enough for timedelta, asyncio and Redis PX.
MAX_DURATION_SECONDS = 30 * 86400.0
# Digits of a whole number that arrives as text through ${VAR}; int() of 5,000 digits is refused.
_MAX_DIGITS = 18
# A cron expression with every field spelled out fits in far less.
MAX_SCHEDULE_CHARS = 200
# Key names shown in a key path are cut to this; a path must stay one readable line.
MAX_KEY_CHARS = 60
_ONE_WORD = re.compile(r"[^\s\x00-\x1f\x7f]+")


def key_text(key: object) -> str:
    """A mapping key as it appears in a key path: as written when short and printable, else quoted and cut."""
    text = key if isinstance(key, str) else "?" if isinstance(key, list | dict) else str(key)
    if len(text) <= MAX_KEY_CHARS and text.isprintable():
        return text
    return shown(text, MAX_KEY_CHARS)


def join(path: str, key: object) -> str:
    text = key_text(key)
    return f"{path}.{text}" if path else text


def one_word(value: str) -> bool:
    """No spaces or control characters: what a token, an id or a chat name may be."""
    return bool(_ONE_WORD.fullmatch(value))


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a string like "90s", "5m", "6h", "1h30m", "2d"; ValueError else."""
    if isinstance(value, bool):
        raise ValueError("expected a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            if not _DURATION.fullmatch(text):
                raise ValueError("expected a duration") from None
            seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))
    else:
        raise ValueError("expected a duration")
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError("expected a finite duration")
    return seconds


def normalize_schedule(value: str) -> str:
    """"HH:MM" zero-padded, or the cron expression with single spaces; ValueError with the reason.

    The scheduler's own parser decides, so a config that validates is one the scheduler can run.
    """
    try:
        return Schedule.parse(value, _UTC).expr
    except (ArithmeticError, IndexError, TypeError, AttributeError):
        # The cron library failing in its own way on an odd expression is still a bad schedule.
        raise ValueError(f"{shown(value)} is not a valid cron expression") from None


def kind(value: object) -> str:
    """What a value is, in a word a person recognises."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a name too long for a file name, or a folder where a zone file would be.
        return False
    return True


def http_url(value: str) -> bool:
    """An http(s) URL with a host, and nothing in it an HTTP client would refuse later (spaces, controls)."""
    if any(ord(character) < 0x21 or ord(character) == 0x7F for character in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class Checker:
    """Collects every problem instead of stopping at the first one."""

    def __init__(self, base_dir: Path, failed: set[str], secrets: Sequence[str]) -> None:
        self.base_dir = base_dir
        self.problems: list[tuple[str, str]] = []
        # Paths already reported while reading (an unset ${VAR}, a NUL); their emptied value would
        # only produce a second, confusing complaint.
        self.failed = failed
        self.secrets = secrets

    def show(self, value: object) -> str:
        """A value quoted for a message: bounded, its secrets masked (the message's own words never are)."""
        return show(value, self.secrets)

    def add(self, path: str, message: str) -> None:
        if path not in self.failed:
            self.problems.append((path, message))

    def section(self, value: object, path: str, allowed: Sequence[str]) -> dict[Any, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping with keys {', '.join(allowed)}, got {kind(value)}")
            return {}
        for key in value:
            if key not in allowed:
                guess = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6) if isinstance(key, str) else []
                hint = f"did you mean '{guess[0]}'?" if guess else f"expected one of {', '.join(allowed)}"
                self.add(join(path, key), f"unknown key; {hint}")
        return value

    def credential(self, section: Mapping[Any, Any], key: str, path: str) -> str:
        """A token or secret: one word. Never quoted in a message, whatever is wrong with it."""
        value = self.text(section, key, path, "").strip()
        if value and not one_word(value):
            self.add(join(path, key), "must be one word, without spaces or control characters")
            return ""
        return value

    def text(self, section: Mapping[Any, Any], key: str, path: str, default: str) -> str:
        value = section.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.add(join(path, key), f"expected a string, got {kind(value)}")
            return default
        return value

    def choice(self, section: Mapping[Any, Any], key: str, path: str, default: str,
               options: Sequence[str]) -> str:
        if not isinstance(section.get(key), str | None):
            return self.text(section, key, path, default)      # reported there as not a string
        value = self.text(section, key, path, default)
        if value not in options:
            self.add(join(path, key), f"{self.show(value)} is not one of {' | '.join(options)}")
            return default
        return value

    def integer(self, section: Mapping[Any, Any], key: str, path: str, default: int,
                minimum: int, maximum: int | None = None) -> int:
        value = section.get(key)
        if value is None:
            return default
        if isinstance(value, str) and re.fullmatch(rf"[-+]?\d{{1,{_MAX_DIGITS}}}", value.strip()):
            value = int(value)      # a number that came in through ${VAR}
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(join(path, key), f"expected a whole number, got {kind(value)}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"from {minimum:,} to {maximum:,}" if maximum is not None else f"at least {minimum:,}"
            self.add(join(path, key), f"must be {bounds}, got {self.show(value)}")
            return default
        return value

    def scale(self, section: Mapping[Any, Any], key: str, path: str) -> float:
        value = section.get(key)
        if value is None:
            return 1.0
        if isinstance(value, str):
            try:
                value = float(value)    # a number that came in through ${VAR}
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(join(path, key), f"expected a number, got {kind(value)}")
            return 1.0
        if not 0 < value <= 1000:
            self.add(join(path, key), f"must be greater than 0 and at most 1000, got {self.show(value)}")
            return 1.0
        return float(value)

    def boolean(self, section: Mapping[Any, Any], key: str, path: str, default: bool) -> bool:
        value = section.get(key)
        if value is None:
            return default
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"     # a boolean that came in through ${VAR}
        if not isinstance(value, bool):
            self.add(join(path, key), f"expected true or false, got {kind(value)}")
            return default
        return value

    def duration(self, section: Mapping[Any, Any], key: str, path: str, default: float,
                 *, allow_zero: bool = False) -> float:
        value = section.get(key)
        if value is None:
            return default
        try:
            seconds = parse_duration(value)
        except ValueError:
            self.add(join(path, key), f'expected seconds or a duration like "90s", "5m", "6h", got {self.show(value)}')
            return default
        if seconds < 0 or (seconds == 0 and not allow_zero):
            self.add(join(path, key), "must be greater than zero" if not allow_zero else "must not be negative")
            return default
        if seconds > MAX_DURATION_SECONDS:
            self.add(join(path, key), f"must be at most {MAX_DURATION_SECONDS / 86400:g} days, got {self.show(value)}")
            return default
        return seconds

    def string_list(self, value: object, path: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.add(path, f"expected a list of strings, got {kind(value)}")
            return ()
        items: list[str] = []
        for index, item in enumerate(value):
            where = f"{path}[{index}]"
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                self.add(where, f"expected a string, got {kind(item)}")
            elif not str(item).strip():
                self.add(where, "must not be empty")
            else:
                items.append(str(item).strip())
        return tuple(items)

    def zone(self, value: object, path: str) -> str | None:
        if not isinstance(value, str):
            self.add(path, f"expected a time zone name like Asia/Shanghai, got {kind(value)}")
            return None
        if not valid_zone(value):
            self.add(path, f"unknown time zone {self.show(value)} (use an IANA name like Asia/Shanghai or UTC)")
            return None
        return value

    def schedule(self, value: str, path: str, default: str) -> str:
        """The schedule normalized, as the scheduler will read it; the default after a problem."""
        if len(value) > MAX_SCHEDULE_CHARS:
            self.add(path, f"{self.show(value)} is too long for a schedule (at most {MAX_SCHEDULE_CHARS} "
                           "characters): expected HH:MM or a 5-field cron expression")
            return default
        try:
            return normalize_schedule(value)
        except ValueError as exc:
            message = str(exc)
            if mask(value, self.secrets) != value:
                # The parser quotes the value in its own ways (the cron library once more, lowercased);
                # with a secret in it, quote it once, masked, and say only what a schedule looks like.
                message = f"{self.show(value)} is not a schedule: expected HH:MM or a 5-field cron expression"
            self.add(path, message)
            return default

    def daily_time(self, section: Mapping[Any, Any], key: str, path: str, default: str) -> str:
        """A time of day, "HH:MM" zero-padded; the default after a problem."""
        value = self.text(section, key, path, default)
        try:
            at = parse_daily_time(value)
        except ValueError as exc:
            self.add(join(path, key), str(exc) if mask(value, self.secrets) == value
                     else f"{self.show(value)} is not a time of day: expected HH:MM")
            return default
        return f"{at.hour:02d}:{at.minute:02d}"


class PlatformSettings(MaskedRepr):
    """A platform's section: configured when its token is set (an empty token skips the platform).

    Subclasses are frozen dataclasses declared with repr=False, so the masking repr is the one used.
    """

    __slots__ = ()
    token: str

    @property
    def configured(self) -> bool:
        return bool(self.token)

    def wanted(self, channels: int) -> bool:
        """Whether the app opens the platform, given how many channels use it: a platform with a token
        may take commands without channels; one that needs nothing of its own (robots) only serves them."""
        return True

    def summary(self) -> str:
        """What `check-config` says of the platform."""
        return "configured" if self.configured else "skipped (no token)"


@dataclass(frozen=True, slots=True)
class ChannelOption:
    """A key a platform's channel entries may have besides where they post (a robot's `secret`, a `format`)."""

    key: str
    choices: tuple[str, ...] = ()      # set: the value must be one of these, the first being the default
    secret: bool = False               # a credential: one word, masked like a token, never quoted


@dataclass(frozen=True, slots=True)
class ChatRule:
    """How a channel entry of a platform names where its posts go, and the other keys it may have."""

    key: str = "chat"                  # the channel entry's key for it
    example: str = ""                  # set: the key is required, and its message shows this example
    pattern: re.Pattern[str] | None = None
    mismatch: str = ""                 # what the message says of a value that does not match `pattern`
    secret: bool = False               # the value is a credential (a webhook URL): masked like a token
    options: tuple[ChannelOption, ...] = ()


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Section(Generic[T]):
    """A component's config section: its top-level key, its settings dataclass (built with no
    arguments when the section is left out) and the check that turns the raw value into it."""

    key: str
    settings: type[T]
    check: Callable[[Checker, object], T]
    # A key the section must have when channels use the platform (an empty value only skips it),
    # and the environment variable the message suggests for it.
    required: str | None = None
    variable: str = ""
    chat: ChatRule = ChatRule()

    @property
    def keys(self) -> tuple[str, ...]:
        """The section's own key names: its dataclass's fields."""
        return tuple(item.name for item in fields(cast(Any, self.settings)))
