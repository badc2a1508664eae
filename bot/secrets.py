"""A config's secrets: which values they are, and masking them where a config error quotes a value."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from urllib.parse import urlsplit, urlunsplit

from bot.bounded import shown
from bot.logs import REDACTED, maskable, redact

# Field names whose values are secrets wherever they appear in the settings.
SECRET_FIELDS = frozenset({"token", "signing_secret", "app_token", "webhook_secret"})
_SECRET_SECTIONS = ("telegram", "slack")
_URL_SETTINGS = (("store",), ("digests", "source"))

# A key path's own separators: `.` between keys and `[3]` after a list.
_PATH_SEPARATORS = re.compile(r"(\.|\[\d+\])")


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


def raw_secrets(data: object) -> list[str]:
    """Secret values as written (after substitution), whatever shape the rest of the file has.

    Only strings count: a secret of another type is refused anyway, and turning an aliased list
    into text here would cost what the alias bound exists to prevent.
    """
    found: list[str] = []
    if not isinstance(data, dict):
        return found
    for section in _SECRET_SECTIONS:
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


def mask(text: str, secrets: Iterable[str]) -> str:
    """The text with every secret long enough to be one (and every token-shaped string) as ***."""
    # Longest first, so that a secret containing another is replaced whole.
    for secret in sorted({secret for secret in secrets if maskable(secret)}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return redact(text)


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


def mask_url(url: str) -> str:
    """A URL (a store, a digest source) with any password replaced by ***, safe for logs and error messages."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        # Unparseable: show only the scheme, since a secret may sit anywhere in the rest.
        scheme, sep, _ = url.partition("://")
        return f"{scheme}://***" if sep else "***"
    if not password:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user, _, _ = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))
