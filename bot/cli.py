"""The `digestbot` command line: one small function per subcommand, one-line errors, exit codes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from bot import __version__
from bot.errors import DigestBotError

__all__ = ["main"]

# Exit statuses: 0 fine, 1 something could not be done, 2 bad input (digest, config, arguments).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

RULE = "─" * 60

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad command-line arguments, reported in one line instead of argparse's usage dump."""


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


# -- output -----------------------------------------------------------------------------------

def _write(text: str) -> None:
    """Prints text to stdout even when the terminal's encoding cannot show every character."""
    try:
        sys.stdout.write(text + "\n")
    except UnicodeEncodeError:
        sys.stdout.flush()
        sys.stdout.buffer.write((text + "\n").encode("utf-8", "backslashreplace"))


def _fail(message: str) -> None:
    try:
        sys.stderr.write(message.rstrip("\n") + "\n")
    except (AttributeError, OSError, ValueError):
        pass            # no stderr to write to (closed, or None): the exit status still tells


def _one_line(text: str) -> str:
    """Text made one line: a file name or a message with a line break must not look like two problems."""
    return " ".join(text.replace("\x00", "\\0").splitlines())


# -- render -----------------------------------------------------------------------------------

def _cmd_render(args: argparse.Namespace) -> int:
    from bot.digest.parse import parse_file
    from bot.platforms import registry

    digest = parse_file(args.path)
    platform = registry.by_render_name(args.platform)
    payloads: list[dict[str, Any]] = registry.load_renderer(platform).render_digest(digest)
    if args.json:
        _write(json.dumps(payloads, ensure_ascii=False, indent=2))
    elif platform.text_payloads:
        _write(f"\n{RULE}\n".join(str(payload["text"]) for payload in payloads))
    else:
        _write(f"\n{RULE}\n".join(json.dumps(payload, ensure_ascii=False, indent=2) for payload in payloads))
    return EXIT_OK


def _render_names() -> tuple[str, ...]:
    from bot.platforms.registry import RENDER_NAMES

    return RENDER_NAMES


def _add_render(commands: Any) -> None:
    parser = commands.add_parser(
        "render", help="print what would be sent for a digest",
        description="Print the messages a digest becomes on a platform. With --json: a JSON array with "
                    "one element per API call, each exactly that call's parameters.")
    parser.add_argument("path", metavar="PATH", help="a digest file")
    parser.add_argument("--for", dest="platform", choices=_render_names(), default="text",
                        help="the platform to render for (default: text)")
    parser.add_argument("--json", action="store_true", help="print the API-call parameters as JSON")
    parser.set_defaults(handler=_cmd_render)


# -- preview ----------------------------------------------------------------------------------

PREVIEW_PORT = 8765


