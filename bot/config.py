"""YAML + ${ENV} → validated, typed settings; every mistake reported at once with its key path."""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.errors import ConfigError
from bot.logs import REDACTED, redact
from bot.schedule import Schedule
from bot.store import mask_url

# Field names whose values are secrets wherever they appear in the settings.
SECRET_FIELDS = frozenset({"token", "signing_secret", "app_token", "webhook_secret"})


def _masked_repr(obj: Any) -> str:
    shown = []
    for item in fields(obj):
        value = getattr(obj, item.name)
        if item.name in SECRET_FIELDS:
            text = repr(REDACTED if value else "")
        elif item.name in ("store", "source"):
            text = repr(mask_url(value))
        else:
            text = repr(value)
        shown.append(f"{item.name}={text}")
    return f"{type(obj).__name__}({', '.join(shown)})"


@dataclass(frozen=True, slots=True)
class CategoryRule:
    name: str
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DigestSettings:
    # A folder (resolved against the config file's folder) or an http(s) URL template.
    source: str = "./examples"
    # While the day's digest is not published yet at a scheduled time: poll every interval, give up at deadline.
    poll_interval: float = 300.0
    poll_deadline: float = 6 * 3600.0
    # A delivery missed while the bot was down is still made at start-up within this window.
    catch_up: float = 6 * 3600.0
    fetch_timeout: float = 20.0

    def __repr__(self) -> str:
        return _masked_repr(self)


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    token: str = field(default="", repr=False)
    base_url: str = "https://api.telegram.org/bot"
    updates: str = "polling"          # polling | webhook | off
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    # Multiplies Telegram's flood limits the bot keeps (a local Bot API server, paid broadcasts).
    rate_limit_scale: float = 1.0

    @property
    def configured(self) -> bool:
        return bool(self.token)

    def __repr__(self) -> str:
        return _masked_repr(self)


@dataclass(frozen=True, slots=True)
class SlackSettings:
    token: str = field(default="", repr=False)
    signing_secret: str = field(default="", repr=False)
    app_token: str = field(default="", repr=False)
    base_url: str = "https://slack.com/api/"
    # Users (ids) besides workspace admins who may /digest subscribe and unsubscribe.
    admins: tuple[str, ...] = ()
    # Post today/item/category replies for the whole channel without the `public` word.
    public_replies: bool = False
    # Multiplies the per-channel posting pace the bot keeps (about one message a second).
    rate_limit_scale: float = 1.0

    @property
    def configured(self) -> bool:
        return bool(self.token)

    def __repr__(self) -> str:
        return _masked_repr(self)


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "0.0.0.0"
    port: int = 8080
    max_body_bytes: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    lease_ttl: float = 60.0
    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    name: str
    platform: str                     # console | telegram | slack
    chat: str = ""
    schedule: str = "09:30"           # "HH:MM" daily or a 5-field cron expression
    timezone: str | None = None       # None: the config's time zone


