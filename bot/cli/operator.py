"""The operator's subcommands: `status` (did the digest reach every channel) and `reactivate`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.bounded import shown
from bot.cli.common import EXIT_OK, UsageError, add_config_option, date_argument, load_settings, write
from bot.settings import Settings
from bot.store import open_store
from bot.store.base import Store

T = TypeVar("T")

EXIT_NOT_YET = 1     # some active channel does not have the digest (yet)




def add_operator(commands: Any) -> None:
    status = commands.add_parser(
        "status", help="did the digest reach every channel, and who failed why",
        description="One row per channel, configured or subscribed: its chat, schedule, next due time and "
                    "that date's delivery (delivered, in progress, waiting, failed, inactive). Reads the store "
                    "only: works beside a running service and sees every replica. Exit status 0 when every "
                    "active channel has the digest, 1 otherwise.")
    add_config_option(status)
    status.add_argument("--date", type=date_argument,
                        help="the digest's date, YYYY-MM-DD (default: today in the config's time zone)")
    status.add_argument("--json", action="store_true", help="print one JSON object for scripts and probes")
    status.set_defaults(handler=_cmd_status)

    reactivate = commands.add_parser(
        "reactivate", help="put chats marked gone back into delivery",
        description="After the bot was added back to a chat: deliver to it again. Each NAME is a configured "
                    "channel or a subscription (platform:chat, as `status` names it).")
    add_config_option(reactivate)
    reactivate.add_argument("names", metavar="NAME", nargs="+", help="channel names")
    reactivate.set_defaults(handler=_cmd_reactivate)


def _cmd_status(args: argparse.Namespace) -> int:
    from bot import ops_view, status

    settings = load_settings(args.config)

    async def gather(store: Store) -> status.StatusReport:
        return await status.gather_status(settings, store, now=dt.datetime.now(dt.UTC), digest_date=args.date)

    report = asyncio.run(_with_store(settings, gather))
    if args.json:
        write(json.dumps(status.as_json(report), ensure_ascii=False, indent=2))
    else:
        ops_view.console_for(sys.stdout).print(ops_view.status_table(report))
    return EXIT_OK if report.ok else EXIT_NOT_YET


def _cmd_reactivate(args: argparse.Namespace) -> int:
    from bot import reactivation

    settings = load_settings(args.config)

    async def run(store: Store) -> list[reactivation.Reactivation]:
        return await reactivation.reactivate(settings, store, args.names)

    try:
        done = asyncio.run(_with_store(settings, run))
    except reactivation.UnknownChannels as unknown:
        known = ", ".join(unknown.known) or "none"
        names = ", ".join(shown(name) for name in unknown.names)
        raise UsageError(f"{args.config}: no channel named {names} (channels: {known})") from None
    for item in done:
        write(item.describe(settings.timezone))
    return EXIT_OK


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    store = open_store(settings.store, settings.base_dir, prefix=settings.store_prefix)
    try:
        return await work(store)
    finally:
        await store.close()
