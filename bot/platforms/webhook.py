"""What the webhook platforms share: the JSON body as sent, HMAC signatures, and webhook URLs as credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.platforms.base import (
    ChatGone,
    MaybeSent,
    RateLimited,
    RenderingDefect,
    SendError,
    TransientError,
    Unauthorized,
)
from bot.ratelimit import Limiter, RateLimits
from bot.secrets import hide, mask_url

# How much of a platform's own error message a reason quotes.
MAX_QUOTED = 200


def wire_body(payload: Any) -> bytes:
    """The exact bytes POSTed for a payload: UTF-8 JSON with characters as themselves, not as \\u escapes.

    Limits of these platforms are in bytes of the body: an escaped Chinese character takes 6 bytes
    instead of 3, so the body that is measured and the body that is sent must be this one.
    """
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def wire_size(payload: Any) -> int:
    return len(wire_body(payload))


def json_text_size(text: str) -> int:
    """Bytes a string takes inside a JSON body as sent, without its quotes (escapes counted)."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) - 2


def hmac_base64(key: bytes, message: bytes) -> str:
    """base64(HMAC-SHA256(key, message)): the signature Feishu and DingTalk robots check."""
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


@dataclass(frozen=True, slots=True)
class Webhook:
    """One robot's incoming webhook: the URL and its credential part never appear in a log or error.

    `chat` names the robot in the ledger and in logs: a fingerprint of the credential, so it stays
    the same across restarts without being the credential itself.
    """

    url: str = field(repr=False)
    credential: str = field(repr=False)
    secret: str = field(default="", repr=False)
    chat: str = ""
    format: str = ""        # the message format, where a platform offers several (WeCom: markdown or text)

    @property
    def secrets(self) -> list[str]:
        """What every log line must hide: the URL, its credential and the signing secret."""
        return [value for value in (self.url, self.credential, self.secret) if value]

    @property
    def masked(self) -> str:
        """Scheme, host and path, the credential as *** and no query: safe for any message."""
        return hide(mask_url(self.url, bare=True), [self.credential], min_length=0)


def make_webhook(url: str, credential: str, secret: str = "", format: str = "") -> Webhook:
    """A webhook; its sender has every log line hide its credentials (see `Webhook.secrets`)."""
    fingerprint = hashlib.sha256(credential.encode("utf-8")).hexdigest()[:16]
    return Webhook(url=url, credential=credential, secret=secret, chat=f"robot-{fingerprint}", format=format)


@dataclass(frozen=True, slots=True)
class RobotUrl:
    """Where a platform's robot URLs keep their credential: the last path segment, or one query parameter."""

    example: str                     # for the error message: the shape the platform shows
    path: re.Pattern[str]            # the whole path; a `credential` group when the credential is in it
    query_key: str = ""              # the query parameter holding the credential, if that is where it is

    def parse(self, url: str, secret: str = "", format: str = "") -> Webhook:
        """The webhook a URL names; ValueError, whose text never holds the URL, for anything else."""
        try:
            parts = urlsplit(url)
        except ValueError:
            raise ValueError("not a URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("a webhook URL starts with https://")
        match = self.path.fullmatch(parts.path)
        if match is None:
            raise ValueError(f"not a robot webhook URL ({self.example})")
        credential = dict(parse_qsl(parts.query)).get(self.query_key, "") if self.query_key else match["credential"]
        if not credential:
            raise ValueError(f"the webhook URL has no credential ({self.example})")
        return make_webhook(url, credential, secret, format)


# Seconds added to a robot's per-minute window: the platform counts arrivals, and a post stamped a
# full minute after the first of twenty could arrive within that minute of the first's arrival.
JITTER_MARGIN = 2.0


@dataclass(frozen=True, slots=True)
class RobotPace:
    """How fast one robot takes posts: its windows (bot.ratelimit's one description, each kept per
    robot before the platform has to refuse a post) and how long a "too fast" answer is waited out."""

    limits: RateLimits
    refused_wait: float

    def scaled(self, factor: float) -> RobotPace:
        """The same pace `factor` times faster (a config's rate_limit_scale, tests against a sped-up fake)."""
        return RobotPace(self.limits.scaled(factor), self.refused_wait / factor)

    def chain(self) -> Limiter:
        return self.limits.chain()


@dataclass(frozen=True, slots=True)
class AnswerCodes:
    """How one platform's `{"errcode": n, "errmsg": "…"}`-style answers map to the SendError family.

    These robots answer HTTP 200 with an error code in the JSON; each platform's errors.py holds its
    codes as this data, and `answer_error` reads an answer with it.
    """

    platform: str
    code_keys: tuple[str, ...]              # where the code is, first found wins
    message_keys: tuple[str, ...]
    rate_limited: frozenset[int]            # too fast: waited out, the same part resent
    gone: frozenset[int]                    # the webhook will never take a message again
    defects: frozenset[int]                 # the payload is wrong: a renderer's bug, not retried
    # Refusals only the operator can fix (signatures, keywords, IP allowlists): the fix, by code.
    fixes: Mapping[int, str] = field(default_factory=dict)

    def answer_error(self, status: int, body: Any, wait: float) -> SendError | None:
        """None when the answer says the message is in; else what delivery should do about it."""
        code, message = self._code(body)
        said = f"{message} ({code})" if message else f"errcode {code}"
        if code == 0 and status < 300:
            return None
        if code is None:
            return _status_error(self.platform, status)
        if status in (400, 413) and code not in self.gone and code not in self.fixes:
            # Feishu answers an oversized body with its "too many request" code 9499, but as HTTP 400.
            return RenderingDefect(said)
        if code in self.rate_limited:
            return RateLimited(said, wait)
        if code in self.gone:
            return ChatGone(said)
        if code in self.defects:
            return RenderingDefect(said)
        if code in self.fixes:
            return Unauthorized(f"{self.platform} refused the robot's settings: {said}; {self.fixes[code]}")
        if status >= 500:
            return TransientError(f"HTTP {status} {said}")
        # An error code new to us: retried a bounded number of times by the deliverer, then reported.
        return TransientError(said)

    def _code(self, body: Any) -> tuple[int | None, str]:
        if not isinstance(body, dict):
            return None, ""
        code = next((body[key] for key in self.code_keys if key in body), None)
        message = next((body[key] for key in self.message_keys if key in body), "")
        shown = message[:MAX_QUOTED] if isinstance(message, str) else ""
        return (code if isinstance(code, int) and not isinstance(code, bool) else None), shown


def _status_error(platform: str, status: int) -> SendError:
    """An answer without a code: what its HTTP status alone says."""
    if status == 404:
        return ChatGone(f"{platform} has no such webhook (HTTP 404)")
    if status == 429:
        return RateLimited("HTTP 429", 1.0)
    if status in (401, 403):
        return Unauthorized(f"{platform} refused the webhook (HTTP {status})")
    if status in (400, 413):
        return RenderingDefect(f"{platform} refused the body (HTTP {status})")
    if status < 300:
        # Accepted, but no result came with it: it may well have been posted, so it is resent at most once.
        return MaybeSent(f"{platform} answered HTTP {status} without a result code")
    return TransientError(f"HTTP {status}")
