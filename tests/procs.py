"""Process-level test helpers: `digestbot` subprocesses, the fake platforms, configs, digests, bounded waits."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.digest.model import Digest
from bot.digest.parse import parse_file
from bot.platforms.slack import blocks as render_slack
from bot.platforms.telegram import html as render_telegram
from bot.store import open_store
from bot.store.base import DeliveryKey
from tests.digests import write_digest
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram

ROOT = Path(__file__).resolve().parent.parent

# Shaped like real credentials, so the bot's shape-based redaction and its by-value redaction both apply.
TELEGRAM_TOKEN = "7012345678:AAHprocTestTokenForFakeBotApi_0123456789"
SLACK_TOKEN = "xoxb-1111111111-2222222222-procTestSlackBotToken"
SLACK_SIGNING_SECRET = "proc-test-signing-secret-5f1c9a7e3b"
TELEGRAM_WEBHOOK_SECRET = "proc-test-webhook-secret-8d2b6e"

# SIGTERM must end the process within 10 s; the tests allow more because a shared machine is noisy.
EXIT_BOUND_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- channels, digests and configs --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str
    platform: str      # telegram | slack | console
    chat: str = ""

    def as_config(self, schedule: str) -> dict[str, str]:
        entry = {"name": self.name, "platform": self.platform, "schedule": schedule}
        if self.chat:
            entry["chat"] = self.chat
        return entry


def fanout_channels(count: int, *, prefix: str = "ch") -> list[ChannelSpec]:
    """`count` channels alternating Telegram and Slack; Telegram ones mix supergroups and private chats."""
    channels: list[ChannelSpec] = []
    for index in range(count):
        name = f"{prefix}-{index:04d}"
        if index % 2 == 0:
            chat = str(5_000_000 + index) if index % 6 == 0 else str(-1_002_000_000_000 - index)
            channels.append(ChannelSpec(name, "telegram", chat))
        else:
            channels.append(ChannelSpec(name, "slack", f"C{index:08d}"))
    return channels


def schedule_just_passed(timezone: str, minutes: int = 2) -> tuple[str, dt.date]:
    """An "HH:MM" schedule `minutes` ago in `timezone`, and the date that run delivers.

    Catch-up at start-up then delivers at once; the date comes from the scheduled moment itself, so a
    run just after midnight asks for yesterday's digest, as the scheduler does.
    """
    moment = dt.datetime.now(ZoneInfo(timezone)) - dt.timedelta(minutes=minutes)
    return moment.strftime("%H:%M"), moment.date()


# Sizes of the test digest tried in turn until each platform needs 2-3 messages for it.
_DIGEST_SIZES = ((30, 5), (28, 5), (34, 4), (24, 6), (40, 3), (46, 3), (20, 8))


@dataclass(frozen=True, slots=True)
class MultiPartDigest:
    path: Path
    digest: Digest
    parts: Mapping[str, list[str]]     # platform -> the text of each part, in order

    def expected(self, channel: ChannelSpec) -> list[str]:
        return self.parts[channel.platform]

    def corrected(self, old: str, new: str) -> MultiPartDigest:
        """The publisher fixes `old` to `new` in the file; the digest as it renders now."""
        self.path.write_text(self.path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
        return _rendered(self.path)


def write_multipart_digest(folder: Path, date: dt.date) -> MultiPartDigest:
    """A digest dated `date` in `folder` that becomes 2-3 messages on Telegram and on Slack."""
    for items, sentences in _DIGEST_SIZES:
        rendered = _rendered(write_digest(folder, date, items=items, summary_sentences=sentences))
        if all(2 <= len(texts) <= 3 for texts in rendered.parts.values()):
            return rendered
    raise AssertionError("no test digest size renders to 2-3 parts on both platforms")


def _rendered(path: Path) -> MultiPartDigest:
    digest = parse_file(path)
    return MultiPartDigest(path, digest, {
        "telegram": [str(payload["text"]) for payload in render_telegram.render_digest(digest)],
        "slack": [str(payload["text"]) for payload in render_slack.render_digest(digest)],
    })


def bot_config(
    folder: Path,
    *,
    store: str,
    channels: Sequence[ChannelSpec],
    schedule: str,
    fakes: Fakes | None = None,
    timezone: str = "UTC",
    listen_port: int | None = None,
    lease_ttl: float = 2.0,
    poll_interval: float = 1.0,
    scale: float | None = None,
    store_prefix: str | None = None,
    telegram_token: str = TELEGRAM_TOKEN,
    slack_token: str = SLACK_TOKEN,
) -> dict[str, Any]:
    """A service config for the fakes: digests from `folder`/digests, every channel on `schedule`."""
    config: dict[str, Any] = {
        "version": 1,
        "timezone": timezone,
        "language": "en",
        "digests": {"source": str(folder / "digests"), "poll_interval": poll_interval, "poll_deadline": "1h",
                    "catch_up": "1h"},
        "store": store,
        "server": {"listen": f"127.0.0.1:{listen_port or free_port()}"},
        "delivery": {"lease_ttl": lease_ttl, "max_attempts": 5, "backoff_base": 0.2, "backoff_max": 1.0},
        "channels": [channel.as_config(schedule) for channel in channels],
    }
    if store_prefix is not None:
        config["store_prefix"] = store_prefix
    if fakes is not None:
        config["telegram"] = {"token": telegram_token, "base_url": fakes.telegram.base_url, "updates": "off"}
        config["slack"] = {"token": slack_token, "signing_secret": SLACK_SIGNING_SECRET,
                           "base_url": fakes.slack.base_url}
        if scale is not None:
            config["telegram"]["rate_limit_scale"] = scale
            config["slack"]["rate_limit_scale"] = scale
    return config


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# -- the fake platforms --------------------------------------------------------------------------

class Fakes:
    """The fake Telegram and Slack servers in the running event loop, both sped up by `scale`."""

    def __init__(self, scale: float = 1.0, *, telegram_token: str = TELEGRAM_TOKEN,
                 slack_token: str = SLACK_TOKEN) -> None:
        self.scale = scale
        self.telegram = FakeTelegram(telegram_token, limits=FakeLimits(scale=scale))
        self.slack = FakeSlack(token=slack_token)
        self.slack.scale(scale)

    async def __aenter__(self) -> Fakes:
        await self.telegram.start()
        try:
            await self.slack.start()
        except BaseException:
            await self.telegram.stop()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.slack.stop()
        finally:
            await self.telegram.stop()

    def received(self, channel: ChannelSpec) -> list[str]:
        """The raw text of every message the channel's chat accepted, in arrival order."""
        if channel.platform == "telegram":
            return [str(message.params.get("text", "")) for message in self.telegram.sent.get(channel.chat, [])]
        if channel.platform == "slack":
            return [str(post.get("text", "")) for post in self.slack.posts.get(channel.chat, [])]
        raise ValueError(f"no fake for {channel.platform}")

    def total_received(self) -> int:
        return self.telegram.total_sent() + sum(len(posts) for posts in self.slack.posts.values())


