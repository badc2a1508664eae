"""Telegram's HTML parse mode read the way Telegram reads it: styled runs, the text, the entities.

Only the tags Telegram knows become styles; anything else (which Telegram would refuse) is kept as
visible text, so it shows on the page instead of vanishing or becoming markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

from bot.preview.model import Runs
from bot.preview.runs import RunBuilder

_MARKS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strike", "strike": "strike", "del": "strike", "code": "code", "pre": "pre",
    "tg-spoiler": "spoiler", "blockquote": "quote", "tg-emoji": "emoji",
}


@dataclass(frozen=True, slots=True)
class ParsedHtml:
    runs: Runs
    text: str
    entities: int
    links: tuple[str, ...]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = RunBuilder()
        self.text: list[str] = []
        self.open: list[tuple[str, int]] = []   # (tag, text length when it opened)
        self.entities = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "span" and (values.get("class") or "") == "tg-spoiler":
            tag = "tg-spoiler"
        if tag == "a":
            self.out.open_link(values.get("href") or "")
        elif tag in _MARKS:
            self.out.push(_MARKS[tag])
        else:
            self.handle_data(self.get_starttag_text() or f"<{tag}>")
            return
        self.open.append((tag, self._length()))

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and any(name == "tg-spoiler" for name, _ in self.open):
            tag = "tg-spoiler"
        if not any(name == tag for name, _ in self.open):
            self.handle_data(f"</{tag}>")
            return
        name, start = next(entry for entry in reversed(self.open) if entry[0] == tag)
        self.open.remove((name, start))
        if self._length() > start:
            self.entities += 1
        if tag == "a":
            self.out.close_link()
        else:
            self.out.pop(_MARKS[tag])

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        self.out.add(data)

    def _length(self) -> int:
        return sum(len(chunk) for chunk in self.text)


def parse_html(markup: str) -> ParsedHtml:
    """The message Telegram makes of ``markup``; the count is in code points of the parsed text,
    its trailing and leading blanks trimmed as Telegram trims them."""
    reader = _Reader()
    reader.feed(markup)
    reader.close()
    text = "".join(reader.text)
    return ParsedHtml(reader.out.runs(), text.strip(), reader.entities, tuple(reader.out.links))