def _cmd_preview(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.preview.document import Options, preview_html

    options = Options(platforms=_preview_platforms(args.platforms), categorizer=_preview_categorizer(args.config))
    if args.serve:
        return _serve_preview(Path(args.path), options, args.port)
    html = preview_html(args.path, options)
    if args.out == "-":
        _write(html)
        return EXIT_OK
    out = args.out or f"{Path(args.path).stem}.preview.html"
    try:
        Path(out).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{_one_line(out)}: cannot write the preview: {exc.strerror or exc}") from None
    _write(f"wrote {out}: open it in a browser")
    return EXIT_OK


def _preview_platforms(text: str | None) -> tuple[str, ...] | None:
    from bot.preview.build import chosen_platforms

    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    try:
        chosen_platforms(names)
    except KeyError as exc:
        raise UsageError(f"digestbot preview: --for: no platform {_shown(exc.args[0])} "
                         f"(platforms: {', '.join(_render_names())})") from None
    return names


def _preview_categorizer(config: str | None) -> Any:
    from bot.digest.categories import Categorizer

    if config is None:
        return Categorizer(())
    from bot.config import load_config

    return Categorizer(load_config(config).categories)


def _serve_preview(path: Any, options: Any, port: int) -> int:
    import asyncio

    from bot.preview.document import preview_html
    from bot.preview.serve import LivePage, serve

    live = LivePage(path, lambda version: preview_html(path, options, live=True, version=version))
    asyncio.run(serve(live, port, lambda url: _write(f"serving {url} (re-rendered when {path} changes; "
                                                     "Ctrl-C stops)")))
    return EXIT_OK


def _add_preview(commands: Any) -> None:
    parser = commands.add_parser(
        "preview", help="write an HTML page showing a digest as each platform shows it",
        description="Write one self-contained HTML page with a view per platform, drawn from the payloads "
                    "`render --json` prints, each part metered against the platform's limits. Without "
                    "--out: PATH's name with .preview.html, in the current folder.")
    parser.add_argument("path", metavar="PATH", help="a digest file")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", metavar="FILE.html", help="where to write the page ('-': standard output)")
    where.add_argument("--serve", action="store_true",
                       help="serve the page on 127.0.0.1 and render it again whenever PATH changes")
    parser.add_argument("--port", type=int, default=PREVIEW_PORT, help=f"--serve's port (default {PREVIEW_PORT})")
    parser.add_argument("--for", dest="platforms", metavar="NAMES",
                        help="only these platforms, comma-separated (default: every platform)")
    parser.add_argument("-c", "--config", help="a config whose category rules label the items")
    parser.set_defaults(handler=_cmd_preview)


# -- check ------------------------------------------------------------------------------------

def _cmd_check(args: argparse.Namespace) -> int:
    from bot.digest.parse import parse_file
    from bot.errors import DigestError

    failed = 0
    for path in args.paths:
        try:
            digest = parse_file(path)
        except DigestError as exc:
            _fail(_one_line(str(exc)))
            failed += 1
            continue
        count = len(digest.items)
        _write(f"OK {path} ({count} item{'s' if count != 1 else ''}, {digest.date.isoformat()})")
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _add_check(commands: Any) -> None:
    parser = commands.add_parser("check", help="validate digest files",
                                 description="Parse each digest and report it as OK or name the first problem "
                                             "with its line. Exit status 2 when any file is bad.")
    parser.add_argument("paths", metavar="PATH", nargs="+", help="digest files")
    parser.set_defaults(handler=_cmd_check)


# -- service: run, send, console, check-config -------------------------------------------------

DEFAULT_CONFIG = "config.yaml"
# SIGTERM/SIGINT: the parts in flight get this long to finish before they are cut off (and resumed
# from the ledger at the next start), then closing connections gets the rest of a 10 s budget.
SHUTDOWN_GRACE_SECONDS = 6.0
SHUTDOWN_CLOSE_SECONDS = 3.0
# Cancelled work and worker threads get this long each before the process exits without them.
SHUTDOWN_TEARDOWN_SECONDS = 1.0
SHUTDOWN_STACKS_AFTER_SECONDS = 12.0


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", default=os.environ.get("DIGESTBOT_CONFIG", DEFAULT_CONFIG),
                        help="the config file (default: $DIGESTBOT_CONFIG or ./config.yaml)")


def _log_level() -> str:
    """DIGESTBOT_LOG_LEVEL as a level name (default INFO); a UsageError when it names no level."""
    import logging

    text = os.environ.get("DIGESTBOT_LOG_LEVEL", "").strip() or "INFO"
    if text.upper() not in logging.getLevelNamesMapping():
        raise UsageError(f"DIGESTBOT_LOG_LEVEL: {_shown(text)} is not a log level "
                         "(DEBUG, INFO, WARNING or ERROR)")
    return text.upper()


def _shown(value: object) -> str:
    from bot.bounded import shown

    return shown(value)


def _load_settings(path: str) -> Any:
    """Load and validate the config; a ConfigError reaches main(), which prints it and exits 2."""
    from bot.config import load_config, secrets_of
    from bot.logs import setup_logging
    from bot.secrets import update_secrets

    level = _log_level()
    settings = load_config(path)
    setup_logging(level=level, secrets=secrets_of(settings))
    update_secrets(secrets_of(settings))
    return settings


def _cmd_check_config(args: argparse.Namespace) -> int:
    from bot.config import load_config, summarize

    settings = load_config(args.config)
    _write(f"OK {args.config}")
    _write(summarize(settings))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    settings = _load_settings(args.config)
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


async def _run_service(settings: Any) -> int:
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


def _cmd_send(args: argparse.Namespace) -> int:
    import asyncio

    settings = _load_settings(args.config)
    if args.channel is not None and args.channel not in {channel.name for channel in settings.channels}:
        known = ", ".join(channel.name for channel in settings.channels) or "none"
        raise UsageError(f"{_one_line(args.config)}: no channel named {_shown(args.channel)} "
                         f"(channels: {known})")
    return asyncio.run(_send(settings, args))


async def _send(settings: Any, args: argparse.Namespace) -> int:
    from bot.app import App

    app = App(settings)
    interactive = sys.stderr.isatty()
    try:
        await app.open(receive_commands=False)
        reports = await app.send_now(digest_date=args.date, channel_name=args.channel, dry_run=args.dry_run,
                                     progress=(lambda line: _fail(line)) if interactive else None)
    finally:
        await app.close()
    dates = sorted({report.digest_date for report in reports if report.digest_date is not None})
    if dates:
        _write(f"digest {', '.join(date.isoformat() for date in dates)}")
    failed = [report for report in reports if not report.ok and not report.skipped and not args.dry_run]
    for report in reports:
        _write(f"{report.channel}: {report.summary}")
    return EXIT_FAILED if failed else EXIT_OK


