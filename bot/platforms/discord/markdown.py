"""Discord markdown: digest text escaped so it shows as written, mentions defused, and the marks the renderer writes.

Text is escaped one character at a time (escape(a + b) == escape(a) + escape(b)), which is what the
shared packer needs to charge each character its cost; so mentions are defused by what follows
each "@" and "<", never by looking at the words around them.
"""

from __future__ import annotations

ZERO_WIDTH_SPACE = "\u200b"
# A backslash before any of these shows it as is; each can start or end Discord markdown (or a
# heading, a quote, a spoiler, a masked link, an angle-bracket token) somewhere in a line.
_MARKDOWN = "\\*_~`|>[]<#"
# "@everyone" and "@here" ping a whole server, "<@id>" a person: a zero-width space after every "@"
# keeps the text reading the same and no mention can form, whatever follows.
_TEXT = str.maketrans({**{char: "\\" + char for char in _MARKDOWN}, "@": "@" + ZERO_WIDTH_SPACE,
                       "\r": " "})
# Inside code only mentions matter: markdown is not read there.
_CODE = str.maketrans({"@": "@" + ZERO_WIDTH_SPACE, "\n": " ", "\r": " "})
# What a URL inside "(...)" of a masked link may not hold as is.
_URL = str.maketrans({" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E", "\n": "%0A", "\r": "%0D",
                      "\t": "%09", "\\": "%5C"})
BOLD = "**"
ITALIC = "*"


def escape(text: str) -> str:
    """Digest text as Discord shows it literally: markdown marks escaped, mentions defused."""
    return text.translate(_TEXT)


def code(text: str) -> str:
    """Inline code: a fence longer than any run of backticks inside, a space beside a backtick at an end.

    A zero-width space after the closing fence keeps two code spans in a row apart ("`a``` ` ``" would
    read as one broken span).
    """
    text = text.translate(_CODE)
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}{ZERO_WIDTH_SPACE}"


def link_url(url: str) -> str:
    """A URL as the target of a masked link: nothing in it may end the parentheses early."""
    return url.translate(_URL)


def masked_link(label: str, url: str, *, angle: bool) -> str:
    """[label](url) with the label escaped; `angle` wraps the URL in <>, so that a link in a message's
    content unfurls no preview card (embeds never unfurl)."""
    target = link_url(url)
    return f"[{escape(label)}](<{target}>)" if angle else f"[{escape(label)}]({target})"


def styled(inner: str, *, bold: bool, italic: bool) -> str:
    """Already written `inner` in bold and/or italic.

    A zero-width space after the closing marks keeps them apart from marks that may follow at once
    (a bold span and then an italic one would read "**a***b*", which Discord takes apart wrongly).
    """
    if not (bold or italic):
        return inner
    mark = (BOLD if bold else "") + (ITALIC if italic else "")
    return f"{mark}{inner}{mark}{ZERO_WIDTH_SPACE}"
