"""`digestbot send` exit statuses: 1 with the reason when a channel cannot be served, inactive ones skipped."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from bot.store import open_store
from tests.conftest import ROOT, free_port
from tests.digests import write_digest


def run_send(config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bot", "send", "-c", str(config)], capture_output=True,
                          text=True, env=env, timeout=60)


def write_config(path: Path, source: str) -> Path:
    path.write_text(f"""version: 1
timezone: UTC
digests: {{source: "{source}", fetch_timeout: 2s}}
store: sqlite:///./ledger.db
channels:
  - {{name: terminal, platform: console, schedule: "09:30"}}
""", encoding="utf-8")
    return path


def test_an_unreachable_source_fails_the_channel_with_its_reason(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/{{date:%Y-%m-%d}}.md"
    result = run_send(write_config(tmp_path / "config.yaml", closed))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert any(line.startswith("terminal: ") and "127.0.0.1" in line for line in result.stdout.splitlines())


def test_an_inactive_channel_is_skipped_and_does_not_fail_the_send(tmp_path: Path) -> None:
    import asyncio

    write_digest(tmp_path / "digests", dt.date(2025, 10, 1))
    config = write_config(tmp_path / "config.yaml", "./digests")

    async def mark() -> None:
        store = open_store("sqlite:///./ledger.db", tmp_path)
        await store.mark_inactive("console", "", "removed by the operator")
        await store.close()

    asyncio.run(mark())
    result = run_send(config)
    assert result.returncode == 0, result.stderr
    assert "terminal: skipped: inactive (removed by the operator)" in result.stdout
    assert "Test digest" not in result.stdout
