"""The view builders, each from payloads of its platform's shape: styles, links, meters, and the flags."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from bot.digest.parse import parse_digest
from bot.platforms.slack.limits import LIMITS as SLACK_LIMITS
from bot.platforms.telegram.limits import LIMITS as TELEGRAM_LIMITS
from bot.preview.build import build_page
from bot.preview.meters import platform_limit
from bot.preview.model import Block, Meter, Part, Run
from bot.preview.tghtml import parse_html
from bot.preview.views import builder_for, console, dingtalk, discord, feishu, slack, telegram, wecom
from tests.digests import digest_text
from tests.fakes import tdparse
from tests.preview_support import HOSTILE_DIGEST

GOLDEN = Path(__file__).resolve().parent / "golden"


def runs_of(part: Part) -> list[Run]:
    def walk(block: Block) -> list[Run]:
        return [*block.title, *block.runs, *(run for child in block.children for run in walk(child))]

    return [run for block in part.blocks if block.kind != "notification" for run in walk(block)]


def styled(part: Part, text: str) -> Run:
    return next(run for run in runs_of(part) if run.text == text)


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("*.telegram.json")), ids=lambda path: path.stem)
def test_telegram_counts_as_telegram_does(golden: Path) -> None:
    for payload in json.loads(golden.read_text(encoding="utf-8")):
        mine, theirs = parse_html(payload["text"]), tdparse.parse_html(payload["text"])
        assert (mine.text, mine.entities) == (theirs.text, len(theirs.entities))


def test_telegram_bubble_styles_its_entities() -> None:
    part = telegram.part({"text": '<b>Big</b> <i>it</i> <code>x&lt;y</code> <a href="https://a.example.com/">A</a>'
                                  " <blink>odd</blink>", "parse_mode": "HTML"})
    assert styled(part, "Big").marks == {"bold"} and styled(part, "it").marks == {"italic"}
    assert styled(part, "x<y").marks == {"code"} and styled(part, "A").href == "https://a.example.com/"
    assert "<blink>odd</blink>" in part.plain
    used = len("Big it x<y A <blink>odd</blink>")
    assert [meter.text for meter in part.meters] == [f"{used} / {TELEGRAM_LIMITS.max_chars:,} characters",
                                                     f"4 / {TELEGRAM_LIMITS.max_entities} entities"]


def test_telegram_entities_payload_uses_utf16_offsets() -> None:
    part = telegram.part({"text": "👍 bold link", "entities": [
        {"type": "bold", "offset": 3, "length": 4},
        {"type": "text_link", "offset": 8, "length": 4, "url": "https://b.example.com/"}]})
    assert styled(part, "bold").marks == {"bold"} and styled(part, "link").href == "https://b.example.com/"
    assert part.meters[1].used == 2


def test_slack_blocks_and_mrkdwn() -> None:
    part = slack.part({"text": "fallback &amp; more", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "Head *not bold*"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "2025-10-03 · (1/2)"}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*1. <https://x.example.com/?a=1&amp;b=%7C|"
                                                               "AT&amp;T &lt;b&gt;>*\n_it_ `c&lt;` "
                                                               "5 \u200b*\u200b 3 snake_case_name"}},
        {"type": "divider"}]})
    kinds = [block.kind for block in part.blocks]
    assert kinds == ["header", "context", "text", "divider", "notification"]
    link = styled(part, "AT&T <b>")
    assert link.href == "https://x.example.com/?a=1&b=%7C" and link.marks == {"bold"}
    assert styled(part, "it").marks == {"italic"} and styled(part, "c<").marks == {"code"}
    assert "Head *not bold*" in part.plain and "\u200b*\u200b 3 snake_case_name" in part.plain
    assert part.meters[0] == Meter(4, "blocks", SLACK_LIMITS.max_blocks)
    assert part.meters[1].limit == SLACK_LIMITS.max_block_text


def test_discord_content_and_embeds() -> None:
    content = "# Title\n**bold** and *it* \\*lit\\* [l](https://l.example.com)"
    part = discord.part({"content": content,
                         "embeds": [{"title": "Embed", "url": "https://e.example.com", "description": "> quoted",
                                     "fields": [{"name": "F", "value": "v"}], "footer": {"text": "foot"}}],
                         "allowed_mentions": {"parse": []}})
    assert [block.kind for block in part.blocks] == ["heading", "text", "embed"]
    assert styled(part, "bold").marks == {"bold"} and styled(part, "it").marks == {"italic"}
    assert "*lit*" in part.plain and styled(part, "l").href == "https://l.example.com"
    assert part.hrefs == {"https://l.example.com", "https://e.example.com"}
    assert [meter.text for meter in part.meters] == [f"{len(content)} / 2,000 characters", "1 / 10 embeds",
                                                     "19 / 6,000 embed characters"]


def test_feishu_card() -> None:
    part = feishu.part({"msg_type": "interactive", "card": {
        "header": {"title": {"tag": "plain_text", "content": "Card"}, "template": "blue"},
        "elements": [{"tag": "div", "text": {"tag": "lark_md",
                                             "content": "**b** [x](https://x.example.com) &lt;t&gt;"}},
                     {"tag": "hr"}, {"tag": "note", "elements": [{"tag": "plain_text", "content": "n"}]}]}})
    card = part.blocks[0]
    assert card.kind == "card" and [child.kind for child in card.children] == ["text", "divider", "context"]
    assert styled(part, "b").marks == {"bold"} and "<t>" in part.plain
    assert part.meters[0].unit == "bytes" and part.meters[0].limit == platform_limit("feishu", "max_body_bytes")


def test_wecom_markdown_and_text() -> None:
    part = wecom.part({"msgtype": "markdown", "markdown": {"content":
        '## 标题\n**粗体** <font color="warning">注意</font> [链接](https://w.example.com)'}})
    assert [block.kind for block in part.blocks] == ["heading", "text"]
    assert styled(part, "注意").color == "warning" and styled(part, "粗体").marks == {"bold"}
    assert part.meters[0].used == len('## 标题\n**粗体** <font color="warning">注意</font> [链接](https://w.example.com)'
                                      .encode())
    assert wecom.part({"msgtype": "text", "text": {"content": "**plain**"}}).plain == "**plain**"


def test_dingtalk_markdown() -> None:
    part = dingtalk.part({"msgtype": "markdown", "markdown": {"title": "T", "text": "### H\n*i* **b**"}})
    assert [block.kind for block in part.blocks] == ["notification", "heading", "text"]
    assert styled(part, "i").marks == {"italic"} and part.meters[0].limit == 20_000


def test_console_and_unknown_builders() -> None:
    assert console.part({"text": "a\nb"}).meters == (Meter(3, "characters"), Meter(2, "lines"))
    assert builder_for("pigeon") is None and builder_for("telegram") is telegram


def test_limits_come_from_the_platform_module() -> None:
    assert platform_limit("telegram", "max_chars") == TELEGRAM_LIMITS.max_chars
    with pytest.raises(AttributeError):
        platform_limit("telegram", "no_such_limit")


def test_unsafe_link_targets_never_become_links() -> None:
    part = slack.part({"text": "", "blocks": [{"type": "section", "text": {
        "type": "mrkdwn", "text": "<javascript:alert(1)|click> <data:text/html,x|d>"}}]})
    assert all(run.href is None for run in runs_of(part))


def test_an_item_cut_inside_itself_is_flagged() -> None:
    sentences = " ".join(f"Sentence {number} of the long item tells a different thing." for number in range(400))
    text = digest_text(dt.date(2025, 10, 5), items=2).replace("Item 1 of 2025-10-05", sentences, 1)
    page = build_page(parse_digest(text, "long.md"))
    views = {view.platform: view for view in page.views}
    for platform in ("telegram", "slack"):
        view = views[platform]
        assert len(view.parts) > 1
        cuts = [flag for flag in view.flags if flag.kind == "cut"]
        assert cuts and all(flag.part is not None for flag in cuts), platform
        assert "item 1 is cut inside itself" in cuts[0].text
    assert not [flag for flag in views["console"].flags if flag.kind == "cut"]


def test_links_shown_as_text_are_flagged_with_their_scheme() -> None:
    views = {view.platform: view for view in build_page(parse_digest(HOSTILE_DIGEST, "hostile.md")).views}
    telegram_flags = [flag.text for flag in views["telegram"].flags if flag.kind == "link-as-text"]
    assert any("javascript:" in text and "does not link javascript: URLs" in text for text in telegram_flags)
    assert any("ftp://files.example.com/x" in text for text in telegram_flags)
    slack_flags = [flag.text for flag in views["slack"].flags if flag.kind == "link-as-text"]
    assert len(slack_flags) == 1 and "javascript:" in slack_flags[0]
    assert not views["console"].flags


def payload_shapes() -> dict[str, dict[str, Any]]:
    return {"discord": {"content": "x", "embeds": []}, "feishu": {"msg_type": "interactive", "card": {}},
            "wecom": {"msgtype": "markdown", "markdown": {"content": ""}},
            "dingtalk": {"msgtype": "markdown", "markdown": {"title": "", "text": ""}}}


@pytest.mark.parametrize("platform", ["discord", "feishu", "wecom", "dingtalk"])
def test_sparse_payloads_do_not_break_a_view(platform: str) -> None:
    builder = builder_for(platform)
    assert builder is not None
    builder.part(payload_shapes()[platform])
    builder.part({})
