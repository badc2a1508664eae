"""DingTalk's custom-robot signature: `timestamp` (ms) and `sign` in the query string when a secret is set."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

from bot.platforms.webhook import hmac_base64


def sign(secret: str, timestamp_ms: int) -> str:
    """base64(HMAC-SHA256(key = secret, message = timestamp + "\\n" + secret)), before URL-encoding."""
    return hmac_base64(secret.encode(), f"{timestamp_ms}\n{secret}".encode())


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The webhook URL with `timestamp` and `sign` in its query, or the URL itself when there is no secret."""
    if not secret:
        return url
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if key not in ("timestamp", "sign")]
    query += [("timestamp", str(timestamp_ms)), ("sign", sign(secret, timestamp_ms))]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote_plus)))
