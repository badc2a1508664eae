"""How a digest reads on the robot platforms (Feishu, WeCom, DingTalk): its sections of styled blocks.

Each item is one section (its numbered, linked title, then its summary), so the core's packer
keeps an item in one message when it can and splits between items first. The title, intro and
commentary are sections of their own; `item_separator` opens every section but the first (Feishu
makes each one a card element of its own this way).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bot.digest.model import Digest, Item, Paragraph
from bot.render import links
from bot.render.packing import Block
from bot.render.runs import Run, flatten, link_or_text

Sections = list[list[Block]]


@dataclass(frozen=True, slots=True)
class Layout:
    """What differs between the robot platforms' layouts: which links they carry and the separators."""

    rules: links.LinkRules = links.SLACK
    paragraph_separator: str = "\n\n"       # between paragraphs of one section
    item_separator: str = "\n\n"            # before each section after the first in a part
    title_in_text: bool = True              # False: the title is shown elsewhere (a card's header)

    def link(self, url: str, label: str, bold: bool, italic: bool) -> list[Run]:
        return link_or_text(url, label, bold, italic, self.rules)

    def paragraph(self, paragraph: Paragraph, separator: str) -> Block:
        return Block(flatten(paragraph, self.link), separator)

    def item(self, item: Item) -> list[Block]:
        title = [Run("text", f"{item.number}. ", bold=True), *self.link(item.url, item.title, True, False)]
        return [Block(title, self.item_separator),
                *(self.paragraph(paragraph, self.paragraph_separator) for paragraph in item.summary)]

    def digest(self, digest: Digest) -> Sections:
        head: list[Block] = []
        if self.title_in_text:
            head.append(Block([Run("text", digest.title, bold=True), Run("text", f"  {date_line(digest.date)}")],
                              self.item_separator))
        head += [self.paragraph(paragraph, self.paragraph_separator) for paragraph in digest.intro]
        sections = [head, *(self.item(item) for item in digest.items)]
        if digest.commentary:
            heading = [Block([Run("text", digest.commentary_heading or "", bold=True)], self.item_separator)]
            sections.append(heading + [self.paragraph(p, self.paragraph_separator) for p in digest.commentary])
        return [section for section in sections if section]

    def items(self, heading: str, items: Sequence[Item]) -> Sections:
        head = [[Block([Run("text", heading, bold=True)], self.item_separator)]] if self.title_in_text else []
        return head + [self.item(item) for item in items]

    def notice(self, text: str) -> Sections:
        """The bot's own words, plain: one block per paragraph."""
        return [[Block([Run("text", paragraph)], self.paragraph_separator)
                 for paragraph in text.split("\n\n") if paragraph.strip()]]


def date_line(day: dt.date) -> str:
    return day.isoformat()
