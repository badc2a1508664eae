"""Telegram's own text parser (tdlib, through tdjson) and the sendMessage text checks built on it.

Tests use it to check rendered messages exactly as Telegram would, and the fake Bot API server
uses :func:`check_send_message` to accept or refuse a ``sendMessage`` with Telegram's own words.

tdlib reports entity offsets and lengths in UTF-16 code units; message length is counted in
Unicode code points of the parsed, cleaned and trimmed text.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import tdjson

# sendMessage limits. The text limit is documented; the others are what the server does in
# practice (see PLATFORMS.md): extra entities beyond 100 are dropped silently, which this fake
# reports as an error so tests notice; the entity payload limit is undocumented ("ENTITIES_TOO_LONG"
# was seen near 9,500 bytes of serialized entities).
MAX_MESSAGE_CHARS = 4096
MAX_ENTITIES = 100
MAX_ENTITY_BYTES = 9500
MAX_RAW_TEXT_BYTES = 32 * 1024

ERROR_EMPTY = "Bad Request: message text is empty"
ERROR_TOO_LONG = "Bad Request: message is too long"
ERROR_RAW_TOO_LONG = "Bad Request: text is too long"
ERROR_TOO_MANY_ENTITIES = "Bad Request: too many entities"
ERROR_ENTITIES_TOO_LONG = "Bad Request: entities too long"
ERROR_BAD_PARSE_MODE = "Bad Request: unsupported parse_mode"
ERROR_BAD_ENTITIES = "Bad Request: can't parse entities JSON object"

_PARSE_MODES: dict[str, dict[str, Any]] = {
    "html": {"@type": "textParseModeHTML"},
    "markdownv2": {"@type": "textParseModeMarkdown", "version": 2},
    "markdown": {"@type": "textParseModeMarkdown", "version": 1},
}

# tdlib's entity type names mapped to the Bot API's.
_ENTITY_TYPES = {
    "textEntityTypeBold": "bold",
    "textEntityTypeItalic": "italic",
    "textEntityTypeUnderline": "underline",
    "textEntityTypeStrikethrough": "strikethrough",
    "textEntityTypeSpoiler": "spoiler",
    "textEntityTypeCode": "code",
    "textEntityTypePre": "pre",
    "textEntityTypePreCode": "pre",
    "textEntityTypeTextUrl": "text_link",
    "textEntityTypeMentionName": "text_mention",
    "textEntityTypeCustomEmoji": "custom_emoji",
    "textEntityTypeBlockQuote": "blockquote",
    "textEntityTypeExpandableBlockQuote": "expandable_blockquote",
    "textEntityTypeUrl": "url",
    "textEntityTypeMention": "mention",
    "textEntityTypeHashtag": "hashtag",
    "textEntityTypeCashtag": "cashtag",
    "textEntityTypeBotCommand": "bot_command",
    "textEntityTypeEmailAddress": "email",
    "textEntityTypePhoneNumber": "phone_number",
    "textEntityTypeBankCardNumber": "bank_card_number",
}

# What Telegram's server does to message text before counting it (tdlib's clean_input_string):
# control characters become spaces, carriage returns and U+2028..U+202E vanish.
_CLEAN_TABLE: dict[int, str | None] = {
    **{code: " " for code in range(32) if code not in (10, 13)},
    13: None,
    **{code: None for code in range(0x2028, 0x202F)},
}
# Characters that do not make a message non-empty (tdlib's strip_empty_characters).
_EMPTY_CHARACTERS = " \n\u200b\u200c\u200d\u200e\u200f\u202e\ufeff\u00a0"

_log_silenced = False
_log_lock = threading.Lock()


class TelegramParseError(Exception):
    """tdlib refused the text; ``message`` is tdlib's exact wording."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity as tdlib reports it: Bot API type name, UTF-16 offset and length."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None

    def to_bot_api(self) -> dict[str, Any]:
        entity: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            entity["url"] = self.url
        if self.language:
            entity["language"] = self.language
        return entity


@dataclass(frozen=True, slots=True)
class ParsedText:
    """The plain text a reader sees and the entities laid over it."""

    text: str
    entities: tuple[Entity, ...]

    def entity_text(self, entity: Entity) -> str:
        """The text an entity covers (converting its UTF-16 span to code points)."""
        encoded = self.text.encode("utf-16-le")
        return encoded[2 * entity.offset: 2 * (entity.offset + entity.length)].decode("utf-16-le")

    def entity_span(self, entity: Entity) -> tuple[int, int]:
        """The entity's (start, end) in code points of ``text``."""
        start = len(self.text.encode("utf-16-le")[: 2 * entity.offset].decode("utf-16-le"))
        return start, start + len(self.entity_text(entity))


def _silence_tdlib() -> None:
    global _log_silenced
    with _log_lock:
        if not _log_silenced:
            _execute({"@type": "setLogVerbosityLevel", "new_verbosity_level": 0})
            _log_silenced = True


