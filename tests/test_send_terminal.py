"""`digestbot send` as a person sees it: under a pseudo-terminal a live progress bar and a summary table;
through pipes the same lines (and JSON log lines) as always."""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import os
import re
import struct
import sys
import termios
from pathlib import Path

from tests.procs import (
    ROOT,
    BotGroup,
    ChannelSpec,
    Fakes,
    bot_config,
    bot_environment,
    write_config,
    write_multipart_digest,
)

DAY = dt.datetime.now(dt.UTC).date()
SENT = ChannelSpec("news", "telegram", "-1001000000001")
SLACK = ChannelSpec("team", "slack", "C0TEAM00001")
GONE = ChannelSpec("kicked", "telegram", "-1001000000002")
CHANNELS = [SENT, SLACK, GONE]
# Colours, cursor moves and line erasing: what a terminal interprets and a test reads past.
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def _read_all(master: int) -> bytes:
    """Everything the child writes to the terminal, until its side closes (EIO on Linux)."""
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


async def send_on_a_terminal(config: Path, workdir: Path) -> tuple[int, str]:
    master, slave = os.openpty()
    # A terminal of a known size, so the bar and the table are laid out the same on every machine.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 150, 0, 0))
    env = bot_environment({"TERM": "xterm-256color"})
    for variable in ("NO_COLOR", "COLUMNS", "LINES"):
        env.pop(variable, None)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "send", "-c", str(config), stdin=slave, stdout=slave, stderr=slave,
            cwd=str(workdir), env=env)
    finally:
        os.close(slave)
    try:
        reader = asyncio.create_task(asyncio.to_thread(_read_all, master))
        code = await asyncio.wait_for(process.wait(), 120)
        output = await asyncio.wait_for(reader, 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        os.close(master)
    return code, ANSI.sub("", output.decode("utf-8", "replace"))


async def test_send_on_a_terminal_shows_a_progress_bar_and_a_summary_table(tmp_path: Path) -> None:
    digest = write_multipart_digest(tmp_path / "digests", DAY)
    async with Fakes(scale=4.0) as fakes:
        fakes.telegram.forbid(GONE.chat)
        config = write_config(tmp_path / "digestbot.yaml", bot_config(
            tmp_path, store="sqlite:///./ledger.db", channels=CHANNELS, schedule="09:30", fakes=fakes))
        code, output = await send_on_a_terminal(config, tmp_path)
        assert fakes.received(SENT) == digest.expected(SENT)
        assert fakes.received(SLACK) == digest.expected(SLACK)

    assert code == 1, output
    parts = len(digest.expected(SENT)) + len(digest.expected(SLACK))
    # The bar's last state: every channel done, the parts sent, the one failure.
    assert re.search(rf"sending .*3/3 channels {parts} parts 1 failed", output), output
    assert "ch/s" in output
    # The failure is named above the bar as it happens.
    assert re.search(r"kicked: inactive: Forbidden: bot was kicked", output), output
    # The summary table, one row per channel, and its totals.
    assert re.search(r"channel\s+┃\s+platform\s+┃\s+result\s+┃\s+parts", output), output
    assert re.search(rf"news\s+│\s+telegram\s+│\s+delivered\s+│\s+{len(digest.expected(SENT))}/", output), output
    assert re.search(r"kicked\s+│\s+telegram\s+│\s+inactive", output), output
    assert "3 channel(s): 2 have the digest, 1 failed" in output
    # No JSON log lines and no per-delivery INFO lines on a terminal.
    assert '{"ts"' not in output and "delivery delivered" not in output
    assert "Traceback" not in output


async def test_send_through_pipes_writes_what_it_always_wrote(tmp_path: Path) -> None:
    write_multipart_digest(tmp_path / "digests", DAY)
    async with Fakes(scale=4.0) as fakes, BotGroup(tmp_path) as bots:
        fakes.telegram.forbid(GONE.chat)
        config = write_config(tmp_path / "digestbot.yaml", bot_config(
            tmp_path, store="sqlite:///./ledger.db", channels=CHANNELS, schedule="09:30", fakes=fakes))
        code, output = await bots.run("send", config)

    assert code == 1, output
    lines = output.splitlines()
    assert f"digest {DAY.isoformat()}" in lines
    assert any(line.startswith("news: delivered ") for line in lines), output
    assert "kicked: inactive: Forbidden: bot was kicked from the group chat" in lines
    records = [line for line in lines if line.startswith("{")]
    assert any('"msg": "delivery delivered"' in line for line in records), "the JSON log lines stay"
    assert not any(mark in output for mark in ("┃", "━", "ch/s", "\x1b[")), "no bar, no table, no escapes"
    assert ROOT.exists()
