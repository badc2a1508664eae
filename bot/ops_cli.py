"""The operator's subcommands, `status` and `reactivate`, and the terminal face of `send`; wired in by bot.cli."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bot.bounded import shown
from bot.settings import Settings
from bot.store import open_store
from bot.store.base import Store

if TYPE_CHECKING:
    from bot.app import SendReport
    from bot.ops_view import SendProgress

T = TypeVar("T")

EXIT_OK = 0
EXIT_NOT_YET = 1


@dataclass(frozen=True, slots=True)
class CliTools:
    """What bot.cli lends these subcommands, so that the two modules import each other one way only."""

    add_config_option: Callable[[argparse.ArgumentParser], None]
    date_argument: Callable[[str], Any]
    load_settings: Callable[[str], Settings]
    usage_error: Callable[[str], Exception]
    write: Callable[[str], None]


def add_commands(commands: Any, tools: CliTools) -> None:
    status = commands.add_parser(
        "status", help="did the digest reach every channel, and who failed why",
        description="One row per channel, configured or subscribed: its chat, schedule, next due time and "
                    "that date's delivery (delivered, in progress, waiting, failed, inactive). Reads the store "
                    "only: works beside a running service and sees every replica. Exit status 0 when every "
                    "active channel has the digest, 1 otherwise.")
    tools.add_config_option(status)
    status.add_argument("--date", type=tools.date_argument,
                        help="the digest's date, YYYY-MM-DD (default: today in the config's time zone)")
    status.add_argument("--json", action="store_true", help="print one JSON object for scripts and probes")
    status.set_defaults(handler=lambda args: _cmd_status(args, tools))

    reactivate = commands.add_parser(
        "reactivate", help="put chats marked gone back into delivery",
        description="After the bot was added back to a chat: deliver to it again. Each NAME is a configured "
                    "channel or a subscription (platform:chat, as `status` names it).")
    tools.add_config_option(reactivate)
    reactivate.add_argument("names", metavar="NAME", nargs="+", help="channel names")
    reactivate.set_defaults(handler=lambda args: _cmd_reactivate(args, tools))


def _cmd_status(args: argparse.Namespace, tools: CliTools) -> int:
    from bot import ops_view, status

    settings = tools.load_settings(args.config)

    async def gather(store: Store) -> status.StatusReport:
        return await status.gather_status(settings, store, now=dt.datetime.now(dt.UTC), digest_date=args.date)

    report = asyncio.run(_with_store(settings, gather))
    if args.json:
        tools.write(json.dumps(status.as_json(report), ensure_ascii=False, indent=2))
    else:
        ops_view.console_for(sys.stdout).print(ops_view.status_table(report))
    return EXIT_OK if report.ok else EXIT_NOT_YET


def _cmd_reactivate(args: argparse.Namespace, tools: CliTools) -> int:
    from bot import reactivation

    settings = tools.load_settings(args.config)

    async def run(store: Store) -> list[reactivation.Reactivation]:
        return await reactivation.reactivate(settings, store, args.names)

    try:
        done = asyncio.run(_with_store(settings, run))
    except reactivation.UnknownChannels as unknown:
        known = ", ".join(unknown.known) or "none"
        names = ", ".join(shown(name) for name in unknown.names)
        raise tools.usage_error(f"{args.config}: no channel named {names} (channels: {known})") from None
    for item in done:
        tools.write(item.describe(settings.timezone))
    return EXIT_OK


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    store = open_store(settings.store, settings.base_dir, prefix=settings.store_prefix)
    try:
        return await work(store)
    finally:
        await store.close()


def send_progress(settings: Settings, channel: str | None, dry_run: bool) -> SendProgress | None:
    """The progress bar for `send` when stderr is a terminal, else None (the JSON log lines stay as they are)."""
    if not sys.stderr.isatty():
        return None
    from bot import ops_view

    total = sum(1 for entry in settings.channels if channel is None or entry.name == channel)
    return ops_view.SendProgress(ops_view.console_for(sys.stderr), total, dry_run=dry_run)


def print_send_summary(reports: Sequence[SendReport], dry_run: bool) -> None:
    from bot import ops_view

    ops_view.console_for(sys.stdout).print(ops_view.send_summary(reports, dry_run))
