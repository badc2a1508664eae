"""check-config and the service decide alike: the sqlite file, URL templates and category names."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.digests import write_digest

DAY = dt.date(2025, 10, 1)
# Only guards against a hang; the assertions are about the outcome.
HANG_GUARD_SECONDS = 60


def bot(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DIGESTBOT_LOG_LEVEL"}
    env.update(PYTHONPATH=str(ROOT), HOME=str(home))
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env, timeout=HANG_GUARD_SECONDS, cwd=home)


def config(folder: Path, extra: str, source: str = "./digests") -> Path:
    write_digest(folder / "digests", DAY)
    path = folder / "config.yaml"
    path.write_text(f"""version: 1
timezone: UTC
language: en
digests: {{source: "{source}"}}
channels:
  - {{name: terminal, platform: console, schedule: "09:30"}}
{extra}""", encoding="utf-8")
    return path


def test_a_home_relative_sqlite_path_is_the_file_send_writes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    path = config(tmp_path / "conf", 'store: "sqlite:///~/state.db"\n')
    checked = bot("check-config", "-c", str(path), home=home)
    assert checked.returncode == 0, checked.stderr
    assert f"store: sqlite:///~/state.db ({home / 'state.db'})" in checked.stdout.splitlines()
    sent = bot("send", "-c", str(path), "--date", DAY.isoformat(), home=home)
    assert sent.returncode == 0, sent.stderr
    assert (home / "state.db").is_file()
    assert not (tmp_path / "conf" / "~").exists()


def test_a_template_check_config_refuses_is_refused_by_send_and_run_alike(tmp_path: Path) -> None:
    path = config(tmp_path, "", source="https://digests.example.com/{date:%H}.md")
    outcomes = [bot(command, "-c", str(path), home=tmp_path) for command in ("check-config", "send", "run")]
    lines = [outcome.stderr.splitlines() for outcome in outcomes]
    assert [outcome.returncode for outcome in outcomes] == [2, 2, 2]
    assert lines[0] == lines[1] == lines[2]
    assert len(lines[0]) == 1 and "digests.source: URL template does not use the date" in lines[0][0]
    assert all("Traceback" not in outcome.stderr for outcome in outcomes)


def test_category_names_clash_for_check_config_exactly_when_the_lookup_could_not_tell_them_apart(
        tmp_path: Path) -> None:
    clashing = config(tmp_path / "clash", "categories:\n  Large Models: {aliases: [llm]}\n"
                                          "  Chips: {aliases: [large_models]}\n")
    outcomes = [bot(command, "-c", str(clashing), home=tmp_path) for command in ("check-config", "send")]
    assert [outcome.returncode for outcome in outcomes] == [2, 2]
    assert outcomes[0].stderr == outcomes[1].stderr
    assert outcomes[0].stderr.splitlines() == [
        f"{clashing}: categories.Chips.aliases[0]: 'large_models' already names category 'Large Models' (line 9)"]

    # Names the lookup tells apart pass, and the service then answers /category by any of them.
    distinct = config(tmp_path / "fine", "store: memory://\ncategories:\n  Large Models: {aliases: [llm]}\n"
                                         "  Hardware: {aliases: [hw, 硬件], keywords: [chips]}\n")
    assert bot("check-config", "-c", str(distinct), home=tmp_path).returncode == 0
    write_digest(tmp_path / "fine" / "digests", dt.datetime.now(dt.UTC).date())
    child = subprocess.run([sys.executable, "-m", "bot", "console", "-c", str(distinct)],
                           input="/category large-models\n/category 硬件\n", capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=HANG_GUARD_SECONDS)
    assert child.returncode == 0, child.stderr
    assert "Traceback" not in child.stderr
    assert "No Large Models items today" in child.stdout
    assert "Hardware · " in child.stdout and "Headline 1" in child.stdout