def _date_argument(text: str) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a date (expected YYYY-MM-DD)") from None


def _cmd_console(args: argparse.Namespace) -> int:
    import asyncio

    settings = _load_settings(args.config)
    from bot.app import run_console

    return asyncio.run(run_console(settings, sys.stdin, sys.stdout))


def _add_service(commands: Any) -> None:
    run = commands.add_parser("run", help="run the service: schedules, commands, web server",
                              description="Deliver digests on each channel's schedule, answer commands and "
                                          "serve /healthz, /readyz, /metrics and the platform webhooks.")
    _add_config_option(run)
    run.set_defaults(handler=_cmd_run)

    send = commands.add_parser("send", help="post a digest now",
                               description="Post a digest to every configured channel (or one) now. Without "
                                           "--date: the latest digest dated today or earlier. A channel that "
                                           "already has it is not sent it again.")
    _add_config_option(send)
    send.add_argument("--date", type=_date_argument, help="the digest's date, YYYY-MM-DD")
    send.add_argument("--channel", help="only this channel (by name)")
    send.add_argument("--dry-run", action="store_true", help="say what would be sent, send nothing")
    send.set_defaults(handler=_cmd_send)

    console = commands.add_parser("console", help="chat with the bot in the terminal",
                                  description="Type commands such as /today, /item 3 or /category hardware; "
                                              "console channels also get their scheduled digests here.")
    _add_config_option(console)
    console.set_defaults(handler=_cmd_console)

    check_config = commands.add_parser("check-config", help="validate a config file",
                                       description="Report every mistake in a config at once, each with its "
                                                   "key path; exit status 2 when there is any.")
    _add_config_option(check_config)
    check_config.set_defaults(handler=_cmd_check_config)


# -- entry point ------------------------------------------------------------------------------

# Each entry adds one subcommand (its parser and its handler) to the command line.
SUBCOMMANDS: list[Callable[[Any], None]] = [_add_render, _add_check, _add_service, _add_preview]


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="digestbot",
                             description="Deliver a daily news digest into Telegram and Slack chats.")
    parser.add_argument("--version", action="version", version=f"digestbot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=_ArgumentParser)
    for add in SUBCOMMANDS:
        add(commands)
    return parser


EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; whatever happens, the answer is an exit status and at most a few lines."""
    command = "digestbot"
    try:
        parser = build_parser()
        args = parser.parse_args(None if argv is None else list(argv))
        command = f"digestbot {args.command}"
        handler: Handler = args.handler
        return handler(args)
    except UsageError as exc:
        _fail(_one_line(str(exc)))
        return EXIT_BAD_INPUT
    except DigestBotError as exc:
        return _report(exc)
    except SystemExit as exc:          # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`digestbot render … | head`); stay quiet about it.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (AttributeError, OSError, ValueError):
            pass
        return EXIT_FAILED
    except Exception as exc:
        return _unexpected(command, exc)


def _report(exc: DigestBotError) -> int:
    """The bot's own errors: bad input (config, digest, arguments) exits 2, could-not-serve exits 1."""
    from bot.digest.sources import DigestUnavailable
    from bot.errors import ConfigError, DigestError

    if isinstance(exc, ConfigError):
        for line in str(exc).splitlines():
            _fail(line)
        return EXIT_BAD_INPUT
    _fail(_one_line(str(exc)))
    if isinstance(exc, DigestError) and not isinstance(exc, DigestUnavailable):
        return EXIT_BAD_INPUT
    return EXIT_FAILED


def _unexpected(command: str, exc: Exception) -> int:
    """A failure the bot has no words for: one line on stderr, the traceback only in the log at DEBUG."""
    import logging

    from bot.logs import setup_logging
    from bot.secrets import redact

    try:
        detail = _one_line(redact(str(exc)))
    except Exception:
        detail = ""
    if len(detail) > 200:
        detail = detail[:200] + "…"
    _fail(f"{command}: unexpected error: {type(exc).__name__}{': ' + detail if detail else ''} "
          "(DIGESTBOT_LOG_LEVEL=DEBUG logs the traceback)")
    try:
        root = logging.getLogger()
        if not root.handlers:
            setup_logging(level=_log_level())
        logging.getLogger("bot.cli").debug("%s failed", command, exc_info=exc)
    except Exception:
        pass            # the one line above is the report; a log that cannot be written adds nothing
    return EXIT_FAILED
