"""Pins the exact payloads every example digest becomes on every platform.

After an intended rendering change, regenerate and review the diff:

    DIGESTBOT_UPDATE_GOLDEN=1 pytest tests/test_golden.py && git diff tests/golden
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bot.digest.parse import parse_file
from bot.platforms import registry
from tests.conftest import EXAMPLES

GOLDEN = Path(__file__).resolve().parent / "golden"
PLATFORMS = ("telegram", "slack", "discord", "text", "feishu", "wecom", "dingtalk")
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.md"))
UPDATE = os.environ.get("DIGESTBOT_UPDATE_GOLDEN") == "1"


def golden_path(example: Path, platform: str) -> Path:
    return GOLDEN / f"{example.stem}.{platform}.json"


def rendered(example: Path, platform: str) -> list[dict[str, Any]]:
    module = registry.load_renderer(registry.by_render_name(platform))
    # Through JSON, as the payloads travel: tuples become lists, and anything unserialisable fails here.
    payloads: list[dict[str, Any]] = json.loads(json.dumps(module.render_digest(parse_file(example))))
    return payloads


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: path.stem)
def test_example_renders_as_pinned(example: Path, platform: str) -> None:
    payloads = rendered(example, platform)
    golden = golden_path(example, platform)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(json.dumps(payloads, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if not golden.exists():
        pytest.fail(f"{golden.relative_to(GOLDEN.parent.parent)} is missing: "
                    "run DIGESTBOT_UPDATE_GOLDEN=1 pytest tests/test_golden.py and review it")
    assert payloads == json.loads(golden.read_text(encoding="utf-8"))


def test_every_golden_file_belongs_to_an_example_and_a_platform() -> None:
    expected = {golden_path(example, platform).name for example in EXAMPLE_FILES for platform in PLATFORMS}
    stale = sorted(path.name for path in GOLDEN.glob("*.json") if path.name not in expected)
    assert not stale, f"golden files without an example or platform: {stale}"