@dataclass(frozen=True, slots=True)
class Settings:
    version: int = 1
    timezone: str = "Asia/Shanghai"
    language: str = "zh"              # zh | en
    digests: DigestSettings = field(default_factory=DigestSettings)
    categories: tuple[CategoryRule, ...] = ()
    store: str = "sqlite:///./digestbot.db"
    # Every key the store writes (Redis) starts with this, so several bots can share one server.
    store_prefix: str = "digestbot:"
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    slack: SlackSettings = field(default_factory=SlackSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    channels: tuple[ChannelSettings, ...] = ()
    # The folder relative paths resolve against (the config file's folder).
    base_dir: Path = field(default_factory=Path.cwd)

    def __repr__(self) -> str:
        return _masked_repr(self)


# ---------------------------------------------------------------------------------------------------
# Reading YAML

_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _Loader(yaml.SafeLoader):
    """YAML with 1.2-style plain scalars.

    YAML 1.1 reads `schedule: 9:30` as the number 570 (base 60), `updates: off` as false and
    `0755` as octal; in a config file each of those is a surprise, so only true/false are booleans,
    numbers are decimal and dates stay strings.
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in {_BOOL_TAG, _INT_TAG, _FLOAT_TAG, _TIMESTAMP_TAG}]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(_INT_TAG, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?
                   |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.VERBOSE),
    list("-+0123456789."),
)

# `$${` writes a literal `${`; `${NAME}` and `${NAME:-default}` are references; a lone `${` is a mistake.
_REFERENCE = re.compile(r"\$(?P<escaped>\$\{)|\$\{(?P<body>[^}]*)\}|\$\{")
_REFERENCE_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.DOTALL)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _expand(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Substitute the references in one string; return the result and what went wrong."""
    mistakes: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "${"
        body = match.group("body")
        if body is None:
            mistakes.append("'${' without a closing '}'")
            return ""
        reference = _REFERENCE_BODY.fullmatch(body)
        if reference is None:
            mistakes.append(f"'${{{body}}}' is not a reference; write ${{NAME}} or ${{NAME:-default}}")
            return ""
        name, default = reference.group("name"), reference.group("default")
        if name in env:
            return env[name]
        if default is not None:
            return default
        mistakes.append(f"environment variable {name} is not set (write ${{{name}:-}} if it may be empty)")
        return ""

    return _REFERENCE.sub(replace, text), mistakes


class _Tree:
    """What one walk over the composed YAML learns besides the substitutions."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[tuple[str, str]] = []
        self.failed: set[str] = set()        # key paths whose ${VAR} could not be substituted
        self.lines: dict[str, int] = {}      # key path → line of its key (or list item)
        self.seen: set[int] = set()


def _expand_tree(node: yaml.Node, path: str, tree: _Tree) -> None:
    """Substitute environment references in every string scalar, in place; flag duplicate keys."""
    tree.lines.setdefault(path, node.start_mark.line + 1)
    if id(node) in tree.seen:     # an anchor used twice is one node: expand it once
        return
    tree.seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR_TAG and "${" in node.value:
            node.value, mistakes = _expand(node.value, tree.env)
            tree.problems += [(path, mistake) for mistake in mistakes]
            if mistakes:
                tree.failed.add(path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _expand_tree(item, f"{path}[{index}]", tree)
    elif isinstance(node, yaml.MappingNode):
        keys_seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            child = _join(path, key)
            if key != "<<" and isinstance(key_node, yaml.ScalarNode):
                if key in keys_seen:
                    tree.problems.append((child, f"repeated at line {key_node.start_mark.line + 1}; "
                                                 "only one of the two would count"))
                else:
                    tree.lines[child] = key_node.start_mark.line + 1
                keys_seen.add(key)
            _expand_tree(value_node, child, tree)


def _read_yaml(text: str, tree: _Tree) -> Any:
    """The document with references substituted; a syntax error lands in tree.problems as one line."""
    problems = tree.problems
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expand_tree(node, "", tree)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        what = exc.problem or exc.context or "malformed YAML"
        if exc.context and exc.problem and exc.context_mark:
            what = f"{what} ({exc.context} at line {exc.context_mark.line + 1})"
        problems.append(("", f"YAML syntax error at {where}: {what}"))
    except yaml.YAMLError as exc:
        problems.append(("", f"not readable as YAML: {exc}"))
    finally:
        loader.dispose()
    return None


# ---------------------------------------------------------------------------------------------------
# Values

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|[dhms])")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|[dhms]))+")
_UTC = ZoneInfo("UTC")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


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
    return Schedule.parse(value, _UTC).expr


def _kind(value: object) -> str:
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




def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_TELEGRAM_CHAT = re.compile(r"-?\d+|@[A-Za-z][A-Za-z0-9_]{3,}")
_CHANNEL_NAME = re.compile(r"[^\s/:]+")
_PLATFORMS = ("console", "telegram", "slack")
_DEFAULT_SCHEDULE = "09:30"


# ---------------------------------------------------------------------------------------------------
# Validation

class _Checker:
    """Collects every problem instead of stopping at the first one."""

    def __init__(self, base_dir: Path, failed: set[str], secrets: Sequence[str]) -> None:
        self.base_dir = base_dir
        self.problems: list[tuple[str, str]] = []
        # Paths whose ${VAR} could not be substituted are already reported; their (empty) value
        # would only produce a second, confusing complaint.
        self.failed = failed
        self.secrets = secrets

    def show(self, value: object) -> str:
        """A value quoted for a message: secrets masked first, so shortening cannot cut one in half."""
        text = _scrub(repr(value), self.secrets)
        return text if len(text) <= 60 else text[:57] + "…'"

    def add(self, path: str, message: str) -> None:
        if path not in self.failed:
            self.problems.append((path, message))

    def section(self, value: object, path: str, allowed: Sequence[str]) -> dict[Any, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping with keys {', '.join(allowed)}, got {_kind(value)}")
            return {}
        for key in value:
            if key not in allowed:
                name = str(key)
                guess = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
                hint = f"did you mean '{guess[0]}'?" if guess else f"expected one of {', '.join(allowed)}"
                self.add(_join(path, name), f"unknown key; {hint}")
        return value

    def text(self, section: Mapping[Any, Any], key: str, path: str, default: str) -> str:
        value = section.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.add(_join(path, key), f"expected a string, got {_kind(value)}")
            return default
        return value

    def choice(self, section: Mapping[Any, Any], key: str, path: str, default: str,
               options: Sequence[str]) -> str:
        value = self.text(section, key, path, default)
        if value not in options:
            self.add(_join(path, key), f"{self.show(value)} is not one of {' | '.join(options)}")
            return default
        return value

    def integer(self, section: Mapping[Any, Any], key: str, path: str, default: int,
                minimum: int, maximum: int | None = None) -> int:
        value = section.get(key)
        if value is None:
            return default
        if isinstance(value, str) and re.fullmatch(r"[-+]?\d+", value.strip()):
            value = int(value)      # a number that came in through ${VAR}
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(_join(path, key), f"expected a whole number, got {_kind(value)}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            self.add(_join(path, key), f"must be {bounds}, got {value}")
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
            self.add(_join(path, key), f"expected a number, got {_kind(value)}")
            return 1.0
        if not 0 < value <= 1000:
            self.add(_join(path, key), f"must be greater than 0 and at most 1000, got {value}")
            return 1.0
        return float(value)

    def boolean(self, section: Mapping[Any, Any], key: str, path: str, default: bool) -> bool:
        value = section.get(key)
        if value is None:
            return default
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"     # a boolean that came in through ${VAR}
        if not isinstance(value, bool):
            self.add(_join(path, key), f"expected true or false, got {_kind(value)}")
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
            self.add(_join(path, key), f'expected seconds or a duration like "90s", "5m", "6h", got {self.show(value)}')
            return default
        if seconds < 0 or (seconds == 0 and not allow_zero):
            self.add(_join(path, key), "must be greater than zero" if not allow_zero else "must not be negative")
            return default
        return seconds

    def string_list(self, value: object, path: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.add(path, f"expected a list of strings, got {_kind(value)}")
            return ()
        items: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                self.add(f"{path}[{index}]", f"expected a string, got {_kind(item)}")
            elif not str(item).strip():
                self.add(f"{path}[{index}]", "must not be empty")
            else:
                items.append(str(item).strip())
        return tuple(items)

    def zone(self, value: object, path: str) -> str | None:
        if not isinstance(value, str):
            self.add(path, f"expected a time zone name like Asia/Shanghai, got {_kind(value)}")
            return None
        if not _valid_zone(value):
            self.add(path, f"unknown time zone {self.show(value)} (use an IANA name like Asia/Shanghai or UTC)")
            return None
        return value


_TOP_KEYS = ("version", "timezone", "language", "digests", "categories", "store", "store_prefix", "telegram",
             "slack", "server", "channels", "delivery")
_DIGEST_KEYS = ("source", "poll_interval", "poll_deadline", "catch_up", "fetch_timeout")
_CATEGORY_KEYS = ("aliases", "keywords")
_TELEGRAM_KEYS = ("token", "base_url", "updates", "webhook_url", "webhook_secret", "rate_limit_scale")
_SLACK_KEYS = ("token", "signing_secret", "app_token", "base_url", "admins", "public_replies", "rate_limit_scale")
_SERVER_KEYS = ("listen", "max_body_bytes")
_DELIVERY_KEYS = ("lease_ttl", "max_attempts", "backoff_base", "backoff_max")
_CHANNEL_KEYS = ("name", "platform", "chat", "schedule", "timezone")


def _digests(check: _Checker, raw: object) -> DigestSettings:
    section = check.section(raw, "digests", _DIGEST_KEYS)
    defaults = DigestSettings()
    source = check.text(section, "source", "digests", defaults.source).strip()
    if "://" in source:
        if not _http_url(source):
            check.add("digests.source", "a URL template must be http:// or https:// with a host")
        elif "{date" not in source:
            check.add("digests.source", "a URL template needs a {date:%Y-%m-%d} placeholder (any strftime format)")
        else:
            try:
                source.format(date=dt.date(2025, 9, 25))
            except (KeyError, IndexError, ValueError, AttributeError):
                check.add("digests.source",
                          "the URL template may use only {date} or {date:FORMAT} placeholders "
                          "(write {{ and }} for literal braces)")
    elif source:
        folder = Path(source).expanduser()
        # Existence is not checked: a config is often validated away from where it runs (CI, an
        # image build) and the folder may be a volume mounted at start-up.
        source = str((folder if folder.is_absolute() else check.base_dir / folder).resolve())
    else:
        check.add("digests.source", "must name a folder or an http(s) URL template")
    return DigestSettings(
        source=source,
        poll_interval=check.duration(section, "poll_interval", "digests", defaults.poll_interval),
        poll_deadline=check.duration(section, "poll_deadline", "digests", defaults.poll_deadline),
        catch_up=check.duration(section, "catch_up", "digests", defaults.catch_up, allow_zero=True),
        fetch_timeout=check.duration(section, "fetch_timeout", "digests", defaults.fetch_timeout),
    )


def _categories(check: _Checker, raw: object) -> tuple[CategoryRule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        check.add("categories", f"expected a mapping of Name: {{aliases: [...], keywords: [...]}}, got {_kind(raw)}")
        return ()
    before = len(check.problems)
    cleaned: dict[str, dict[str, list[str]]] = {}
    owner: dict[str, str] = {}      # every name and alias, casefolded → the category it selects
    for name, body in raw.items():
        path = _join("categories", name)
        if not isinstance(name, str) or not name.strip():
            check.add(path, "a category name must be a non-empty string")
            continue
        section = check.section(body, path, _CATEGORY_KEYS)
        aliases = check.string_list(section.get("aliases"), _join(path, "aliases"))
        keywords = check.string_list(section.get("keywords"), _join(path, "keywords"))
        for index, word in enumerate((name, *aliases)):
            word_path = path if index == 0 else f"{path}.aliases[{index - 1}]"
            other = owner.setdefault(word.casefold(), name)
            if other != name:
                check.add(word_path, f"{word!r} already selects category {other!r}")
        cleaned[name] = {"aliases": list(aliases), "keywords": list(keywords)}
    if len(check.problems) > before:
        return ()
    try:
        from bot.digest.categories import rules_from_mapping
    except ImportError:
        return tuple(CategoryRule(name, tuple(body["aliases"]), tuple(body["keywords"]))
                     for name, body in cleaned.items())
    try:
        return tuple(rules_from_mapping(cleaned))
    except ValueError as exc:
        # Its messages start with the entry's path inside the mapping: "Hardware.aliases[1]: …".
        where, separator, message = str(exc).partition(": ")
        if separator and any(where == name or where.startswith((f"{name}.", f"{name}[")) for name in cleaned):
            check.add(_join("categories", where), message)
        else:
            check.add("categories", str(exc))
    return ()


def _store(check: _Checker, raw: Mapping[Any, Any]) -> str:
    url = check.text(raw, "store", "", Settings().store).strip()
    expected = "expected memory://, sqlite:///PATH, redis://HOST:PORT/DB or rediss://HOST:PORT/DB"
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "memory":
        return url
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
            check.add("store", "write sqlite:///relative/path.db or sqlite:////absolute/path.db")
        return url
    if scheme in ("redis", "rediss"):
        try:
            parts = urlsplit(url)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            check.add("store", "the Redis port must be a number from 1 to 65535")
            return url
        if not parts.hostname:
            check.add("store", "a Redis URL needs a host, like redis://127.0.0.1:6379/0")
        if not port_ok:
            check.add("store", "the Redis port must be a number from 1 to 65535")
        if parts.path not in ("", "/") and not re.fullmatch(r"/\d+", parts.path):
            check.add("store", "the Redis database after the host must be a number, like /0")
        return url
    check.add("store", f"{expected}; got {check.show(mask_url(url))}" if url else expected)
    return url


def _store_prefix(check: _Checker, raw: Mapping[Any, Any]) -> str:
    prefix = check.text(raw, "store_prefix", "", Settings().store_prefix)
    if not re.fullmatch(r"[A-Za-z0-9_.:{}-]{1,64}", prefix):
        check.add("store_prefix", "expected 1-64 characters of letters, digits and _ . : - { }")
        return Settings().store_prefix
    return prefix


def _telegram(check: _Checker, raw: object) -> TelegramSettings:
    section = check.section(raw, "telegram", _TELEGRAM_KEYS)
    defaults = TelegramSettings()
    token = check.text(section, "token", "telegram", "").strip()
    base_url = check.text(section, "base_url", "telegram", defaults.base_url).strip()
    if not _http_url(base_url):
        check.add("telegram.base_url", "expected an http(s) URL like https://api.telegram.org/bot")
    updates = check.choice(section, "updates", "telegram", defaults.updates, ("polling", "webhook", "off"))
    webhook_url = check.text(section, "webhook_url", "telegram", "").strip()
    if webhook_url:
        try:
            parts = urlsplit(webhook_url)
            host = parts.hostname
        except ValueError:
            parts, host = None, None
        if parts is None or not host or not (
                parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK)):
            check.add("telegram.webhook_url",
                      "must be an https:// URL (plain http only for http://127.0.0.1, a local Bot API server)")
    webhook_secret = check.text(section, "webhook_secret", "telegram", "")
    if webhook_secret and not _WEBHOOK_SECRET.fullmatch(webhook_secret):
        check.add("telegram.webhook_secret", "must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    # Webhook requirements only bind a configured platform: without a token Telegram is skipped.
    if token and updates == "webhook":
        if not webhook_url:
            check.add("telegram.webhook_url", "required when telegram.updates is webhook")
        if not webhook_secret:
            check.add("telegram.webhook_secret",
                      "required when telegram.updates is webhook (1-256 characters of A-Z, a-z, 0-9, _ and -)")
    return TelegramSettings(token=token, base_url=base_url, updates=updates, webhook_url=webhook_url,
                            webhook_secret=webhook_secret,
                            rate_limit_scale=check.scale(section, "rate_limit_scale", "telegram"))


def _slack(check: _Checker, raw: object) -> SlackSettings:
    section = check.section(raw, "slack", _SLACK_KEYS)
    defaults = SlackSettings()
    token = check.text(section, "token", "slack", "").strip()
    signing_secret = check.text(section, "signing_secret", "slack", "").strip()
    app_token = check.text(section, "app_token", "slack", "").strip()
    base_url = check.text(section, "base_url", "slack", defaults.base_url).strip()
    if not _http_url(base_url):
        check.add("slack.base_url", "expected an http(s) URL like https://slack.com/api/")
    if token and not signing_secret and not app_token:
        check.add("slack.signing_secret",
                  "required when slack.token is set (or set slack.app_token to use Socket Mode instead)")
    return SlackSettings(
        token=token, signing_secret=signing_secret, app_token=app_token, base_url=base_url,
        admins=check.string_list(section.get("admins"), "slack.admins"),
        public_replies=check.boolean(section, "public_replies", "slack", defaults.public_replies),
        rate_limit_scale=check.scale(section, "rate_limit_scale", "slack"),
    )


def _server(check: _Checker, raw: object) -> ServerSettings:
    section = check.section(raw, "server", _SERVER_KEYS)
    defaults = ServerSettings()
    host, port = defaults.host, defaults.port
    listen = section.get("listen")
    if listen is not None:
        match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\s\[\]]+):(\d{1,5})", str(listen).strip()) \
            if isinstance(listen, str) else None
        if match is None or int(match.group(2)) > 65535:
            check.add("server.listen", f'expected "host:port" like "0.0.0.0:8080", got {check.show(listen)}')
        else:
            host, port = match.group(1).strip("[]"), int(match.group(2))
    max_body = check.integer(section, "max_body_bytes", "server", defaults.max_body_bytes, 1024)
    return ServerSettings(host=host, port=port, max_body_bytes=max_body)


def _delivery(check: _Checker, raw: object) -> DeliverySettings:
    section = check.section(raw, "delivery", _DELIVERY_KEYS)
    defaults = DeliverySettings()
    settings = DeliverySettings(
        lease_ttl=check.duration(section, "lease_ttl", "delivery", defaults.lease_ttl),
        max_attempts=check.integer(section, "max_attempts", "delivery", defaults.max_attempts, 1),
        backoff_base=check.duration(section, "backoff_base", "delivery", defaults.backoff_base),
        backoff_max=check.duration(section, "backoff_max", "delivery", defaults.backoff_max),
    )
    if settings.backoff_max < settings.backoff_base:
        check.add("delivery.backoff_max", "must not be shorter than delivery.backoff_base")
    return settings


def _channels(check: _Checker, raw: object) -> tuple[ChannelSettings, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        check.add("channels", f"expected a list of channels, got {_kind(raw)}")
        return ()
    channels: list[ChannelSettings] = []
    first_use: dict[str, str] = {}
    for index, entry in enumerate(raw):
        path = f"channels[{index}]"
        if not isinstance(entry, dict):
            check.add(path, f"expected a mapping like {{name: ..., platform: ..., chat: ...}}, got {_kind(entry)}")
            continue
        section = check.section(entry, path, _CHANNEL_KEYS)
        name = check.text(section, "name", path, "").strip()
        if not name:
            if "name" not in section:
                check.add(_join(path, "name"), "required")
            elif isinstance(section["name"], str):
                check.add(_join(path, "name"), "must not be empty")
        elif not _CHANNEL_NAME.fullmatch(name):
            check.add(_join(path, "name"), f"{check.show(name)} must not contain spaces, '/' or ':'")
        elif name in first_use:
            check.add(_join(path, "name"), f"duplicate channel name {name!r} (also {first_use[name]})")
        else:
            first_use[name] = path
        if "platform" not in section:
            check.add(_join(path, "platform"), f"required: one of {' | '.join(_PLATFORMS)}")
            platform = ""
        else:
            platform = check.choice(section, "platform", path, "", _PLATFORMS)
        chat_value = section.get("chat")
        chat = ""
        if chat_value is not None:
            if isinstance(chat_value, bool) or not isinstance(chat_value, str | int):
                check.add(_join(path, "chat"), f"expected a chat id, got {_kind(chat_value)}")
            else:
                chat = str(chat_value).strip()
        if platform in ("telegram", "slack") and not chat and _join(path, "chat") not in check.failed:
            example = "-1001234567890 or @channelname" if platform == "telegram" else "C0123456789"
            check.add(_join(path, "chat"), f"required for a {platform} channel, like {example}")
        elif platform == "telegram" and chat and not _TELEGRAM_CHAT.fullmatch(chat):
            check.add(_join(path, "chat"), f"{check.show(chat)} is neither a numeric chat id nor an @username")
        schedule = check.text(section, "schedule", path, _DEFAULT_SCHEDULE)
        try:
            schedule = normalize_schedule(schedule)
        except ValueError as exc:
            check.add(_join(path, "schedule"), str(exc))
        timezone = None
        if section.get("timezone") is not None:
            timezone = check.zone(section["timezone"], _join(path, "timezone"))
        channels.append(ChannelSettings(name=name, platform=platform, chat=chat, schedule=schedule,
                                        timezone=timezone))
    return tuple(channels)


def _raw_secrets(data: object) -> list[str]:
    """Secret values as written (after substitution), whatever shape the rest of the file has."""
    found: list[str] = []
    if not isinstance(data, dict):
        return found
    for section in ("telegram", "slack"):
        body = data.get(section)
        if isinstance(body, dict):
            found += [str(body[key]) for key in SECRET_FIELDS if body.get(key) not in (None, "")]
    digests = data.get("digests")
    for url in (data.get("store"), digests.get("source") if isinstance(digests, dict) else None):
        if isinstance(url, str):
            try:
                password = urlsplit(url).password
            except ValueError:
                password = None
            if password:
                found.append(password)
    return found


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret.strip():
            text = text.replace(secret, REDACTED)
    return redact(text)


def _validate(data: object, base_dir: Path, failed: set[str],
              secrets: Sequence[str]) -> tuple[Settings, list[tuple[str, str]]]:
    check = _Checker(base_dir, failed, secrets)
    if data is None:
        check.add("", "the file is empty; start from config.example.yaml")
        return Settings(base_dir=base_dir), check.problems
    if not isinstance(data, dict):
        check.add("", f"expected a mapping of top-level keys ({', '.join(_TOP_KEYS)}), got {_kind(data)}")
        return Settings(base_dir=base_dir), check.problems
    root = check.section(data, "", _TOP_KEYS)
    defaults = Settings()
    version = check.integer(root, "version", "", 1, 0)
    if version != 1:
        check.add("version", f"unsupported config version {version}; this bot reads version 1")
    timezone = check.text(root, "timezone", "", defaults.timezone)
    if check.zone(timezone, "timezone") is None:
        timezone = defaults.timezone
    settings = Settings(
        version=1,
        timezone=timezone,
        language=check.choice(root, "language", "", defaults.language, ("zh", "en")),
        digests=_digests(check, root.get("digests")),
        categories=_categories(check, root.get("categories")),
        store=_store(check, root),
        store_prefix=_store_prefix(check, root),
        telegram=_telegram(check, root.get("telegram")),
        slack=_slack(check, root.get("slack")),
        server=_server(check, root.get("server")),
        delivery=_delivery(check, root.get("delivery")),
        channels=_channels(check, root.get("channels")),
        base_dir=base_dir,
    )
    # A platform's channels need its section's `token` key to exist; an empty value is fine (it means
    # "not configured, skip"), a missing key is almost always a typo or a forgotten section.
    for platform in ("telegram", "slack"):
        users = [c.name or f"channels[{i}]" for i, c in enumerate(settings.channels) if c.platform == platform]
        body = root.get(platform)
        if users and not (isinstance(body, dict) and "token" in body):
            variable = f"{platform.upper()}_BOT_TOKEN"
            check.add(f"{platform}.token",
                      f"missing, but channel(s) {', '.join(users)} use {platform}; "
                      f"write token: ${{{variable}:-}} to leave it unconfigured")
    return settings, check.problems


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Settings:
    """Read, substitute and validate a config file; ConfigError lists every mistake with its key path."""
    source = str(path)
    config_path = Path(path).expanduser()
    try:
        raw_bytes = config_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, [("", "no such file (copy config.example.yaml to start one)")]) from None
    except IsADirectoryError:
        raise ConfigError(source, [("", "is a folder, not a config file")]) from None
    except OSError as exc:
        raise ConfigError(source, [("", f"cannot read the file: {exc.strerror or exc}")]) from None
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [("", f"not UTF-8 text (byte {exc.start})")]) from None

    tree = _Tree(os.environ if env is None else env)
    data = _read_yaml(text, tree)
    base_dir = config_path.resolve().parent
    settings = Settings(base_dir=base_dir)
    problems = tree.problems
    secrets = _raw_secrets(data)
    if not any(path == "" and message.startswith("YAML") for path, message in problems):
        settings, more = _validate(data, base_dir, tree.failed, secrets)
        problems += more
    if problems:
        located = sorted(((_line_of(path, tree.lines), path, message) for path, message in problems),
                         key=lambda entry: entry[0] or 10**9)
        raise ConfigError(source, [
            (_scrub(path, secrets), _scrub(f"{message} (line {line})" if line else message, secrets))
            for line, path, message in located
        ])
    return settings


def _line_of(path: str, lines: Mapping[str, int]) -> int | None:
    """The line of a key path, or of its nearest ancestor present in the file."""
    while path:
        if path in lines:
            return lines[path]
        parent = re.sub(r"(\.[^.]*|\[\d+\])$", "", path)
        path = "" if parent == path else parent
    return None


# ---------------------------------------------------------------------------------------------------
# For logs and people

def secrets_of(settings: Settings) -> list[str]:
    """Every non-empty secret value in the settings, for log redaction."""
    values = [settings.telegram.token, settings.telegram.webhook_secret, settings.slack.token,
              settings.slack.signing_secret, settings.slack.app_token]
    for url in (settings.store, settings.digests.source):
        try:
            values.append(urlsplit(url).password or "")
        except ValueError:
            pass
    return [value for value in values if value]


def sqlite_path(settings: Settings) -> Path | None:
    """The sqlite database file a sqlite:/// store URL names, resolved; None for other stores."""
    if not settings.store.startswith("sqlite:///"):
        return None
    database = Path(settings.store[len("sqlite:///"):]).expanduser()
    return database if database.is_absolute() else (settings.base_dir / database).resolve()


def summarize(settings: Settings) -> str:
    """A few lines for people: what this config will do, secrets masked."""
    source = mask_url(settings.digests.source)
    source_kind = "URL template" if "://" in source else "folder"
    store = mask_url(settings.store)
    database = sqlite_path(settings)
    if database is not None:
        store = f"{store} ({database})"
    elif settings.store.startswith(("redis://", "rediss://")):
        store = f"{store} (keys prefixed {settings.store_prefix})"
    telegram = (f"configured ({settings.telegram.updates})" if settings.telegram.configured
                else "skipped (no token)")
    if settings.slack.configured:
        slack = "configured (Socket Mode)" if settings.slack.app_token else "configured (HTTP endpoints)"
    else:
        slack = "skipped (no token)"
    platform_ready = {"console": True, "telegram": settings.telegram.configured,
                      "slack": settings.slack.configured}
    lines = [
        f"time zone: {settings.timezone}; language: {settings.language}",
        f"digests: {source} ({source_kind})",
        f"categories: {', '.join(rule.name for rule in settings.categories) or 'none'}",
        f"store: {store}",
        f"telegram: {telegram}",
        f"slack: {slack}",
        f"server: {settings.server.host}:{settings.server.port}",
        f"channels: {len(settings.channels)}",
    ]
    for channel in settings.channels:
        where = f" {channel.chat}" if channel.chat else ""
        zone = channel.timezone or settings.timezone
        state = "" if platform_ready.get(channel.platform) else ", skipped"
        lines.append(f"  {channel.name}: {channel.platform}{where} at {channel.schedule} {zone}{state}")
    return "\n".join(lines)