# -- checking a fan-out --------------------------------------------------------------------------

def duplicated_parts(expected: Sequence[str], received: Sequence[str]) -> list[int]:
    """The indices of parts that arrived more than once (once per extra copy).

    Raises AssertionError unless `received` is `expected` in order, each part possibly repeated
    right after itself (a part resent after a crash); a gap, a reordering or a stray text fails.
    """
    collapsed: list[str] = []
    repeats: list[int] = []
    for text in received:
        if collapsed and collapsed[-1] == text:
            repeats.append(len(collapsed) - 1)
        else:
            collapsed.append(text)
    if collapsed != list(expected):
        got = [expected.index(text) if text in expected else "?" for text in received]
        raise AssertionError(f"expected parts 0..{len(expected) - 1} in order, received parts {got}")
    return repeats


def complete(fakes: Fakes, digest: MultiPartDigest, channels: Iterable[ChannelSpec]) -> bool:
    """Every channel has received every part (duplicates aside)."""
    for channel in channels:
        received = fakes.received(channel)
        if len(set(received)) < len(digest.expected(channel)):
            return False
    return True


def missing(fakes: Fakes, digest: MultiPartDigest, channels: Iterable[ChannelSpec]) -> dict[str, int]:
    """Channel name -> parts it still lacks."""
    lacking: dict[str, int] = {}
    for channel in channels:
        expected = digest.expected(channel)
        have = len(set(fakes.received(channel)) & set(expected))
        if have < len(expected):
            lacking[channel.name] = len(expected) - have
    return lacking


async def parts_in_flight(store_url: str, base_dir: Path, digest_date: dt.date,
                          channels: Iterable[ChannelSpec], prefix: str = "digestbot:") -> dict[str, set[int]]:
    """What the ledger says was being sent when the owner stopped: channel -> parts begun, not recorded."""
    store = open_store(store_url, base_dir, prefix)
    try:
        result: dict[str, set[int]] = {}
        for channel in channels:
            entry = await store.ledger(DeliveryKey(digest_date, channel.name))
            unsent = entry.in_flight - set(entry.sent)
            if unsent:
                result[channel.name] = unsent
        return result
    finally:
        await store.close()


