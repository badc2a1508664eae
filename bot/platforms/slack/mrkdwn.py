"""mrkdwn: escaping digest text for Slack, and writing styled runs as one mrkdwn string."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.render.runs import Run

ZWSP = "\u200b"
# Worst-case characters a run adds beyond its own text when written out: around a styled span a
# U+200B, the opening and closing markers, and the U+200B after them (6); around code the
# backticks and a U+200B either side (4).
RUN_OVERHEAD = 10
_TEXT_SPECIALS = re.compile(r"[&<>*_~`]")
_CODE_SPECIALS = re.compile(r"[&<>]")
_URL_UNSAFE = re.compile(r"[|<>\s\x00-\x1f\x7f]")
_MARKER_CHARS = "*_~`"


# ---------------------------------------------------------------------------------------------
# Escaping
#
# Slack has no escape for its formatting characters, only entities for & < >. Literal `*`, `_`, `~`
# and backticks from the digest are neutralised by a U+200B on both sides: a marker takes effect
# only with a word boundary on one side and text on the other, and a marker between two U+200B
# has neither (whether Slack reads U+200B as a boundary or as a letter). U+200B is invisible and
# keeps the character itself for copy and search, unlike look-alike substitutes (∗, ＿). A marker
# between two letters or digits can never open or close a span, so snake_case_names and 5*3 stay
# untouched.
#
# Mention safety: every `<` in digest text becomes `&lt;`, so `<!channel>`, `<@U…>` and `<#C…>` stay
# text; the only `<` we write opens a link whose URL has a scheme. mrkdwn objects are also sent with
# verbatim=true so Slack does not turn bare "@name" or "#channel" words into mentions or channel
# links; bare http(s) URLs are made into links here instead.
# ---------------------------------------------------------------------------------------------


def escape_text(text: str, quote_guard: bool = True) -> str:
    size = len(text)
    lead = size - len(text.lstrip())

    def replace_special(match: re.Match[str]) -> str:
        char = match.group()
        index = match.start()
        if char == "&":
            return "&amp;"
        if char == "<":
            return "&lt;"
        if char == ">":
            # A line starting with &gt; would be a block quote.
            if quote_guard and index <= lead:
                return ZWSP + "&gt;"
            return "&gt;"
        if (char != "`" and 0 < index < size - 1
                and text[index - 1].isalnum() and text[index + 1].isalnum()):
            return char
        return ZWSP + char + ZWSP

    return _TEXT_SPECIALS.sub(replace_special, text)


def unescape_mrkdwn(text: str) -> str:
    """Text as the user typed it: Slack sends &, < and > escaped, and only those."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape_code(text: str) -> str:
    return _CODE_SPECIALS.sub(lambda match: {"&": "&amp;", "<": "&lt;", ">": "&gt;"}[match.group()], text)


def escape_url(url: str) -> str:
    def percent(match: re.Match[str]) -> str:
        return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8"))

    return _URL_UNSAFE.sub(percent, url).replace("&", "&amp;")


def text_cost(char: str) -> int:
    """Upper bound of the characters one code point of digest text becomes in mrkdwn."""
    if char == "&" or char == ">":
        return 5
    if char == "<":
        return 4
    if char in _MARKER_CHARS:
        return 3
    return 1


def code_cost(char: str) -> int:
    return 5 if char == "&" else 4 if char in "<>" else 1


def is_space(char: str) -> bool:
    return char.isspace() or char == ZWSP


def _peels(char: str) -> bool:
    """Whether ``char`` may not stand just inside a formatting marker (the marker would not take
    effect there); such characters move outside the span instead."""
    return char.isspace() or char == ZWSP or char in _MARKER_CHARS


def visible(text: str) -> bool:
    return bool(text.replace(ZWSP, "").strip())


def plain_for_header(text: str) -> str:
    # plain_text never makes mentions, but a "<!channel>" in a header is still best left visibly inert.
    return re.sub(r"<(?=[!@#])", "<" + ZWSP, " ".join(text.split()))



def rendered_link(run: Run) -> str:
    """A link run as mrkdwn (its url already escaped with :func:`escape_url`)."""
    return f"<{run.url}|{escape_text(run.text, quote_guard=False)}>"


# ---------------------------------------------------------------------------------------------
# Writing runs as mrkdwn
# ---------------------------------------------------------------------------------------------


class _Writer:
    """Writes runs into one mrkdwn string, placing U+200B where a marker needs a boundary.

    Slack applies ``*bold*``, ``_italic_`` and backtick code only when the opening marker follows a
    boundary and the closing marker is followed by one; a CJK character is no boundary, so
    ``中*粗体*文`` stays literal. A U+200B is written before an opener and after a closer whenever the
    neighbour is not whitespace. Whitespace and literal marker characters at the edges of a span move
    outside it, because a marker next to them would not take effect either.
    """

    def __init__(self) -> None:
        self.out: list[str] = []
        self.boundary = True  # the last thing written lets a marker open (start, space, U+200B, opener)
        self.after_closer = False  # a marker just closed: it needs a boundary after it

    def write(self, runs: Sequence[Run]) -> str:
        index = 0
        while index < len(runs):
            end = index + 1
            if runs[index].styled:
                style = (runs[index].bold, runs[index].italic)
                while end < len(runs) and (runs[end].bold, runs[end].italic) == style and runs[end].text != "\n":
                    end += 1
                self._styled(runs[index:end])
            else:
                self._plain(runs[index])
            index = end
        return "".join(self.out)

    def _emit(self, text: str, boundary_after: bool) -> None:
        self.out.append(text)
        self.boundary = boundary_after
        self.after_closer = False

    def _plain(self, run: Run, quote_guard: bool = True) -> None:
        if run.kind == "link":
            if self.after_closer:
                self.out.append(ZWSP)
            self._emit(rendered_link(run), False)
        elif run.kind == "code":
            lead = "" if self.boundary else ZWSP
            self._emit(f"{lead}`{escape_code(run.text)}`", False)
            self.after_closer = True
        else:
            if self.after_closer and not is_space(run.text[0]):
                self.out.append(ZWSP)
            escaped = escape_text(run.text, quote_guard)
            self._emit(escaped, is_space(escaped[-1]))

    def _styled(self, group: Sequence[Run]) -> None:
        runs = list(group)
        prefix: list[Run] = []
        suffix: list[Run] = []
        while runs and runs[0].kind == "text":
            text = runs[0].text
            cut = next((i for i, char in enumerate(text) if not _peels(char)), len(text))
            if cut:
                prefix.append(runs[0].with_text(text[:cut]))
            if cut < len(text):
                runs[0] = runs[0].with_text(text[cut:])
                break
            runs.pop(0)
        while runs and runs[-1].kind == "text":
            text = runs[-1].text
            keep = len(text)
            while keep and _peels(text[keep - 1]):
                keep -= 1
            if keep < len(text):
                suffix.insert(0, runs[-1].with_text(text[keep:]))
            if keep:
                runs[-1] = runs[-1].with_text(text[:keep])
                break
            runs.pop()
        for run in prefix:
            self._plain(run)
        if runs:
            first = runs[0]
            opener = ("*" if first.bold else "") + ("_" if first.italic else "")
            self._emit(("" if self.boundary else ZWSP) + opener, True)
            for number, run in enumerate(runs):
                self._plain(run, quote_guard=number > 0)
            self._emit(opener[::-1], False)
            self.after_closer = True
        for run in suffix:
            self._plain(run)


def render_runs(runs: Sequence[Run]) -> str:
    return _Writer().write(runs)

