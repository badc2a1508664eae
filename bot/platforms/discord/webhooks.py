"""Discord webhook URLs: their id and token, the execute URL, and masking them (the URL is the credential)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.secrets import REDACTED, mask_url

# /api/webhooks/{id}/{token}, with an optional API version (/api/v10/webhooks/…), as Discord shows it.
_PATH = re.compile(r"^(?P<base>.*/webhooks)/(?P<id>\d{1,25})/(?P<token>[A-Za-z0-9_.-]{1,200})/?$")
# The same shape anywhere in a text: what a library error or a traceback may quote.
_IN_TEXT = re.compile(r"(/webhooks/\d{1,25}/)[A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class Webhook:
    """One incoming webhook: the id names the channel in the ledger, the token never leaves here."""

    id: str
    token: str = field(repr=False)
    url: str = field(repr=False)

    @property
    def masked(self) -> str:
        return mask_webhook(self.url)

    def message_url(self, message_id: str) -> str:
        """PATCH here to edit a message this webhook posted."""
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/messages/{message_id}", fragment=""))

    def execute_url(self) -> str:
        """POST here to post a message and get it back (`wait=true`): its id is what the ledger keeps."""
        parts = urlsplit(self.url)
        query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "wait"]
        return urlunsplit(parts._replace(query=urlencode([*query, ("wait", "true")]), fragment=""))


def parse_webhook(url: str) -> Webhook:
    """The webhook a URL names; ValueError (whose text never holds the token) for anything else."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise ValueError("not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("a webhook URL starts with https://")
    match = _PATH.match(parts.path)
    if match is None:
        raise ValueError("not a Discord webhook URL (…/api/webhooks/ID/TOKEN)")
    # No need to register the token as a secret: every log line hides a webhook URL's token by its shape
    # (bot.secrets), whichever library happens to quote it.
    return Webhook(match["id"], match["token"], url.strip())


def mask_webhook(url: str) -> str:
    """A webhook URL safe to show: scheme, host and id, the token as ***, no query."""
    return mask_text(mask_url(url, bare=True))


def mask_text(text: str) -> str:
    """Every webhook token in a text (an error message, a library's exception) as ***."""
    return _IN_TEXT.sub(lambda match: match.group(1) + REDACTED, text)
