"""Writes small digests in the published format for tests that need one for a given date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def digest_text(date: dt.date, items: int = 3, title: str | None = None, summary_sentences: int = 2,
                time_of_day: str | None = None) -> str:
    when = f"{date.isoformat()}T{time_of_day}+08:00" if time_of_day else date.isoformat()
    lines = [
        "---",
        f'title: "{title or f"Test digest {date.isoformat()}"}"',
        f"date: {when}",
        "categories: [Hardware, Large Models]",
        "---",
        "",
        f"Intro for {date.isoformat()}: what moved in the field today.",
        "",
        "---",
        "",
    ]
    for number in range(1, items + 1):
        sentence = f"Item {number} of {date.isoformat()} says something **notable** about chips and models. "
        lines += [
            f"{number}.  [Headline {number} for {date.isoformat()}](https://news.example.com/{date}/{number})",
            "",
            "    " + sentence * summary_sentences,
            "",
        ]
    lines += ["---", "", "### Commentary", "", f"Closing thoughts for {date.isoformat()}.", ""]
    return "\n".join(lines)


def write_digest(folder: Path, date: dt.date, **options: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    # File names are deliberately not the date: sources must read the front matter.
    path = folder / f"issue-{date.toordinal()}.md"
    path.write_text(digest_text(date, **options), encoding="utf-8")  # type: ignore[arg-type]
    return path
