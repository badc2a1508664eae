"""What Slack would say about chat.postMessage parameters, and what a reader would see in mrkdwn.

``check_post_message`` refuses parameters the way Slack does (its error codes), using slack-sdk's own
Block Kit models for the per-block rules. ``mrkdwn_to_plain`` renders mrkdwn to the text a reader sees
under a written-down model of Slack's emphasis rules, so tests can prove that no text is lost and no
literal ``*``/``_``/``~``/backtick turned into formatting.

The emphasis model (Slack does not document its parser; this is the behaviour bots observe):
a marker ``*`` (bold), ``_`` (italic), ``~`` (strike) or a backtick (code) opens a span when the
character before it is a boundary (start of line, whitespace, U+200B, punctuation or a symbol)
and the character after it is not whitespace or U+200B; it closes a span when the character before
it is not whitespace or U+200B and the character after it is a boundary. A span pairs an opener
with the nearest closer of the same marker on the same line, with at least one character between.
Inside a code span nothing else is formatting. This is why ``*粗体*`` between two CJK characters
stays literal (an ideograph is no boundary) and why U+200B next to a marker restores it.
"""

from __future__ import annotations

import bisect
import json
import re
import unicodedata
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3_000
MAX_HEADER_TEXT = 150
# Undocumented: Slack answers msg_blocks_too_long somewhere near 12-13k characters of block text.
MAX_BLOCK_TEXT = 12_000
MAX_TEXT = 40_000

ZWSP = "\u200b"

_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_MENTION = re.compile(r"<[!@#][^>]*>")
# Stands for a whole <url|label> link during the emphasis pass; private use, so never in real text.
_LINK_MARK = "\ue000"
_MARKERS = "*_~"


def check_post_message(params: Mapping[str, Any]) -> str | None:
    """Slack's error code for these chat.postMessage parameters, or None when Slack would accept them."""
    text = params.get("text")
    blocks: Any = params.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return "invalid_blocks"
    if not text and not blocks:
        return "no_text"
    if blocks:
        if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
            return "invalid_blocks"
        if invalid_blocks_reason(blocks) is not None:
            return "invalid_blocks"
        if block_text_length(blocks) > MAX_BLOCK_TEXT:
            return "msg_blocks_too_long"
    if text is not None and len(str(text)) > MAX_TEXT:
        return "msg_too_long"
    return None


def invalid_blocks_reason(blocks: Sequence[Mapping[str, Any]]) -> str | None:
    """Why Slack would answer invalid_blocks, or None. Each block must survive slack-sdk's models intact."""
    if len(blocks) > MAX_BLOCKS:
        return f"{len(blocks)} blocks, at most {MAX_BLOCKS}"
    for index, raw in enumerate(blocks):
        with warnings.catch_warnings():
            # Unknown keys only warn in slack-sdk; the round-trip comparison below refuses them.
            warnings.simplefilter("ignore")
            try:
                block = Block.parse(dict(raw))
                if block is None:
                    return f"block {index}: unknown type {raw.get('type')!r}"
                serialised = block.to_dict()
            except (SlackObjectFormationError, TypeError, ValueError, AttributeError) as error:
                return f"block {index}: {error}"
        if serialised != raw:
            # slack-sdk drops what it does not know and empty texts; Slack refuses both.
            return f"block {index}: not a well-formed {raw.get('type')!r} block"
        kind = raw.get("type")
        text = raw.get("text")
        if kind == "section" and isinstance(text, Mapping) and len(str(text.get("text", ""))) > MAX_SECTION_TEXT:
            return f"block {index}: section text over {MAX_SECTION_TEXT}"
        if kind == "header" and isinstance(text, Mapping):
            if text.get("type") != "plain_text":
                return f"block {index}: header text must be plain_text"
            if len(str(text.get("text", ""))) > MAX_HEADER_TEXT:
                return f"block {index}: header text over {MAX_HEADER_TEXT}"
        for kind_, value in text_objects([raw]):
            if not value.strip(ZWSP).strip():
                return f"block {index}: empty {kind_} text"
    return None


def text_objects(blocks: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str]]:
    """Every text object in the blocks, in order, as (type, text)."""
    for block in blocks:
        yield from _text_objects(block)


def _text_objects(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        if value.get("type") in ("plain_text", "mrkdwn") and isinstance(value.get("text"), str):
            yield str(value["type"]), value["text"]
            return
        for child in value.values():
            yield from _text_objects(child)
    elif isinstance(value, list):
        for child in value:
            yield from _text_objects(child)


def block_text_length(blocks: Sequence[Mapping[str, Any]]) -> int:
    """All block text of a message, in characters (code points) as sent."""
    return sum(len(text) for _, text in text_objects(blocks))


def live_mentions(text: str) -> list[str]:
    """The <!channel>, <!here>, <@U…>, <#C…> (and other <!…>) tokens Slack would turn into pings or links."""
    return _MENTION.findall(text)


def mrkdwn_links(text: str) -> list[tuple[str, str]]:
    """Every <url|label> (or <url>) in mrkdwn, in order, as (url, label) with entities decoded."""
    links = []
    for match in _LINK.finditer(text):
        url = unescape(match.group(1))
        label = match.group(2)
        links.append((url, url if label is None else mrkdwn_to_plain(label)))
    return links


def unescape(text: str) -> str:
    """Decode the three entities Slack knows; anything else stays as written."""
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(1)], text)


