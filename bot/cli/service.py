"""The subcommands that run on a config: `run` (with its bounded shutdown), `send`, `console`, `check-config`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_config_option,
    date_argument,
    load_settings,
    one_line,
    shown,
    write,
)

if TYPE_CHECKING:
    from bot.app import SendReport
    from bot.ops_view import SendProgress
    from bot.settings import Settings

# SIGTERM/SIGINT: the parts in flight get this long to finish before they are cut off (and resumed
# from the ledger at the next start), then closing connections gets the rest of a 10 s budget.
SHUTDOWN_GRACE_SECONDS = 6.0
SHUTDOWN_CLOSE_SECONDS = 3.0
# Cancelled work and worker threads get this long each before the process exits without them.
SHUTDOWN_TEARDOWN_SECONDS = 1.0
SHUTDOWN_STACKS_AFTER_SECONDS = 12.0


def _cmd_check_config(args: argparse.Namespace) -> int:
    from bot.config import load_config, summarize

    settings = load_config(args.config)
    write(f"OK {args.config}")
    write(summarize(settings))
    return EXIT_OK


# -- run --------------------------------------------------------------------------------------

def _cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    settings = load_settings(args.config)
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_run_service(settings))
    finally:
        _close_loop(loop)


def _close_loop(loop: Any) -> None:
    """asyncio.run's teardown, but bounded: a task that ignores its cancellation, or a worker thread
    still parsing, must not keep a stopped service from exiting."""
    import asyncio
    import faulthandler

    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=SHUTDOWN_TEARDOWN_SECONDS))
    stuck = [task for task in pending if not task.done()]
    if stuck:
        _log_shutdown(f"{len(stuck)} task(s) ignored cancellation; exiting anyway")
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(asyncio.wait([loop.create_task(loop.shutdown_default_executor())],
                                         timeout=SHUTDOWN_TEARDOWN_SECONDS))
    faulthandler.cancel_dump_traceback_later()
    if not stuck:
        loop.close()


async def _run_service(settings: Settings) -> int:
    import asyncio
    import faulthandler
    import signal

    from bot.app import App

    app = App(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, app.stop)
    try:
        await app.open()
        service = asyncio.create_task(app.run())
        stopped = asyncio.create_task(app.wait_stopped())
        done, _ = await asyncio.wait({service, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if service in done:
            stopped.cancel()
            service.result()           # a start-up failure surfaces here
        else:
            # Should shutdown still hang past its budget, the stacks of every thread go to the log.
            faulthandler.dump_traceback_later(SHUTDOWN_STACKS_AFTER_SECONDS)
            # asyncio.wait, not wait_for: wait_for would wait on for a task slow to take its cancel.
            finished, _ = await asyncio.wait({service}, timeout=SHUTDOWN_GRACE_SECONDS)
            if not finished:
                _log_shutdown("parts still in flight were cut off; they resume at the next start")
                service.cancel()
                await asyncio.wait({service}, timeout=SHUTDOWN_TEARDOWN_SECONDS)
    finally:
        try:
            await asyncio.wait_for(app.close(), timeout=SHUTDOWN_CLOSE_SECONDS)
        except TimeoutError:
            _log_shutdown("connections did not close in time; exiting anyway")
    return EXIT_OK


def _log_shutdown(message: str) -> None:
    import logging

    logging.getLogger("bot.cli").warning("shutdown: %s", message)


# -- send -------------------------------------------------------------------------------------

def _cmd_send(args: argparse.Namespace) -> int:
    import asyncio

    settings = load_settings(args.config)
    if args.channel is not None and args.channel not in {channel.name for channel in settings.channels}:
        known = ", ".join(channel.name for channel in settings.channels) or "none"
        raise UsageError(f"{one_line(args.config)}: no channel named {shown(args.channel)} "
                         f"(channels: {known})")
    return asyncio.run(_send(settings, args))


async def _send(settings: Settings, args: argparse.Namespace) -> int:
    import contextlib

    from bot.app import App

    app = App(settings)
    bar = _send_progress(settings, args.channel, args.dry_run)     # None unless stderr is a terminal
    try:
        await app.open(receive_commands=False)
        if bar is not None:
            app.send_listeners.append(bar.on_event)
        with bar if bar is not None else contextlib.nullcontext():
            reports = await app.send_now(digest_date=args.date, channel_name=args.channel, dry_run=args.dry_run,
                                         on_report=bar.on_report if bar is not None else None)
    finally:
        await app.close()
    dates = sorted({report.digest_date for report in reports if report.digest_date is not None})
    if dates:
        write(f"digest {', '.join(date.isoformat() for date in dates)}")
    failed = [report for report in reports if not report.ok and not report.skipped and not args.dry_run]
    if sys.stdout.isatty():
        _print_send_summary(reports, args.dry_run)
    else:
        for report in reports:
            write(f"{report.channel}: {report.summary}")
    return EXIT_FAILED if failed else EXIT_OK


def _send_progress(settings: Settings, channel: str | None, dry_run: bool) -> SendProgress | None:
    """The progress bar for `send` when stderr is a terminal, else None (the JSON log lines stay as they are)."""
    if not sys.stderr.isatty():
        return None
    from bot import ops_view

    total = sum(1 for entry in settings.channels if channel is None or entry.name == channel)
    return ops_view.SendProgress(ops_view.console_for(sys.stderr), total, dry_run=dry_run)


def _print_send_summary(reports: Sequence[SendReport], dry_run: bool) -> None:
    from bot import ops_view

    ops_view.console_for(sys.stdout).print(ops_view.send_summary(reports, dry_run))


# -- console ----------------------------------------------------------------------------------

def _cmd_console(args: argparse.Namespace) -> int:
    import asyncio

    settings = load_settings(args.config)
    from bot.app import run_console

    return asyncio.run(run_console(settings, sys.stdin, sys.stdout))


def add_service(commands: Any) -> None:
    run = commands.add_parser("run", help="run the service: schedules, commands, web server",
                              description="Deliver digests on each channel's schedule, answer commands and "
                                          "serve /healthz, /readyz, /metrics and the platform webhooks.")
    add_config_option(run)
    run.set_defaults(handler=_cmd_run)

    send = commands.add_parser("send", help="post a digest now",
                               description="Post a digest to every configured channel (or one) now. Without "
                                           "--date: the latest digest dated today or earlier. A channel that "
                                           "already has it is not sent it again.")
    add_config_option(send)
    send.add_argument("--date", type=date_argument, help="the digest's date, YYYY-MM-DD")
    send.add_argument("--channel", help="only this channel (by name)")
    send.add_argument("--dry-run", action="store_true", help="say what would be sent, send nothing")
    send.set_defaults(handler=_cmd_send)

    console = commands.add_parser("console", help="chat with the bot in the terminal",
                                  description="Type commands such as /today, /item 3 or /category hardware; "
                                              "console channels also get their scheduled digests here.")
    add_config_option(console)
    console.set_defaults(handler=_cmd_console)

    check_config = commands.add_parser("check-config", help="validate a config file",
                                       description="Report every mistake in a config at once, each with its "
                                                   "key path; exit status 2 when there is any.")
    add_config_option(check_config)
    check_config.set_defaults(handler=_cmd_check_config)
