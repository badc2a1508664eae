"""WeCom's `format: text`: a rendered markdown message as plain text messages for readers on personal WeChat.

The renderer writes only its own markup (everything else in the text is a look-alike), so the
markdown reads back exactly: links become "label (url)", bold and code markers go, look-alikes
turn back into the characters they stand for. Text messages hold half the bytes of markdown ones,
so one markdown part may become two or three, cut at paragraphs, sentences or words.
"""

from __future__ import annotations

from bot.platforms.robot_markdown import LINK, unplain
from bot.platforms.wecom.limits import LIMITS
from bot.render import Payload, links
from bot.text.segments import split_text


def markdown_as_text(content: str) -> str:
    """What a WeCom markdown message says, as plain text."""
    text = LINK.sub(lambda found: links.as_text(found[1], found[2]), content)
    return unplain(text.replace("**", "").replace("`", ""))


def text_messages(payload: Payload) -> list[Payload]:
    """The text messages carrying one rendered markdown payload, in order; itself when it is no markdown."""
    if payload.get("msgtype") != "markdown":
        return [payload]
    text = markdown_as_text(str(payload["markdown"]["content"]))
    pieces = split_text(text, LIMITS.max_text_bytes, lambda char: len(char.encode("utf-8")))
    return [{"msgtype": "text", "text": {"content": piece}} for piece in pieces if piece.strip()]
