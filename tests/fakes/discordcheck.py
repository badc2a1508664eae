"""Discord's own checks of an Execute Webhook body, written from its documentation, not from the bot's code.

Lengths are code points (Discord's API is Python and counts with len()). Each check names the field
path the way Discord's "Invalid Form Body" (code 50035) does, so a refusal reads like Discord's.
"""

from __future__ import annotations

import re
from typing import Any

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
EMBED_FIELD_LIMITS = {"title": 256, "description": 4096}
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR = 256
MAX_URL = 2048
# The only flags a webhook may set: SUPPRESS_EMBEDS and SUPPRESS_NOTIFICATIONS.
WEBHOOK_FLAGS = (1 << 2) | (1 << 12)
# An interaction answer may also be ephemeral.
INTERACTION_FLAGS = WEBHOOK_FLAGS | (1 << 6)
BODY_KEYS = frozenset({"content", "username", "avatar_url", "tts", "embeds", "allowed_mentions", "flags",
                       "components", "attachments", "thread_name", "applied_tags", "poll"})
PARSE_TYPES = frozenset({"roles", "users", "everyone"})

_EVERYONE = re.compile(r"@(everyone|here)")
_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_URL = re.compile(r"^https?://[^\s]+$")


class Refusal(Exception):
    """What Discord answers instead of posting: a status, its JSON error code and message, field errors."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = _nested(self.errors)
        return body


def check_message(body: Any, *, flags_allowed: int = WEBHOOK_FLAGS) -> None:
    """Raise Refusal when Discord would refuse to post `body`."""
    if not isinstance(body, dict):
        raise Refusal(400, 50109, "The request body contains invalid JSON.")
    errors: dict[str, str] = {}
    unknown = set(body) - BODY_KEYS
    for key in sorted(unknown):
        errors[key] = "UNKNOWN_FIELD"
    content = body.get("content")
    if content is not None and (not isinstance(content, str) or len(content) > MAX_CONTENT):
        errors["content"] = "BASE_TYPE_MAX_LENGTH"
    embeds = body.get("embeds") or []
    if not isinstance(embeds, list) or len(embeds) > MAX_EMBEDS:
        errors["embeds"] = "BASE_TYPE_MAX_LENGTH"
        embeds = []
    total = 0
    for index, embed in enumerate(embeds):
        total += _check_embed(embed, f"embeds.{index}", errors)
    if total > MAX_EMBED_TOTAL:
        errors["embeds"] = f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"
    flags = body.get("flags", 0)
    if not isinstance(flags, int) or isinstance(flags, bool) or flags & ~flags_allowed:
        errors["flags"] = "INVALID_MESSAGE_FLAGS"
    _check_allowed_mentions(body.get("allowed_mentions"), errors)
    if errors:
        raise Refusal(400, 50035, "Invalid Form Body", errors)
    if not (isinstance(content, str) and content.strip()) and not embeds:
        raise Refusal(400, 50006, "Cannot send an empty message")


def _check_embed(embed: Any, path: str, errors: dict[str, str]) -> int:
    """The embed's characters toward the message's 6,000; its field errors go into `errors`."""
    if not isinstance(embed, dict):
        errors[path] = "MODEL_TYPE_CONVERT"
        return 0
    total = 0
    for key, limit in EMBED_FIELD_LIMITS.items():
        value = embed.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > limit:
            errors[f"{path}.{key}"] = "BASE_TYPE_MAX_LENGTH"
        else:
            total += len(value)
    url = embed.get("url")
    if url is not None and not (isinstance(url, str) and len(url) <= MAX_URL and _URL.match(url)):
        errors[f"{path}.url"] = "URL_TYPE_INVALID_URL"
    total += _check_named(embed.get("footer"), "text", MAX_FOOTER, f"{path}.footer", errors)
    total += _check_named(embed.get("author"), "name", MAX_AUTHOR, f"{path}.author", errors)
    fields = embed.get("fields") or []
    if not isinstance(fields, list) or len(fields) > MAX_FIELDS:
        errors[f"{path}.fields"] = "BASE_TYPE_MAX_LENGTH"
        fields = []
    for number, field in enumerate(fields):
        total += _check_named(field, "name", MAX_FIELD_NAME, f"{path}.fields.{number}", errors, required=True)
        total += _check_named(field, "value", MAX_FIELD_VALUE, f"{path}.fields.{number}", errors, required=True)
    if not any(embed.get(key) for key in ("title", "description", "fields", "footer", "author", "image")):
        errors[path] = "an embed with nothing in it"
    return total


def _check_named(part: Any, key: str, limit: int, path: str, errors: dict[str, str], *,
                 required: bool = False) -> int:
    if part is None:
        return 0
    value = part.get(key) if isinstance(part, dict) else None
    if value is None and not required:
        return 0
    if not isinstance(value, str) or not value.strip():
        errors[f"{path}.{key}"] = "BASE_TYPE_REQUIRED"
        return 0
    if len(value) > limit:
        errors[f"{path}.{key}"] = "BASE_TYPE_MAX_LENGTH"
    return len(value)


def _check_allowed_mentions(allowed: Any, errors: dict[str, str]) -> None:
    if allowed is None:
        return
    if not isinstance(allowed, dict) or not isinstance(allowed.get("parse", []), list):
        errors["allowed_mentions"] = "MODEL_TYPE_CONVERT"
        return
    if set(allowed.get("parse", [])) - PARSE_TYPES:
        errors["allowed_mentions.parse"] = "BASE_TYPE_CHOICES"


def pings(body: dict[str, Any]) -> list[str]:
    """The mentions in `content` that would notify someone; Discord never pings from embeds."""
    content = body.get("content") or ""
    allowed = body.get("allowed_mentions")
    parse = set(PARSE_TYPES) if allowed is None else set(allowed.get("parse", []))
    users = set(allowed.get("users", [])) if isinstance(allowed, dict) else set()
    roles = set(allowed.get("roles", [])) if isinstance(allowed, dict) else set()
    found: list[str] = []
    if "everyone" in parse:
        found += [f"@{match}" for match in _EVERYONE.findall(content)]
    found += [f"<@{user}>" for user in _USER.findall(content) if "users" in parse or user in users]
    found += [f"<@&{role}>" for role in _ROLE.findall(content) if "roles" in parse or role in roles]
    return found


def embed_total(body: dict[str, Any]) -> int:
    """The characters of a body's embeds as Discord sums them against its 6,000."""
    total = 0
    for embed in body.get("embeds") or []:
        total += sum(len(embed.get(key) or "") for key in EMBED_FIELD_LIMITS)
        total += len((embed.get("footer") or {}).get("text") or "")
        total += len((embed.get("author") or {}).get("name") or "")
        total += sum(len(field["name"]) + len(field["value"]) for field in embed.get("fields") or [])
    return total


def _nested(errors: dict[str, str]) -> dict[str, Any]:
    """{"embeds.0.title": "X"} as Discord nests it: {"embeds": {"0": {"title": {"_errors": [...]}}}}."""
    tree: dict[str, Any] = {}
    for path, code in errors.items():
        node = tree
        for key in path.split("."):
            node = node.setdefault(key, {})
        node["_errors"] = [{"code": code, "message": code}]
    return tree
