"""The one link policy: which URLs every renderer makes into links, and how the others read as text.

A URL becomes a link only when a reader can follow it safely: a scheme the platform carries
(javascript:, data: and the like never), and for web and file-transfer schemes a real host
(``https://``, ``https:/x``, ``http:///x`` and ``https://:80`` name none, so they stay text).
mailto: needs an address and tel: a number, neither a host. Platforms differ only in the data
below: which schemes they carry and whether they want the strict form Telegram insists on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["FOLLOWABLE_SCHEMES", "SLACK", "TELEGRAM", "LinkRules", "as_text", "link_url", "url_beside"]

# Schemes a reader can follow without running anything.
FOLLOWABLE_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "mailto", "tel"})
# Schemes whose URLs must name a host to lead anywhere.
_HOSTED_SCHEMES = frozenset({"http", "https", "ftp", "ftps"})


@dataclass(frozen=True, slots=True)
class LinkRules:
    """What one platform can carry as a link, on top of the checks every platform shares.

    ``strict`` asks for the plain form of a web URL: no backslash, no space, format or private-use
    characters anywhere, no user info or bracketed IP literal, and a host of at least two labels
    of letters, digits, ``-`` and ``_``. Telegram silently drops links outside that form (which
    would lose the URL), so the stricter rule keeps every link it is given.
    """

    schemes: frozenset[str]
    strict: bool = False


SLACK = LinkRules(FOLLOWABLE_SCHEMES)
# tdlib keeps only web links: it drops ftp: and tel: targets and turns mailto:a@b into
# http://mailto:a@b/, so those are shown as text there.
TELEGRAM = LinkRules(frozenset({"http", "https"}), strict=True)

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
# Characters of a registered host name besides letters and digits (RFC 3986 reg-name).
_HOST_PUNCTUATION = frozenset("-._~%!$&'()*+,;=")
_MAILBOXES = re.compile(r"[^@\s,?]+@[^@\s,?]+(?:,[^@\s,?]+@[^@\s,?]+)*(?:\?.*)?", re.DOTALL)
_PHONE = re.compile(r"\+?[0-9().-]*[0-9][0-9().-]*(?:;.*)?", re.DOTALL)
_NEVER_IN_URLS = frozenset({"Cc", "Cs"})
_NEVER_IN_STRICT_URLS = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def link_url(url: str, rules: LinkRules) -> str | None:
    """``url`` when it may become a link under ``rules``, else None (the renderer shows it as text)."""
    match = _SCHEME.match(url)
    if match is None:
        return None
    scheme = match.group(1).lower()
    if scheme not in rules.schemes:
        return None
    forbidden = _NEVER_IN_STRICT_URLS if rules.strict else _NEVER_IN_URLS
    if any(unicodedata.category(char) in forbidden for char in url) or (rules.strict and "\\" in url):
        return None
    if "\ufffd" in url:
        # Damaged before it reached us (a lone surrogate, bad UTF-8): it would lead somewhere else.
        return None
    rest = url[match.end():]
    if scheme in _HOSTED_SCHEMES:
        followable = _names_a_host(rest, rules.strict)
    elif scheme == "mailto":
        followable = _MAILBOXES.fullmatch(rest) is not None
    else:
        followable = _PHONE.fullmatch(rest) is not None
    return url if followable else None


def _names_a_host(rest: str, strict: bool) -> bool:
    """Whether what follows ``scheme:`` starts with ``//`` and an authority naming a host."""
    if not rest.startswith("//"):
        return False
    authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
    _userinfo, at, host_and_port = authority.rpartition("@")
    if at and strict:
        return False
    if host_and_port.startswith("["):
        closing = host_and_port.find("]")
        if strict or closing < 2:
            return False
        host, after = host_and_port[:closing + 1], host_and_port[closing + 1:]
        if after and not after.startswith(":"):
            return False
        port = after[1:] if after else None
    else:
        host, colon, port_text = host_and_port.partition(":")
        port = port_text if colon else None
        if not _is_host_name(host, strict):
            return False
    return port is None or (_PORT.fullmatch(port) is not None and int(port) <= 65535)


def _is_host_name(host: str, strict: bool) -> bool:
    if not strict:
        return bool(host) and all(char.isalnum() or char in _HOST_PUNCTUATION for char in host)
    labels = host.split(".")
    return len(labels) >= 2 and all(
        label and all(char.isalnum() or char in "-_" for char in label) for label in labels)


def url_beside(label: str, url: str) -> bool:
    """Whether a link shown as text writes its URL after its label (not when the label is blank
    or is the URL itself, nor when there is no URL)."""
    shown = label.strip()
    return bool(url.strip()) and bool(shown) and shown != url.strip()


def as_text(label: str, url: str) -> str:
    """A link as plain text: ``label (url)``, or the one of them that says it all."""
    if url_beside(label, url):
        return f"{label} ({url})"
    return url if url.strip() else label
