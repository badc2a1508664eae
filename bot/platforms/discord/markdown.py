"""Discord markdown: digest text escaped so it shows as written, mentions defused, and the marks the renderer writes."""

from __future__ import annotations

import re

ZERO_WIDTH_SPACE = "\u200b"
# Characters that start or end Discord markdown anywhere in a line; a backslash before one shows it as is.
_SPECIAL = re.compile(r"([\\*_~`|>\[\]<#])")
# At a line's start, "- ", "+ " and "1. " make a list; escaping the mark keeps the text a paragraph.
_LINE_START_LIST = re.compile(r"(?m)^(\s*)([-+]|\d+\.)(?=\s)")
# @everyone and @here ping a whole server; a zero-width space after "@" keeps them readable and inert.
_GROUP_MENTION = re.compile(r"@(?=everyone|here)")
# "<@id>", "<@&role>", "<#channel>", "</cmd:id>", "<:emoji:id>", "<a:emoji:id>", "<t:unix>": Discord's
# angle-bracket tokens; a zero-width space after "<" keeps each one text.
_ANGLE_TOKEN = re.compile(r"<(?=[@#:/]|[at]:)")
# What a URL inside "(...)" of a masked link may not hold as is.
_URL_UNSAFE = {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E", "\n": "%0A", "\t": "%09"}


def defuse_mentions(text: str) -> str:
    """`text` with every @everyone, @here and <…> token made inert, still reading the same."""
    if "@" not in text and "<" not in text:
        return text
    return _ANGLE_TOKEN.sub("<" + ZERO_WIDTH_SPACE, _GROUP_MENTION.sub("@" + ZERO_WIDTH_SPACE, text))


def escape(text: str) -> str:
    """Digest text as Discord shows it literally: markdown marks escaped, mentions defused."""
    escaped = _SPECIAL.sub(r"\\\1", defuse_mentions(text))
    return _LINE_START_LIST.sub(lambda match: f"{match.group(1)}\\{match.group(2)}", escaped)


def code(text: str) -> str:
    """Inline code: backticks inside need a longer fence, and a space beside a backtick at either end."""
    text = defuse_mentions(text.replace("\n", " "))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def link_url(url: str) -> str:
    """A URL as the target of a masked link: nothing in it may end the parentheses early."""
    return "".join(_URL_UNSAFE.get(character, character) for character in url)


def masked_link(label: str, url: str, *, preview: bool = False) -> str:
    """[label](url); `preview` False wraps the URL in <> so a link in `content` unfurls no preview card."""
    target = link_url(url)
    return f"[{label}]({target})" if preview else f"[{label}](<{target}>)"


def styled(text: str, *, bold: bool = False, italic: bool = False) -> str:
    """Already escaped `text` in bold and/or italic; the whitespace at its ends stays outside the marks,
    where Discord still sees the marks as marks."""
    core = text.strip()
    if not core or not (bold or italic):
        return text
    mark = ("**" if bold else "") + ("*" if italic else "")
    start = text[: len(text) - len(text.lstrip())]
    end = text[len(text.rstrip()):]
    return f"{start}{mark}{core}{mark[::-1]}{end}"


def marks_length(*, bold: bool, italic: bool) -> int:
    """Characters the marks around a styled span add."""
    return 2 * ((2 if bold else 0) + (1 if italic else 0))
