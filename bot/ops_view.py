"""What an operator sees on a terminal: the live progress bar of `send`, its summary table, the status table."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from bot.app import SendReport
from bot.outcomes import SendEvent
from bot.secrets import redact
from bot.status import ChannelStatus, State, StatusReport

# How wide tables may grow when the output is not a terminal (a pipe, a file): wide enough not to wrap.
PIPE_WIDTH = 200

STATE_STYLES = {
    State.DELIVERED: "green", State.IN_PROGRESS: "cyan", State.WAITING: "yellow",
    State.FAILED: "bold red", State.INACTIVE: "magenta", State.SKIPPED: "dim",
}


def console_for(stream: TextIO) -> Console:
    is_terminal = stream.isatty()
    return Console(file=stream, width=None if is_terminal else PIPE_WIDTH, soft_wrap=False,
                   highlight=False, force_terminal=is_terminal or None)


class _RateColumn(ProgressColumn):
    """Channels finished per second, once there is a rate to show."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- ch/s" if speed is None else f"{speed:.1f} ch/s", style="progress.data.speed")


class SendProgress:
    """The live bar of `digestbot send`: channels done of total, parts sent, failures so far, rate, time left.

    While it runs, log lines go through the bar's console so they print above it instead of through
    it, and routine INFO lines (one per delivery) are held back: the bar and the summary say the same.
    """

    def __init__(self, console: Console, total: int, *, dry_run: bool = False) -> None:
        self.console = console
        self.dry_run = dry_run
        self.parts = 0
        self.failures = 0
        self._progress = Progress(
            TextColumn("[bold]sending"), BarColumn(), MofNCompleteColumn(), TextColumn("channels"),
            TextColumn("{task.fields[parts]} parts"), TextColumn("{task.fields[failures]} failed"),
            _RateColumn(), TextColumn("left"), TimeRemainingColumn(),
            console=console, transient=False)
        self._task = self._progress.add_task("send", total=total, parts=0, failures=0)
        self._logs = contextlib.ExitStack()

    def __enter__(self) -> SendProgress:
        self._progress.start()
        self._logs.enter_context(_logs_above(self.console))
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._logs.close()
        self._progress.stop()

    def on_event(self, event: SendEvent) -> None:
        if event.kind == "sent":
            self.parts += 1
            self._progress.update(self._task, parts=self.parts)

    def on_report(self, report: SendReport) -> None:
        if failed(report, self.dry_run):
            self.failures += 1
            self.console.print(Text(f"{report.channel}: {redact(report.summary)}", style="red"))
        self._progress.update(self._task, advance=1, failures=self.failures)


@contextlib.contextmanager
def _logs_above(console: Console) -> Iterator[None]:
    """Point the root handlers that write to the bar's stream at the bar's console, quieter, for a while."""
    root = logging.getLogger()
    changed: list[tuple[logging.StreamHandler[Any], Any, int]] = []
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is console.file:
            changed.append((handler, handler.stream, handler.level))
            handler.setStream(_ConsoleStream(console))
            if root.level >= logging.INFO:
                handler.setLevel(max(handler.level, logging.WARNING))
    try:
        yield
    finally:
        for handler, stream, level in changed:
            handler.setStream(stream)
            handler.setLevel(level)


class _ConsoleStream:
    """A file-like front of a rich console: what is written is printed above a running bar."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def write(self, text: str) -> int:
        if text.strip():
            self._console.print(Text(text.rstrip("\n")))
        return len(text)

    def flush(self) -> None:
        return None


def failed(report: SendReport, dry_run: bool) -> bool:
    """What makes `send` exit 1: a channel that was tried and could not be served."""
    return not report.ok and not report.skipped and not dry_run


def _result_word(report: SendReport, dry_run: bool) -> Text:
    if report.skipped:
        return Text("skipped", style="dim")
    if dry_run and report.result is None:
        return Text("dry run", style="cyan")
    if report.ok and report.result is not None:
        return Text(report.result.outcome.value, style="green")
    return Text(report.result.outcome.value if report.result is not None else "failed", style="bold red")


def send_summary(reports: Sequence[SendReport], dry_run: bool) -> Table:
    """One row per channel: what `send` did, then a caption with the totals."""
    table = Table(title="digestbot send", title_justify="left", show_edge=False)
    for column in ("channel", "platform", "result", "parts", "note"):
        table.add_column(column, overflow="fold")
    for report in reports:
        result = report.result
        parts = f"{result.parts_sent}/{result.parts_total}" if result is not None else ""
        table.add_row(report.channel, report.platform, _result_word(report, dry_run), parts, redact(report.summary))
    failures = sum(failed(report, dry_run) for report in reports)
    done = sum(report.ok for report in reports)
    table.caption = f"{len(reports)} channel(s): {done} have the digest, {failures} failed"
    return table


def status_table(report: StatusReport) -> Table:
    """The `digestbot status` table: one row per channel, then a caption with the verdict."""
    table = Table(title=f"digest {report.digest_date.isoformat()}", title_justify="left", show_edge=False)
    for column in ("channel", "platform", "chat", "schedule", "next due", "state", "detail", "corr."):
        table.add_column(column, overflow="fold")
    for row in report.channels:
        channel = row.channel
        table.add_row(channel.name, channel.platform, row.chat_shown, channel.schedule, _when(row.next_due),
                      Text(row.state.value.replace("_", " "), style=STATE_STYLES[row.state]),
                      detail(row), str(row.corrections))
    active = [row for row in report.channels if row.active]
    have = sum(row.state is State.DELIVERED for row in active)
    verdict = "OK" if report.ok else "NOT YET"
    table.caption = f"{verdict}: {have} of {len(active)} active channel(s) have the digest"
    return table


def detail(row: ChannelStatus) -> str:
    """The state's particulars: parts and when, who holds the lease, the failure or inactive reason."""
    parts = f"{row.parts_sent}/{row.parts_total} parts" if row.parts_total else f"{row.parts_sent} parts"
    match row.state:
        case State.DELIVERED:
            return f"{parts} at {_when(row.delivered_at)}"
        case State.IN_PROGRESS if row.lease is not None:
            return f"{parts}; {row.lease.owner} since {_when(row.local(row.lease.since))}"
        case State.FAILED if row.failure is not None:
            return f"{redact(row.failure.reason)} (at {_when(row.local(row.failure.at))}; {parts} sent)"
        case State.INACTIVE if row.inactive is not None:
            return f"since {_when(row.local(row.inactive.since))}: {redact(row.inactive.reason)}"
        case State.SKIPPED:
            return f"{row.channel.platform} is not configured"
        case _:
            return "waiting for the digest" if not row.parts_sent else f"{parts} so far"


def _when(moment: dt.datetime | None) -> str:
    """A moment in the row's own time zone, which it names (CST, EDT, UTC)."""
    return "?" if moment is None else moment.strftime("%Y-%m-%d %H:%M %Z")