def _execute(request: Mapping[str, Any]) -> dict[str, Any]:
    answer = tdjson.td_execute(json.dumps(request).encode("utf-8"))
    if answer is None:
        raise RuntimeError(f"tdlib gave no answer to {request['@type']}")
    result: dict[str, Any] = json.loads(answer)
    return result


def _entity_from_td(raw: Mapping[str, Any]) -> Entity:
    kind = raw["type"]
    td_type = kind["@type"]
    name = _ENTITY_TYPES.get(td_type) or td_type.removeprefix("textEntityType").lower()
    return Entity(type=name, offset=raw["offset"], length=raw["length"], url=kind.get("url"),
                  language=kind.get("language"))


def parse(text: str, parse_mode: str | None) -> ParsedText:
    """Parse ``text`` the way the Bot API does for ``parse_mode`` (HTML, MarkdownV2, Markdown, None)."""
    if parse_mode is None or parse_mode == "":
        return ParsedText(text, ())
    mode = _PARSE_MODES.get(parse_mode.lower())
    if mode is None:
        raise ValueError(f"unsupported parse_mode {parse_mode!r}")
    _silence_tdlib()
    answer = _execute({"@type": "parseTextEntities", "text": text, "parse_mode": mode})
    if answer.get("@type") == "error":
        raise TelegramParseError(str(answer.get("message", "")))
    return ParsedText(answer["text"], tuple(_entity_from_td(raw) for raw in answer.get("entities", ())))


def parse_html(html: str) -> ParsedText:
    """Telegram's HTML parse of ``html``, or :class:`TelegramParseError` with tdlib's message."""
    return parse(html, "HTML")


def normalized_link(url: str) -> str | None:
    """The URL Telegram keeps for ``<a href="url">``, or None when it drops such a link."""
    escaped = url.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    try:
        parsed = parse_html(f'<a href="{escaped}">x</a>')
    except TelegramParseError:
        return None
    links = [entity.url for entity in parsed.entities if entity.type == "text_link"]
    return links[0] if links else None


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _tl_string_bytes(value: str) -> int:
    size = len(value.encode("utf-8"))
    header = 1 if size < 254 else 4
    return (header + size + 3) // 4 * 4


def entity_payload_bytes(entities: Sequence[Entity]) -> int:
    """The serialized size of ``entities`` as the client sends them to Telegram's server.

    Each entity is a constructor id, an offset and a length (4 bytes each), plus its URL or code
    language as a padded TL string.
    """
    total = 0
    for entity in entities:
        total += 12
        if entity.url is not None:
            total += _tl_string_bytes(entity.url)
        if entity.language:
            total += _tl_string_bytes(entity.language)
    return total


def visible_text(text: str) -> str:
    """The message text Telegram stores: control characters cleaned, surrounding blanks trimmed."""
    return text.translate(_CLEAN_TABLE).strip(" \n")


def _entities_from_bot_api(text: str, raw: Any) -> ParsedText:
    if isinstance(raw, str):
        raw = json.loads(raw)
    if not isinstance(raw, list):
        raise ValueError("entities must be a list")
    entities: list[Entity] = []
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
            raise ValueError("each entity needs a type")
        offset, length = item.get("offset"), item.get("length")
        if not isinstance(offset, int) or not isinstance(length, int):
            raise ValueError("each entity needs an integer offset and length")
        entities.append(Entity(type=item["type"], offset=offset, length=length, url=item.get("url"),
                               language=item.get("language")))
    return ParsedText(text, tuple(entities))


def check_send_message(params: Mapping[str, Any]) -> str | None:
    """Telegram's error description for a sendMessage with these parameters, or None if accepted.

    Only the text side is checked (chat ids and the like are the fake server's business).
    """
    text = params.get("text")
    if not isinstance(text, str) or text == "":
        return ERROR_EMPTY
    if len(text.encode("utf-8")) > MAX_RAW_TEXT_BYTES:
        return ERROR_RAW_TOO_LONG
    parse_mode = params.get("parse_mode")
    if parse_mode is not None and not isinstance(parse_mode, str):
        return ERROR_BAD_PARSE_MODE
    try:
        if parse_mode:
            parsed = parse(text, parse_mode)
        elif params.get("entities") is not None:
            parsed = _entities_from_bot_api(text, params["entities"])
        else:
            parsed = ParsedText(text, ())
    except ValueError:
        return ERROR_BAD_PARSE_MODE if parse_mode else ERROR_BAD_ENTITIES
    except TelegramParseError as error:
        # The Bot API lower-cases the first letter of tdlib's message after its own prefix.
        message = error.message
        return "Bad Request: " + message[:1].lower() + message[1:]
    shown = visible_text(parsed.text)
    if not shown.strip(_EMPTY_CHARACTERS):
        return ERROR_EMPTY
    if len(shown) > MAX_MESSAGE_CHARS:
        return ERROR_TOO_LONG
    if len(parsed.entities) > MAX_ENTITIES:
        return ERROR_TOO_MANY_ENTITIES
    if entity_payload_bytes(parsed.entities) > MAX_ENTITY_BYTES:
        return ERROR_ENTITIES_TOO_LONG
    return None
