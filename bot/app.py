"""Builds everything from the config and owns start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from aiohttp import web

from bot import metrics
from bot.commands import CommandContext, Commands, ContextBuilder, always_admin
from bot.delivery import Deliverer, DeliveryResult, Outcome, SendEvent
from bot.delivery_settings import in_flight_for
from bot.digest.categories import Categorizer
from bot.digest.sources import DigestSource, open_source
from bot.due_index import channel_target
from bot.errors import DigestBotError, DigestError
from bot.outcomes import Kind
from bot.platforms import registry
from bot.platforms.base import Channel
from bot.platforms.console import ConsoleChannel
from bot.ratelimit import LOCAL, Limiters, RateLimits
from bot.render import render_reply
from bot.scheduler import Scheduler, utc_now
from bot.secrets import shown_chat
from bot.settings import ChannelSettings, ServerSettings, Settings
from bot.store import open_store
from bot.store.base import Store, StoreError
from bot.store.limiters import shared_limiters
from bot.web import ServerLimits, WebServer, build_web_app

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class SendReport:
    """What `digestbot send` did for one channel."""

    channel: str
    platform: str
    digest_date: dt.date | None
    result: DeliveryResult | None
    note: str = ""
    skipped: bool = False    # not an attempt at all: the platform is not configured or the chat is inactive

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    @property
    def summary(self) -> str:
        return describe(self.result) if self.result is not None else self.note


def settle_heap() -> None:
    """Everything built so far lives as long as the service: a full collection need not walk it again.

    Left in the collected generations, the ~150,000 objects of a configuration with 3,000 channels
    made every full collection during a fan-out pause the event loop 60-100 ms; a message whose
    slot comes due meanwhile is sent late, bunched with the ones after it.
    """
    gc.collect()
    gc.freeze()


class App:
    """One running digestbot: store, digest source, commands, channels, deliverer, scheduler, server."""

    def __init__(self, settings: Settings, *, out: TextIO | None = None,
                 clock: Callable[[], dt.datetime] = utc_now, owner: str | None = None,
                 server_limits: ServerLimits | None = None) -> None:
        self.settings = settings
        self.server_limits = server_limits or server_limits_from(settings.server)
        self.out = out or sys.stdout
        self.clock = clock
        self.owner = owner
        self.timezone = ZoneInfo(settings.timezone)
        self.renderers = registry.load_renderers()
        self.store: Store | None = None
        self._limiters: Limiters = LOCAL
        self.source: DigestSource | None = None
        self.categorizer = Categorizer(settings.categories)
        self.channels: dict[str, Channel] = {}
        self.receivers: list[registry.Receiver] = []   # channels that also take commands
        self.deliverer: Deliverer | None = None
        self.scheduler: Scheduler | None = None
        self.commands: Commands | None = None
        self.web_server: WebServer | None = None
        # Called with every send event besides the metrics (the progress bar of `digestbot send`).
        self.send_listeners: list[Callable[[SendEvent], None]] = []
        self._stop = asyncio.Event()

    # -- building -----------------------------------------------------------------------------
    async def open(self, *, platforms: tuple[str, ...] = registry.NAMES, receive_commands: bool = True) -> None:
        """Build every part; `receive_commands=False` (digestbot send) only posts."""
        settings = self.settings
        self.receive_commands = receive_commands
        self.store = open_store(settings.store, settings.base_dir, prefix=settings.store_prefix)
        # Replicas on one Redis keep each platform limit once, together; any other store has one sender.
        self._limiters = shared_limiters(self.store)
        self.source = open_source(settings, self.categorizer, on_problem=_count_digest_problem)
        self.commands = Commands(self.source, self.store, self.categorizer,
                                 default_schedule=settings.delivery.subscription_schedule)
        for platform in registry.PLATFORMS:
            if platform.name in platforms:
                self._open_platform(platform)
        self.receivers = registry.receivers(list(self.channels.values()))
        self.deliverer = Deliverer(self.store, self.channels, settings.delivery, owner=self.owner,
                                   on_event=self._on_send_event)
        for receiver in self.receivers:
            receiver.bind(self.deliverer)
        self.scheduler = Scheduler(settings, self.source, self.store, self.deliverer, self.renderers,
                                   clock=self.clock, on_result=self._observe_result,
                                   max_concurrency=self.deliveries_in_flight())
        self.commands.subscriptions.listeners.append(self.scheduler.subscriptions_changed)

    def deliveries_in_flight(self) -> int:
        """How many deliveries this process has under way at once (`delivery.in_flight`, or sized
        from the ceilings of the platforms that keep one: Telegram's, higher with paid broadcasts)."""
        # Only a platform with a whole-bot ceiling says what it takes to fill it.
        ceilings = [limits for channel in self.channels.values()
                    if isinstance(limits := getattr(channel, "rate_limits", None), RateLimits)]
        return in_flight_for(self.settings.delivery, ceilings)

    def _open_platform(self, platform: registry.Platform) -> None:
        settings = self.settings
        section = registry.section(platform)
        own = None if section is None else settings.platforms[section.key]
        if own is not None and not own.configured:
            if any(c.platform == platform.name for c in settings.channels):
                log.warning("%s has no token: its channels are skipped", platform.name)
            return
        assert self.commands is not None and self.store is not None
        entries = tuple(registry.ChannelEntry(channel.chat, dict(channel.options))
                        for channel in settings.channels if channel.platform == platform.name)
        if own is not None and not own.wanted(len(entries)):
            return
        around = registry.Surroundings(commands=self.commands, store=self.store, language=settings.language,
                                       timezone=self.timezone, now=self.clock, out=self.out, channels=entries,
                                       limiters=self._limiters)
        self.channels[platform.name] = registry.open_channel(platform, own, around)

    async def close(self) -> None:
        for receiver in self.receivers:
            with contextlib.suppress(Exception):
                await receiver.stop()
        if self.web_server is not None:
            await self.web_server.stop()
            self.web_server = None
        if self.source is not None:
            await self.source.close()
        if self.store is not None:
            await self.store.close()

    # -- the service --------------------------------------------------------------------------
    async def run(self) -> None:
        """`digestbot run`: web server, command receivers and the scheduler, until stop()."""
        assert self.scheduler is not None
        await self._start_web()
        for receiver in self.receivers:
            await receiver.start()
        settle_heap()
        scheduler_task = asyncio.create_task(self.scheduler.run())
        await self._stop.wait()
        self.scheduler.stop()
        await scheduler_task

    def stop(self) -> None:
        self._stop.set()
        if self.scheduler is not None:
            self.scheduler.stop()

    async def wait_stopped(self) -> None:
        await self._stop.wait()

    async def _start_web(self) -> None:
        routes: list[web.RouteDef] = []
        for receiver in self.receivers:
            routes.extend(receiver.routes())
        readiness = {"store": self._store_ready}
        for receiver in self.receivers:
            readiness[receiver.platform] = receiver.ready
        limits = self.server_limits
        app = build_web_app(routes, readiness, limits.max_body_bytes, limits.body_timeout)
        host, port = self.settings.server.host, self.settings.server.port
        server = WebServer(app, limits, host, port)
        try:
            await server.start()
        except OSError as error:
            raise DigestBotError(f"server.listen {host}:{port}: cannot listen ({error.strerror or error})") from None
        self.web_server = server
        log.info("listening on %s:%s", host, server.port)

    def _on_send_event(self, event: SendEvent) -> None:
        _count_send_event(event)
        for listener in self.send_listeners:
            listener(event)

    async def _store_ready(self) -> bool:
        assert self.store is not None
        await self.store.ping()
        return True

    def _observe_result(self, result: DeliveryResult, due: dt.datetime) -> None:
        metrics.DELIVERIES.labels(outcome=result.outcome.value).inc()
        if result.outcome is Outcome.DELIVERED:
            metrics.DELIVERY_LAG.observe(max(0.0, (self.clock() - due).total_seconds()))

    # -- send now -----------------------------------------------------------------------------
    async def send_now(self, *, digest_date: dt.date | None = None, channel_name: str | None = None,
                       dry_run: bool = False, progress: Callable[[str], None] | None = None,
                       on_report: Callable[[SendReport], None] | None = None) -> list[SendReport]:
        """`digestbot send`: the given (or latest) digest to every channel (or one), now.

        `on_report` hears of each channel as soon as it is done (the progress bar)."""
        assert self.scheduler is not None and self.source is not None
        show = progress or (lambda line: None)
        reports: list[SendReport] = []
        for channel in self.settings.channels:
            if channel_name is not None and channel.name != channel_name:
                continue
            if channel.platform not in self.channels:
                report = SendReport(channel.name, channel.platform, None, None,
                                    f"skipped: {channel.platform} is not configured", skipped=True)
                show(f"{channel.name}: skipped ({channel.platform} is not configured)")
            else:
                report = await self._send_one(channel, digest_date, dry_run, show)
            reports.append(report)
            if on_report is not None:
                on_report(report)
        return reports

    async def _send_one(self, channel: ChannelSettings, digest_date: dt.date | None, dry_run: bool,
                        show: Callable[[str], None]) -> SendReport:
        assert self.scheduler is not None and self.source is not None and self.store is not None
        tz = ZoneInfo(channel.timezone) if channel.timezone else self.timezone
        try:
            if digest_date is not None:
                digest = await self.source.for_date(digest_date)
            else:
                digest = await self.source.latest(self.clock().astimezone(tz).date())
            chat = await self.store.resolve_chat(channel.platform, channel.chat)
            gone = await self.store.inactive_reason(channel.platform, chat)
        except (DigestError, StoreError) as error:
            # A source or store that cannot be reached fails this channel, not the whole command.
            show(f"{channel.name}: {error}")
            return SendReport(channel.name, channel.platform, digest_date, None, str(error))
        if gone is not None:
            show(f"{channel.name}: skipped (inactive: {gone})")
            return SendReport(channel.name, channel.platform, digest_date, None, f"skipped: inactive ({gone})",
                              skipped=True)
        if digest is None:
            wanted = digest_date.isoformat() if digest_date else "today or earlier"
            show(f"{channel.name}: no digest dated {wanted}")
            return SendReport(channel.name, channel.platform, digest_date, None, f"no digest dated {wanted}")
        if dry_run:
            parts = len(self.scheduler.payloads_for(channel.platform, digest, channel.categories))
            where = shown_chat(chat)
            note = f"would send {digest.date} ({parts} part(s)) to {channel.platform} {where}".rstrip()
            return SendReport(channel.name, channel.platform, digest.date, None, note)
        show(f"{channel.name}: sending {digest.date} to {channel.platform}…")
        try:
            result = await self.scheduler.deliver(channel_target(channel), digest)
        except StoreError as error:
            show(f"{channel.name}: {error}")
            return SendReport(channel.name, channel.platform, digest.date, None, str(error))
        show(f"{channel.name}: {describe(result)}")
        return SendReport(channel.name, channel.platform, digest.date, result)

    def command_context(self, chat: str = "terminal", user: str = "operator") -> CommandContext:
        # Built per command so a console session follows the settings and clock it runs under.
        console = ContextBuilder(ConsoleChannel.platform, self.settings.language, self.timezone, self.clock)
        return console.build(chat, user, is_group=False, is_admin=always_admin)


def server_limits_from(server: ServerSettings) -> ServerLimits:
    """The HTTP server's limits from its settings; a limit the config leaves out keeps its default."""
    defaults = ServerLimits()
    return ServerLimits(
        max_body_bytes=server.max_body_bytes,
        header_timeout=server.header_timeout or defaults.header_timeout,
        body_timeout=server.body_timeout or defaults.body_timeout,
        keepalive_timeout=server.keepalive_timeout or defaults.keepalive_timeout,
        max_connections=server.max_connections,
    )


def describe(result: DeliveryResult) -> str:
    parts = f"{result.parts_total} part(s)"
    match result.outcome:
        case Outcome.DELIVERED if result.kind is Kind.MAYBE_SENT:
            return f"delivered {parts} ({result.parts_sent} sent now); {result.reason}"
        case Outcome.DELIVERED:
            return f"delivered {parts} ({result.parts_sent} sent now)"
        case Outcome.ALREADY:
            return f"already delivered ({parts})"
        case _:
            return f"{result.outcome.value}: {result.reason}"


def _count_digest_problem(path: str, message: str) -> None:
    metrics.DIGEST_LOAD_ERRORS.inc()


def _count_send_event(event: SendEvent) -> None:
    if event.kind == "sent":
        metrics.MESSAGES_SENT.labels(platform=event.platform).inc()
    elif event.kind == "retry":
        metrics.RETRIES.labels(platform=event.platform).inc()
    elif event.kind == "rate_limited":
        metrics.RATE_LIMITED.labels(platform=event.platform).inc()
    elif event.kind == "failed":
        metrics.MESSAGES_FAILED.labels(platform=event.platform, reason=event.reason).inc()


CONSOLE_PROMPT = "> "
CONSOLE_QUIT = frozenset({"quit", "exit", "/quit", "/exit"})


async def run_console(settings: Settings, stdin: TextIO, stdout: TextIO) -> int:
    """`digestbot console`: a chat in the terminal, plus scheduled posts of console channels."""
    app = App(settings, out=stdout)
    await app.open(platforms=("console",), receive_commands=False)
    assert app.scheduler is not None and app.commands is not None
    scheduler = asyncio.create_task(app.scheduler.run())
    interactive = stdin.isatty()
    lines = _read_lines_in_background(stdin)
    try:
        stdout.write(render_console_reply(app, await app.commands.handle("help", "", app.command_context())))
        while True:
            if interactive:
                stdout.write(CONSOLE_PROMPT)
                stdout.flush()
            line = await lines.get()
            if line is None:
                break
            text = line.strip()
            if not text:
                continue
            if text.lower() in CONSOLE_QUIT:
                break
            name, _, args = text.lstrip("/").partition(" ")
            reply = await app.commands.handle(name.lower(), args.strip(), app.command_context())
            if reply.silent:
                continue    # throttled: not even an empty line
            stdout.write(render_console_reply(app, reply))
            stdout.flush()
    finally:
        app.stop()
        await scheduler
        await app.close()
    return 0


def _read_lines_in_background(stdin: TextIO) -> asyncio.Queue[str | None]:
    """Lines typed into the terminal, then None at end of input.

    A daemon thread reads them so the event loop (and scheduled posts) keeps running while nobody
    types, and so Ctrl-C is not held up by a read that never returns.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for line in iter(stdin.readline, ""):
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)
        except (RuntimeError, ValueError, OSError):
            return      # the loop or the stream closed first: the console is ending anyway

    threading.Thread(target=pump, name="console-input", daemon=True).start()
    return lines


def render_console_reply(app: App, reply: Any) -> str:
    payloads = render_reply(app.renderers["console"], reply)
    return "".join(str(payload["text"]).rstrip("\n") + "\n\n" for payload in payloads)
