"""Every command answers a problem with one line and exit 2 (bad input) or 1 (could not serve); nothing escapes main."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import ROOT
from tests.digests import write_digest

CONSOLE_CONFIG = """\
version: 1
timezone: UTC
language: en
digests: {source: ./digests}
store: "memory://"
server: {listen: "127.0.0.1:PORT"}
channels:
  - {name: terminal, platform: console, schedule: "09:30"}
"""
# Only guards against a hang; the assertions are about the outcome.
HANG_GUARD_SECONDS = 60


def environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DIGESTBOT_LOG_LEVEL"}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def bot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env or environment(), timeout=HANG_GUARD_SECONDS)


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, start: str) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), result.stderr
    return lines[0]


def write_console_config(folder: Path, port: int = 0) -> Path:
    write_digest(folder / "digests", dt.date(2025, 10, 1))
    path = folder / "config.yaml"
    path.write_text(CONSOLE_CONFIG.replace("PORT", str(port or 8080)), encoding="utf-8")
    return path


# -- digests that are not files ------------------------------------------------------------------

@pytest.mark.parametrize("command", [["check"], ["render", "--for", "text"]], ids=["check", "render"])
def test_a_fifo_dev_zero_and_a_folder_are_one_line_each(tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "digest.fifo"
    os.mkfifo(fifo)
    for target, reason in ((str(fifo), "not a regular file"), ("/dev/zero", "not a regular file"),
                           (str(tmp_path), "is a directory")):
        line = assert_one_line(bot(*command, target), 2, f"{target}: ")
        assert reason in line


# -- config files that cannot be read --------------------------------------------------------------

def test_config_paths_that_name_no_readable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = {
        str(tmp_path / "missing.yaml"): "no such file",
        str(tmp_path): "is a folder, not a config file",
        str(tmp_path / "a\x00b.yaml"): "the file name contains a NUL character",
    }
    for path, reason in cases.items():
        assert main(["check-config", "-c", path]) == 2
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 1 and reason in lines[0], lines
    odd = tmp_path / "two\nlines.yaml"
    odd.write_text("version: 1\nlanguage: fr\n", encoding="utf-8")
    assert main(["check-config", "-c", str(odd)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(repr(str(odd))), lines


# -- failures the bot has no words for -------------------------------------------------------------

def test_an_unexpected_error_is_one_line_and_exit_1_with_the_traceback_only_at_debug(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_console_config(tmp_path)
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed)      # the terminal went away under the command
    with caplog.at_level(logging.DEBUG, logger="bot.cli"):
        assert main(["check-config", "-c", str(config)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["digestbot check-config: unexpected error: ValueError: I/O operation on closed file "
                     "(DIGESTBOT_LOG_LEVEL=DEBUG logs the traceback)"]
    [record] = [record for record in caplog.records if record.name == "bot.cli"]
    assert record.levelno == logging.DEBUG and record.exc_info is not None


def test_a_closed_stdout_through_a_process(tmp_path: Path) -> None:
    config = write_console_config(tmp_path)
    result = subprocess.run(["sh", "-c", f'exec "{sys.executable}" -m bot check-config -c "{config}" >&-'],
                            capture_output=True, text=True, env=environment(), timeout=HANG_GUARD_SECONDS)
    assert_one_line(result, 1, "digestbot check-config: unexpected error: ")


def test_ctrl_c_exits_130_quietly(tmp_path: Path) -> None:
    config = write_console_config(tmp_path)
    child = subprocess.Popen([sys.executable, "-m", "bot", "console", "-c", str(config)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment())
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(b"/help\n")
        child.stdin.flush()
        # The answer proves the console is up and waiting for the next line.
        ready, _, _ = select.select([child.stdout], [], [], HANG_GUARD_SECONDS)
        assert ready, "the console never answered"
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=HANG_GUARD_SECONDS)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130
    assert stderr == b""


# -- bad arguments and environment, and a service that cannot serve ---------------------------------

def test_usage_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_console_config(tmp_path)
    assert_one_line(bot("render"), 2, "digestbot render: ")
    assert_one_line(bot("frobnicate"), 2, "digestbot: ")
    assert_one_line(bot("send", "-c", str(config), "--date", "2025-13-01"), 2, "digestbot send: ")
    line = assert_one_line(bot("send", "-c", str(config), "--channel", "no\nsuch"), 2, f"{config}: ")
    assert "'no\\nsuch'" in line
    line = assert_one_line(bot("send", "-c", str(config), env=environment(DIGESTBOT_LOG_LEVEL="LOUD")), 2,
                           "DIGESTBOT_LOG_LEVEL: ")
    assert "'LOUD' is not a log level" in line


def test_run_on_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = write_console_config(tmp_path, port=taken.getsockname()[1])
        line = assert_one_line(bot("run", "-c", str(config)), 1, "")
    assert "server.listen" in line