async def drop_keys(redis_url: str, prefix: str) -> None:
    """Delete every key under a test's own prefix from the shared Redis (and nothing else)."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start:start + 500])
    finally:
        await client.aclose()


# -- waiting -------------------------------------------------------------------------------------

async def wait_until(condition: Callable[[], bool], *, within: float, what: str,
                     processes: Sequence[BotProcess] = (), interval: float = 0.05) -> None:
    """Poll `condition` until it holds; fail after `within` seconds, or at once if a process died."""
    deadline = time.monotonic() + within
    while not condition():
        for process in processes:
            if process.returncode is not None:
                raise AssertionError(f"{what}: the bot (pid {process.pid}) exited with {process.returncode} "
                                     f"first; its output ends with:\n{process.tail()}")
        if time.monotonic() > deadline:
            tails = "".join(f"\n--- pid {p.pid}:\n{p.tail()}" for p in processes)
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}{tails}")
        await asyncio.sleep(interval)


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float, what: str,
                     interval: float = 0.1) -> None:
    """Like wait_until for a condition that must be awaited (an HTTP probe)."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


# -- digestbot subprocesses ----------------------------------------------------------------------

def bot_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGESTBOT_")}
    # The child imports `bot` from this checkout whether or not the package is installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def _open_log(path: Path) -> Any:
    return path.open("ab")


@dataclass(slots=True)
class BotProcess:
    """One `digestbot` subprocess; its stdout and stderr go to `log_path`."""

    process: asyncio.subprocess.Process
    log_path: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def signal(self, signum: int) -> None:
        if self.process.returncode is None:
            with _ignore_gone():
                os.kill(self.pid, signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.signal(signal.SIGTERM)

    async def wait_exit(self, within: float = EXIT_BOUND_SECONDS) -> int:
        try:
            return await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            raise AssertionError(f"pid {self.pid} still running after {within:.0f}s; output:\n{self.tail()}") \
                from None

    async def communicate(self, within: float) -> int:
        """Wait for a command that ends by itself (send, console, check-config)."""
        return await self.wait_exit(within)

    def output(self) -> str:
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (output lines that are not JSON are skipped)."""
        records: list[dict[str, Any]] = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    records.append(record)
        return records

    def delivered_channels(self) -> list[str]:
        """Channels this process reported as delivered (sent the rest of, itself), in log order."""
        return [str(record.get("channel")) for record in self.log_records()
                if record.get("msg") == "delivery delivered" and record.get("outcome") == "delivered"]


class _ignore_gone:
    """Signalling a process that has just exited is not an error."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> bool:
        return kind is ProcessLookupError


class BotGroup:
    """Starts `digestbot` subprocesses and, on leaving, stops every one still running (by pid)."""

    def __init__(self, workdir: Path, env: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        self.env = dict(env or {})
        self.processes: list[BotProcess] = []

    async def __aenter__(self) -> BotGroup:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop_all()

    async def start(self, command: str, config: Path, *args: str, env: Mapping[str, str] | None = None,
                    stdin: bytes | None = None, log_name: str | None = None) -> BotProcess:
        log_path = self.workdir / (log_name or f"{command}-{len(self.processes)}.log")
        log = _open_log(log_path)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", command, "-c", str(config), *args,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, cwd=str(self.workdir),
                env=bot_environment({**self.env, **(env or {})}),
            )
        finally:
            log.close()
        bot = BotProcess(process, log_path)
        self.processes.append(bot)
        if stdin is not None:
            assert process.stdin is not None
            process.stdin.write(stdin)
            await process.stdin.drain()
            process.stdin.close()
        return bot

    async def run(self, command: str, config: Path, *args: str, within: float = 60.0,
                  env: Mapping[str, str] | None = None, stdin: bytes | None = None) -> tuple[int, str]:
        """Run a command that ends by itself; its exit status and combined output."""
        bot = await self.start(command, config, *args, env=env, stdin=stdin)
        code = await bot.wait_exit(within)
        return code, bot.output()

    async def stop_all(self) -> None:
        running = [p for p in self.processes if p.returncode is None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                await asyncio.wait_for(process.process.wait(), EXIT_BOUND_SECONDS)
            except TimeoutError:
                process.kill()
                await process.process.wait()


# -- a Redis that keeps its data across a restart ------------------------------------------------

class PersistentRedis:
    """A private redis-server on a fixed free port that writes every change to its append-only file,
    so stopping and starting it again keeps the ledger (and the port stays the same)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, within: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self._answers():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"private redis-server did not start on port {self.port}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
