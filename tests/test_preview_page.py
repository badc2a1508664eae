"""The preview page without a browser: its outline pinned for the examples, one part per `render --json`
element, the command line's answers, escaping in the HTML itself, and the --serve loop."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.cli import main
from bot.digest.categories import Categorizer
from bot.digest.parse import parse_digest
from bot.platforms import registry
from bot.preview.build import build_page
from bot.preview.document import Options, preview_html
from bot.preview.page import render_page
from bot.preview.serve import LivePage, make_app
from bot.settings import CategoryRule
from tests.conftest import EXAMPLES
from tests.preview_support import HOSTILE_DIGEST, html_tree, outline
from tests.test_cli_render import assert_one_line_error, run

GOLDEN = Path(__file__).resolve().parent / "golden" / "preview"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.md"))
UPDATE = os.environ.get("DIGESTBOT_UPDATE_GOLDEN") == "1"


def page_of(path: Path, **options: Any) -> str:
    return preview_html(path, Options(**options))


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: path.stem)
def test_page_outline_is_pinned(example: Path) -> None:
    shown = outline(page_of(example))
    golden = GOLDEN / f"{example.stem}.json"
    if UPDATE:
        golden.write_text(json.dumps(shown, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert golden.exists(), f"run DIGESTBOT_UPDATE_GOLDEN=1 pytest {__file__} and review {golden.name}"
    assert shown == json.loads(golden.read_text(encoding="utf-8"))


def render_json(example: Path, platform: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main(["render", str(example), "--for", platform, "--json"]) == 0
    payloads: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return payloads


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: path.stem)
def test_each_view_has_one_part_per_render_json_element(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    views = {view["platform"]: view for view in outline(page_of(example))["views"]}
    assert list(views) == list(registry.NAMES)
    for platform in registry.PLATFORMS:
        assert len(views[platform.name]["parts"]) == len(render_json(example, platform.render_name, capsys))


def test_a_platform_without_a_view_builder_is_left_off(monkeypatch: pytest.MonkeyPatch) -> None:
    unknown = registry.Platform("pigeon", "bot.render.text", "pigeon", text_payloads=True,
                                channel="bot.platforms.console.channel:open_channel")
    known = list(registry.NAMES)
    monkeypatch.setattr(registry, "PLATFORMS", (*registry.PLATFORMS, unknown))
    page = build_page(parse_digest(HOSTILE_DIGEST, "hostile.md"))
    assert [view.platform for view in page.views] == known


def test_for_limits_the_views_by_either_name() -> None:
    shown = outline(page_of(EXAMPLE_FILES[0], platforms=("text", "slack")))
    assert [view["platform"] for view in shown["views"]] == ["console", "slack"]


def test_digest_text_never_becomes_markup() -> None:
    html = render_page(build_page(parse_digest(HOSTILE_DIGEST, "hostile.md")))
    tree = html_tree(html)
    assert not tree.find_all(lambda node: node.tag in {"script", "img", "textarea", "b", "iframe"})
    assert "window.__pwned" in tree.text and "</a>" in tree.text and "<b>tags</b>" in tree.text
    hrefs = [node.attrs["href"] for node in tree.find_all(lambda node: node.tag == "a")]
    assert hrefs and all(href.startswith(("https://news.example.com/hostile/", "ftp://files.example.com/"))
                         for href in hrefs)
    assert "https://news.example.com/hostile/1?a=1&b=\"2\"" in hrefs


def test_the_file_page_loads_nothing_and_runs_nothing() -> None:
    html = page_of(EXAMPLE_FILES[-1])
    assert "default-src 'none'" in html
    for needle in ("<script", "<link", "<img", "<iframe", " src=", "url(", "@import", "@font-face"):
        assert needle not in html


def test_categories_come_from_the_config_rules_when_given() -> None:
    digest = parse_digest(HOSTILE_DIGEST, "hostile.md")
    rules = Categorizer([CategoryRule("Ops", aliases=(), keywords=("summary",))])
    rows = {item.number: item.categories for item in build_page(digest, categorizer=rules).items}
    assert rows == {1: ("Ops", "Security"), 2: ("Ops",)}
    assert {item.number: item.categories for item in build_page(digest).items} == {1: ("Security",), 2: ()}


def test_cli_writes_the_page_beside_the_current_folder_by_default(tmp_path: Path) -> None:
    digest = tmp_path / "today.md"
    digest.write_text(HOSTILE_DIGEST, encoding="utf-8")
    out = tmp_path / "page.html"
    assert main(["preview", str(digest), "--out", str(out)]) == 0
    assert "data-platform=\"telegram\"" in out.read_text(encoding="utf-8")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert main(["preview", str(digest)]) == 0
    finally:
        os.chdir(cwd)
    assert (tmp_path / "today.preview.html").is_file()


def test_cli_bad_digest_is_one_line_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("no front matter here\n", encoding="utf-8")
    assert_one_line_error(run("preview", str(bad), "--out", str(tmp_path / "x.html")), "bad.md")
    assert not (tmp_path / "x.html").exists()


def test_cli_unknown_platform_and_unwritable_out_exit_2(tmp_path: Path) -> None:
    example = str(EXAMPLE_FILES[0])
    assert_one_line_error(run("preview", example, "--for", "telegram,pigeon"), "pigeon", "--for")
    assert_one_line_error(run("preview", example, "--out", str(tmp_path / "missing" / "x.html")), "x.html")


def test_cli_config_labels_items(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("version: 1\nstore: memory://\ncategories:\n  Ops: {keywords: [summary]}\n", encoding="utf-8")
    digest = tmp_path / "today.md"
    digest.write_text(HOSTILE_DIGEST, encoding="utf-8")
    assert main(["preview", str(digest), "-c", str(config), "--out", "-"]) == 0
    assert outline(capsys.readouterr().out)["items"][1]["categories"] == ["Ops"]


async def test_serve_renders_again_when_the_file_changes(tmp_path: Path) -> None:
    digest = tmp_path / "today.md"
    digest.write_text(HOSTILE_DIGEST, encoding="utf-8")
    renders: list[str] = []

    def render(version: str) -> str:
        renders.append(version)
        return preview_html(digest, Options(), live=True, version=version)

    async with TestClient(TestServer(make_app(LivePage(digest, render)))) as client:
        first = await (await client.get("/")).text()
        version = await (await client.get("/version")).text()
        assert "first title" in first and "<script>" in first and version in first
        assert await (await client.get("/")).text() == first and len(renders) == 1
        digest.write_text(HOSTILE_DIGEST.replace("first title", "edited title"), encoding="utf-8")
        stat = digest.stat()
        os.utime(digest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert await (await client.get("/version")).text() != version
        assert "edited title" in await (await client.get("/")).text()
        digest.write_text("not a digest", encoding="utf-8")
        broken = await (await client.get("/")).text()
        assert "today.md" in broken and 'class="error"' in broken
