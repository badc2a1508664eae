"""How a secret or a credential-bearing URL is hidden: the secret values, token shapes, and masking them
in logs, error messages and quoted URLs."""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterable
from dataclasses import fields
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from bot.bounded import shown

REDACTED = "***"

# Field names whose values are secrets wherever they appear in the settings.
SECRET_FIELDS = frozenset({"token", "signing_secret", "app_token", "webhook_secret", "app_secret", "verification_token",
                           "encrypt_key"})
# Settings holding a URL that may carry a password.
URL_FIELDS = frozenset({"store", "source"})
_URL_SETTINGS = (("store",), ("digests", "source"))

# A key path's own separators: `.` between keys and `[3]` after a list.
_PATH_SEPARATORS = re.compile(r"(\.|\[\d+\])")

# Token shapes are redacted even when nobody told us the value: a token pasted into an error, a URL
# logged by an HTTP library (the Telegram token sits inside every Bot API URL after "/bot").
_TOKEN_SHAPES = (
    r"\d{6,}:[A-Za-z0-9_-]{30,}",                    # Telegram bot token
    r"xox[abeprs](?:\.xox[bp])?-[A-Za-z0-9-]+",      # Slack bot, user and refresh tokens
    r"xapp-[A-Za-z0-9-]+",                           # Slack app-level (Socket Mode) token
    r"(?<=/webhooks/)\d{1,25}/[A-Za-z0-9_.-]{20,}",  # Discord webhook (or interaction) id and token in a URL
)

# A configured secret shorter than this is not redacted by value: replacing every occurrence of
# two or three common characters would make the logs unreadable while protecting nothing real.
MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] = re.compile("|".join(_TOKEN_SHAPES))


def maskable(value: object, min_length: int = MIN_SECRET_LENGTH) -> bool:
    """Whether a secret is masked by value: a non-empty string at least `min_length` long, blanks aside.

    min_length 0 masks every non-empty value however short, for a caller that knows the exact
    values (a platform's own token) rather than guarding against whatever a config holds.
    """
    return isinstance(value, str) and value != "" and len(value.strip()) >= min_length


def hide(text: str, secrets: Iterable[str], *, min_length: int = MIN_SECRET_LENGTH) -> str:
    """The text with every given secret that is maskable at `min_length` replaced by ***."""
    # Longest first, so that a secret containing another is replaced whole.
    for secret in sorted({secret for secret in secrets if maskable(secret, min_length)}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _compile() -> re.Pattern[str]:
    literal = [re.escape(secret) for secret in sorted(_secrets, key=len, reverse=True)]
    return re.compile("|".join([*literal, *_TOKEN_SHAPES]))


def update_secrets(secrets: Iterable[str]) -> None:
    """Add secret values that redact() hides from now on (values already known are kept)."""
    global _pattern
    fresh = {s for s in secrets if maskable(s)}
    with _lock:
        if fresh <= _secrets:
            return
        _secrets.update(fresh)
        _pattern = _compile()


def forget_secrets() -> None:
    """Drop every configured secret (token shapes stay redacted); for a fresh start in one process."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = _compile()


def redact(text: str) -> str:
    """The text with every configured secret and every token-shaped string replaced by ***."""
    return _pattern.sub(REDACTED, text)


def url_password(url: str) -> str | None:
    """The password in a URL's user:password@, if it has one."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _setting(data: dict[object, object], keys: tuple[str, ...]) -> object:
    value: object = data
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def raw_secrets(data: object, sections: Iterable[str]) -> list[str]:
    """Secret values as written (after substitution) in the given sections, whatever shape the rest
    of the file has.

    Only strings count: a secret of another type is refused anyway, and turning an aliased list
    into text here would cost what the alias bound exists to prevent.
    """
    found: list[str] = []
    if not isinstance(data, dict):
        return found
    for section in sections:
        body = data.get(section)
        if isinstance(body, dict):
            found += [value for key in sorted(SECRET_FIELDS) if isinstance(value := body.get(key), str) and value]
    for keys in _URL_SETTINGS:
        url = _setting(data, keys)
        if isinstance(url, str):
            password = url_password(url)
            if password:
                found.append(password)
    return found


def masked_repr(obj: Any) -> str:
    """A settings dataclass as repr() shows it: secret fields as ***, passwords in URLs masked."""
    shown_fields = []
    for item in fields(obj):
        value = getattr(obj, item.name)
        if item.name in SECRET_FIELDS:
            text = repr(REDACTED if value else "")
        elif item.name in URL_FIELDS:
            text = repr(mask_url(value))
        else:
            text = repr(value)
        shown_fields.append(f"{item.name}={text}")
    return f"{type(obj).__name__}({', '.join(shown_fields)})"


class MaskedRepr:
    """Base of a settings dataclass (declared with repr=False) whose repr() must not show its secrets."""

    __slots__ = ()

    def __repr__(self) -> str:
        return masked_repr(self)


def mask(text: str, secrets: Iterable[str]) -> str:
    """The text with every secret long enough to be one (and every token-shaped string) as ***."""
    return redact(hide(text, secrets))


def show(value: object, secrets: Iterable[str]) -> str:
    """A value quoted for a message, bounded in length, its secrets masked before it is cut, so
    that shortening never leaves half a secret."""
    if isinstance(value, str):
        return shown(mask(value, secrets))
    return mask(shown(value), secrets)


def mask_path(path: str, secrets: Iterable[str], own_words: Collection[str]) -> str:
    """A key path with secrets masked only in the keys the file named itself.

    The bot's own key names (`channels`, `schedule`, …) are never masked, so a short secret cannot
    turn `channels[0].schedule` into `chann***ls[0].sch***dul***`; a key nobody expected (a typo,
    a category name) may be anything, a pasted token included.
    """
    secrets = list(secrets)
    shown_parts: list[str] = []
    foreign: list[str] = []
    for piece in _PATH_SEPARATORS.split(path):
        if piece in own_words:
            if foreign:
                shown_parts.append(mask("".join(foreign), secrets))
                foreign.clear()
            shown_parts.append(piece)
        elif piece:
            foreign.append(piece)
    if foreign:
        shown_parts.append(mask("".join(foreign), secrets))
    return "".join(shown_parts)


def mask_url(url: str, *, bare: bool = False) -> str:
    """A URL safe for logs and error messages.

    By default only a password is replaced by *** (a store or digest source as the settings show
    it). `bare` is for a URL whose query string may itself be a credential (a fetched document's):
    no user, no password, no fragment, and a query string shown as "…".
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        # Unparseable: show only the scheme, since a secret may sit anywhere in the rest.
        scheme, sep, _ = url.partition("://")
        return f"{scheme}://***" if sep else "***"
    if bare:
        return _bare(parts)
    if not password:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user, _, _ = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def _bare(parts: SplitResult) -> str:
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None     # a port that is no number is left out, the host still said
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


_URL_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>)]+")


def scrub_urls(text: str) -> str:
    """Every URL in a message shown bare (see mask_url), whatever its spelling, on one line."""
    return " ".join(_URL_IN_TEXT.sub(lambda match: mask_url(match.group(0), bare=True), text).split())


def shown_chat(chat: str) -> str:
    """A chat id as it may be shown: a webhook URL is itself the credential, so only its host stays."""
    if "://" in chat:
        try:
            parts = urlsplit(chat)
            host = parts.hostname or ""
        except ValueError:
            host = ""
        return f"{parts.scheme}://{host}/{REDACTED}" if host else REDACTED
    return redact(chat)