def mrkdwn_to_plain(text: str) -> str:
    """The text a reader sees: formatting markers that take effect removed, links as their labels,
    entities decoded, zero-width spaces dropped. Literal markers (those that cannot open or close a
    span under the model above) stay."""
    labels: list[str] = []

    def keep_label(match: re.Match[str]) -> str:
        url, label = match.group(1), match.group(2)
        labels.append(unescape(url) if label is None else mrkdwn_to_plain(label))
        return _LINK_MARK

    masked = _LINK.sub(keep_label, text)
    lines = [_strip_markup(line) for line in masked.split("\n")]
    plain = unescape("\n".join(lines)).replace(ZWSP, "")
    parts = plain.split(_LINK_MARK)
    out = [parts[0]]
    for label, rest in zip(labels, parts[1:], strict=True):
        out.append(label)
        out.append(rest)
    return "".join(out)


def emphasis_spans(line: str) -> list[tuple[str, int, int]]:
    """(marker, opener index, closer index) of every span that takes effect on one line of mrkdwn."""
    spans: list[tuple[str, int, int]] = []
    code = _pair(line, "`", frozenset())
    in_code: set[int] = set()
    for opener, closer in code:
        spans.append(("`", opener, closer))
        in_code.update(range(opener, closer + 1))
    frozen = frozenset(in_code)
    for marker in _MARKERS:
        spans.extend((marker, opener, closer) for opener, closer in _pair(line, marker, frozen))
    return spans


def _strip_markup(line: str) -> str:
    markup = {index for _, opener, closer in emphasis_spans(line) for index in (opener, closer)}
    if not markup:
        return line
    return "".join(char for index, char in enumerate(line) if index not in markup)


def _is_space(char: str) -> bool:
    return char.isspace() or char == ZWSP


def _is_boundary(char: str | None) -> bool:
    if char is None or _is_space(char) or char == _LINK_MARK:
        return True
    return unicodedata.category(char)[0] in "PS"


def _pair(line: str, marker: str, excluded: frozenset[int]) -> list[tuple[int, int]]:
    size = len(line)
    openers: list[int] = []
    closers: list[int] = []
    for index, char in enumerate(line):
        if char != marker or index in excluded:
            continue
        before = line[index - 1] if index > 0 else None
        after = line[index + 1] if index + 1 < size else None
        if _is_boundary(before) and after is not None and not _is_space(after):
            openers.append(index)
        if before is not None and not _is_space(before) and _is_boundary(after):
            closers.append(index)
    pairs: list[tuple[int, int]] = []
    reached = -1
    for opener in openers:
        if opener <= reached:
            continue
        found = bisect.bisect_right(closers, opener + 1)
        if found == len(closers):
            continue
        closer = closers[found]
        pairs.append((opener, closer))
        reached = closer
    return pairs


def styled_text(text: str) -> list[tuple[str, frozenset[str]]]:
    """Each character a reader sees, with the markers in effect on it (``*``, ``_``, ``~``, backtick).

    A link's label takes the styles around the link. Entities count as the character they stand for.
    """
    out: list[tuple[str, frozenset[str]]] = []
    labels: list[str] = []

    def keep_label(match: re.Match[str]) -> str:
        url, label = match.group(1), match.group(2)
        labels.append(unescape(url) if label is None else mrkdwn_to_plain(label))
        return _LINK_MARK

    masked = _LINK.sub(keep_label, text)
    links = iter(labels)
    for number, line in enumerate(masked.split("\n")):
        if number:
            out.append(("\n", frozenset()))
        spans = emphasis_spans(line)
        markup = {index for _, opener, closer in spans for index in (opener, closer)}
        index = 0
        while index < len(line):
            if index in markup or line[index] == ZWSP:
                index += 1
                continue
            styles = frozenset(marker for marker, opener, closer in spans if opener < index < closer)
            entity = _ENTITY.match(line, index)
            if entity:
                out.append((_ENTITIES[entity.group(1)], styles))
                index = entity.end()
            elif line[index] == _LINK_MARK:
                out.extend((char, styles) for char in next(links))
                index += 1
            else:
                out.append((line[index], styles))
                index += 1
    return out


def payload_texts(payload: Mapping[str, Any]) -> list[str]:
    """What a reader sees of each text object of one payload, in order (plain_text as is)."""
    texts = []
    for kind, text in text_objects(payload.get("blocks") or []):
        texts.append(mrkdwn_to_plain(text) if kind == "mrkdwn" else text.replace(ZWSP, ""))
    return texts
