"""Request bodies as JSON: what orjson writes reads back as the value, and what it refuses falls back."""

from __future__ import annotations

import json

import pytest

from bot.platforms.json_body import json_bytes, json_text

PART = {"channel": "C0123", "text": "今日速递 · 第 3 条 🚀", "blocks": [{"type": "section", "text": {
    "type": "mrkdwn", "text": "*粗体* and <https://example.com/a?b=1&c=2|a link> \"quoted\" \\ back"}}],
    "unfurl_links": False, "thread_ts": None, "count": 3, "ratio": 0.5}


def test_a_body_reads_back_as_the_value_with_characters_as_themselves() -> None:
    assert json.loads(json_bytes(PART)) == PART == json.loads(json_text(PART))
    assert "今日速递".encode() in json_bytes(PART)
    assert "\\u" not in json_text(PART)


def test_what_orjson_refuses_is_written_by_the_standard_library() -> None:
    huge = {"chat_id": 2 ** 70, 1: "a key that is not a string"}
    assert json.loads(json_bytes(huge)) == json.loads(json.dumps(huge))
    assert json.loads(json_text(huge)) == json.loads(json.dumps(huge))


def test_a_lone_surrogate_still_fails_as_bytes_as_it_always_did() -> None:
    with pytest.raises(UnicodeEncodeError):
        json_bytes({"text": "broken \ud800 half"})
    # As text (aiohttp encodes it), escaped as the standard library escapes it.
    assert json_text({"text": "broken \ud800 half"}) == json.dumps({"text": "broken \ud800 half"})
