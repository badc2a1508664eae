"""`digestbot render` and `digestbot check`, run as a user runs them: a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.digest.parse import parse_digest, parse_file
from bot.platforms import registry
from bot.render import text as text_renderer
from tests.conftest import EXAMPLES, ROOT
from tests.test_parse import MALFORMED

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.md"))
PLATFORMS = list(registry.RENDER_NAMES)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          encoding="utf-8", errors="replace", env=environment, cwd=ROOT, timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(("content", "line"), [(case[1], case[2]) for case in MALFORMED],
                         ids=[case[0] for case in MALFORMED])
def test_render_rejects_malformed_digests_in_one_line(tmp_path: Path, content: str | bytes, line: int) -> None:
    path = tmp_path / "2025-10-01.md"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    result = run("render", str(path), "--for", "text")
    assert_one_line_error(result, f"{path}:{line}: ")
    assert result.stdout == ""


def test_check_reports_each_bad_file_on_its_own_line(tmp_path: Path) -> None:
    paths = []
    for name, content, _line, _words in MALFORMED:
        path = tmp_path / f"{name}.md"
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        paths.append(path)
    good = EXAMPLE_FILES[0]
    result = run("check", str(good), *map(str, paths))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = result.stderr.splitlines()
    assert len(errors) == len(paths)
    for error, path, (_name, _content, line, words) in zip(errors, paths, MALFORMED, strict=True):
        assert error.startswith(f"{path}:{line}: ")
        assert words in error
    assert result.stdout.splitlines() == [f"OK {good} ({len(parse_file(good).items)} items, {good.stem})"]


def test_check_accepts_every_example() -> None:
    result = run("check", *map(str, EXAMPLE_FILES))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    expected = [f"OK {path} ({len(parse_file(path).items)} items, {path.stem})" for path in EXAMPLE_FILES]
    assert result.stdout.splitlines() == expected


@pytest.mark.parametrize("args", [
    ["render", "examples/no-such-digest.md", "--for", "text"],
    ["check", "examples/no-such-digest.md"],
], ids=["render", "check"])
def test_a_missing_file_is_one_line(args: list[str]) -> None:
    assert_one_line_error(run(*args), "examples/no-such-digest.md", "no such file")


@pytest.mark.parametrize(("args", "fragment"), [
    (["render", "examples/2025-10-01.md", "--for", "fax"], "invalid choice: 'fax'"),
    (["render"], "required: PATH"),
    (["render", "examples/2025-10-01.md", "--json", "--bogus"], "unrecognized arguments: --bogus"),
    ([], "required: COMMAND"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_are_one_line(args: list[str], fragment: str) -> None:
    assert_one_line_error(run(*args), fragment)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_render_json_is_the_list_of_api_calls(platform: str) -> None:
    path = EXAMPLES / "2025-10-01.md"
    result = run("render", str(path), "--for", platform, "--json")
    assert result.returncode == 0, result.stderr
    payloads = json.loads(result.stdout)
    assert isinstance(payloads, list) and payloads
    # Each payload is the body (or call parameters) as sent; its platform's message field is always there.
    field = {"discord": "content", "feishu": "card", "wecom": "markdown", "dingtalk": "markdown"}.get(platform, "text")
    assert all(isinstance(payload, dict) and payload.get(field) for payload in payloads)
    module = registry.load_renderer(registry.by_render_name(platform))
    assert payloads == json.loads(json.dumps(module.render_digest(parse_file(path))))
    if platform == "telegram":
        assert all(payload["parse_mode"] == "HTML" for payload in payloads)
        assert all("chat_id" not in payload for payload in payloads)
    if platform == "slack":
        assert all(isinstance(payload["blocks"], list) for payload in payloads)
        assert all("channel" not in payload for payload in payloads)
    if platform == "discord":
        assert all(set(payload) == {"content", "embeds", "allowed_mentions", "flags"} for payload in payloads)
        assert all(payload["allowed_mentions"] == {"parse": []} for payload in payloads)


def test_the_long_example_needs_several_messages() -> None:
    digest = parse_file(EXAMPLES / "2025-10-01.md")
    for platform in PLATFORMS:
        if platform == "text":
            continue
        module = registry.load_renderer(registry.by_render_name(platform))
        assert len(module.render_digest(digest)) > 1, platform


def test_render_text_prints_the_digest() -> None:
    result = run("render", "examples/2025-10-03.md", "--for", "text")
    assert result.returncode == 0, result.stderr
    digest = parse_file(EXAMPLES / "2025-10-03.md")
    assert result.stdout.startswith(digest.title + "\n")
    for item in digest.items:
        assert f"{item.number}. {item.title}\n" in result.stdout
        assert item.url in result.stdout


def test_render_survives_a_terminal_that_cannot_show_cjk() -> None:
    result = run("render", "examples/2025-10-01.md", "--for", "text", env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.strip()


# In-process: the same entry point, faster, for the output formats.

def test_main_render_default_is_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(EXAMPLES / "2025-10-02.md")]) == 0
    out = capsys.readouterr().out
    assert "AT&T <beta> ships" in out
    assert "<!channel>" in out


@pytest.mark.parametrize("platform", [platform for platform in PLATFORMS if platform != "text"])
def test_main_render_human_view_separates_parts(capsys: pytest.CaptureFixture[str], platform: str) -> None:
    assert main(["render", str(EXAMPLES / "2025-10-01.md"), "--for", platform]) == 0
    out = capsys.readouterr().out
    module = registry.load_renderer(registry.by_render_name(platform))
    parts = len(module.render_digest(parse_file(EXAMPLES / "2025-10-01.md")))
    assert out.count("─" * 60) == parts - 1


def test_main_reports_digest_errors_without_raising(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: T\ndate: 2025-10-01\n---\n\n1. no link\n", encoding="utf-8")
    assert main(["render", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"{path}:6: item 1 has no link: expected '1.  [Title](https://…)'\n"
    assert captured.out == ""


# The plain-text renderer behind `render --for text` and the console.

def test_text_renderer_shows_links_and_drops_markup() -> None:
    source = ("---\ntitle: T\ndate: 2025-10-01T09:30:00+08:00\n---\n\nSee **this** and [the docs](https://d.example).\n\n"
              "---\n\n1.  [Item](https://i.example)\n\n    A `code` span, *italic*, <https://auto.example>.\n\n"
              "---\n\n## Notes\n\n- one\n- two\n\nEnd.\n")
    [payload] = text_renderer.render_digest(parse_digest(source))
    assert payload == {"text": "T\n2025-10-01 09:30 +08:00\n\n"
                               "See this and the docs (https://d.example).\n\n"
                               "1. Item\n   https://i.example\n\n   A code span, italic, https://auto.example.\n\n"
                               "Notes\n\n• one\n• two\n\nEnd."}


def test_text_renderer_items_and_notices_keep_terminal_control_out() -> None:
    digest = parse_digest("---\ntitle: T\ndate: 2025-10-01\n---\n\n1. [A\x1bc](https://a.example)\n\n    S\x07.\n\n"
                          "2. [B](https://b.example)\n")
    [payload] = text_renderer.render_items("Hardware — 2025-10-01", digest.items[:1], digest)
    assert payload == {"text": "Hardware — 2025-10-01\n\n1. Ac\n   https://a.example\n\n   S."}
    assert text_renderer.render_notice("no digest yet\x1b]0;x\x07") == [{"text": "no digest yet]0;x"}]
