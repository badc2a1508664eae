"""Ordered multi-part sending with retries, per-chat ordering, leases and the delivery ledger."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.channels.base import (
    Channel,
    ChatGone,
    ChatMoved,
    Gate,
    NotSent,
    RateLimited,
    RenderingDefect,
    TransientError,
    Unauthorized,
)
from bot.config import DeliverySettings
from bot.ratelimit import KeyedLocks
from bot.render import Payload
from bot.store.base import DeliveryKey, Store

log = logging.getLogger(__name__)

# How often a command reply looks again whether another process has finished posting in the chat.
REPLY_WAIT_POLL_SECONDS = 0.25


def new_owner_id() -> str:
    """Names this process in leases: readable for operators, unique across restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a delivery goes: the channel's stable name (the ledger key) and its platform chat."""

    name: str
    platform: str
    chat: str


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"      # every part is out, some of them by this call
    ALREADY = "already"          # the ledger says it was complete before this call
    INACTIVE = "inactive"        # the chat is gone (now or before); nothing more goes there
    FAILED = "failed"            # retries exhausted or a rendering defect; the ledger keeps what was sent
    BUSY = "busy"                # another process holds the lease, or took it over midway
    STOPPED = "stopped"          # shutdown asked us to stop between parts


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    target: Target
    outcome: Outcome
    parts_total: int
    parts_sent: int              # parts sent by this call
    chat: str                    # the chat id after any migration
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.DELIVERED, Outcome.ALREADY)


class _Lease:
    """Our claim on one delivery: renewed in the background, and confirmed before every part.

    The background renewal alone is not enough: a process that stalls (CPU starvation, a paused VM)
    past its TTL wakes up with a part about to go while another replica has taken over. So before
    each part the lease must have at least a third of its TTL left by our own clock, else it is
    renewed right then, and a refused renewal stops the delivery.
    """

    def __init__(self, store: Store, name: str, owner: str, ttl: float) -> None:
        self.store = store
        self.name = name
        self.owner = owner
        self.ttl = ttl
        self.lost = False
        self._valid_until = 0.0

    async def claim(self) -> bool:
        started = time.monotonic()
        if await self.store.claim(self.name, self.owner, self.ttl):
            self._valid_until = started + self.ttl
            return True
        return False

    async def confirm(self) -> bool:
        if self.lost:
            return False
        if time.monotonic() < self._valid_until - self.ttl / 3:
            return True
        return await self._renew()

    async def keep(self) -> None:
        while not self.lost:
            await asyncio.sleep(self.ttl / 3)
            await self._renew()

    async def _renew(self) -> bool:
        started = time.monotonic()
        try:
            still_ours = await self.store.renew(self.name, self.owner, self.ttl)
        except Exception:
            # A store hiccup is not proof the lease is gone, but past its TTL it may well be.
            log.warning("could not renew lease %s", self.name, exc_info=True)
            return time.monotonic() < self._valid_until
        if still_ours:
            self._valid_until = started + self.ttl
        else:
            self.lost = True
        return still_ours


class DeliveryAborted(Exception):
    """Sending to a chat stopped for good (gone, defect, retries exhausted); `outcome` says which."""

    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SendEvent:
    """What happened to one API call, for metrics and logs."""

    platform: str
    kind: str        # sent | retry | rate_limited | failed
    reason: str = ""


class Deliverer:
    """Sends rendered parts to chats: in order, never interleaved within a chat, never dropped on 429.

    Scheduled deliveries go through `deliver`, which claims a lease and records every part in the
    ledger before and after sending, so a crash or a dead replica resumes from the first unsent
    part. Command replies go through `send_parts`, with the same ordering and retries but no ledger.
    """

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        settings: DeliverySettings,
        owner: str | None = None,
        on_event: Callable[[SendEvent], None] | None = None,
    ) -> None:
        self.store = store
        self.channels = channels
        self.settings = settings
        self.owner = owner or new_owner_id()
        self._on_event = on_event or (lambda event: None)
        self._chat_locks = KeyedLocks()
        self._delivery_locks = KeyedLocks()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Take no new parts; the part in flight finishes."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def chat_lock(self, platform: str, chat: str) -> contextlib.AbstractAsyncContextManager[None]:
        return self._chat_locks.hold((platform, chat))

    # -- scheduled delivery -------------------------------------------------------------------
    async def deliver(self, key: DeliveryKey, target: Target, payloads: Sequence[Payload]) -> DeliveryResult:
        if not payloads:
            raise ValueError(f"{key}: nothing to deliver")
        # The store grants a lease again to the owner that holds it, and this process is one owner:
        # two calls for the same delivery here must take turns, or both would send every part.
        async with self._delivery_locks.hold(key):
            return await self._deliver(key, target, payloads)

    async def _deliver(self, key: DeliveryKey, target: Target, payloads: Sequence[Payload]) -> DeliveryResult:
        if self.stopping:
            return self._result(target, Outcome.STOPPED, payloads, 0, target.chat, "shutting down")
        lease = _Lease(self.store, f"lease:{key}", self.owner, self.settings.lease_ttl)
        if not await lease.claim():
            return self._result(target, Outcome.BUSY, payloads, 0, target.chat, "leased by another process")
        sent_now = 0
        chat = target.chat
        async with self._holding(lease):
            try:
                entry = await self.store.ledger(key)
                if entry.finished:
                    return self._result(target, Outcome.ALREADY, payloads, 0, chat)
                chat = await self.store.resolve_chat(target.platform, target.chat)
                reason = await self.store.inactive_reason(target.platform, chat)
                if reason is not None:
                    return self._result(target, Outcome.INACTIVE, payloads, 0, chat, reason)
                if entry.in_flight - set(entry.sent):
                    # The previous owner died between sending a part and recording it: the part may
                    # or may not have arrived. Resending risks one duplicate; skipping risks a hole,
                    # which is worse for a numbered digest.
                    log.warning("resuming %s: part(s) %s were in flight when the last owner stopped",
                                key, sorted(entry.in_flight - set(entry.sent)))
                async with self.chat_lock(target.platform, chat):
                    chat_lease = self._chat_lease(target.platform, chat)
                    if not await chat_lease.claim():
                        raise DeliveryAborted(Outcome.BUSY, "another process is posting in this chat")
                    async with self._holding(chat_lease):
                        async def both_leases_held() -> bool:
                            return await lease.confirm() and await chat_lease.confirm()

                        for part in range(entry.first_unsent(), len(payloads)):
                            if self.stopping:
                                raise DeliveryAborted(Outcome.STOPPED, "shutting down")
                            if not await both_leases_held():
                                raise DeliveryAborted(Outcome.BUSY, "lease lost to another process")
                            await self.store.begin_part(key, part, len(payloads))
                            message_id, chat = await self._send_with_retries(
                                target.platform, chat, payloads[part], gate=both_leases_held)
                            await self.store.record_part(key, part, message_id)
                            sent_now += 1
                await self.store.finish(key)
                return self._result(target, Outcome.DELIVERED, payloads, sent_now, chat)
            except DeliveryAborted as abort:
                return self._result(target, abort.outcome, payloads, sent_now, chat, abort.reason)

    def _chat_lease(self, platform: str, chat: str) -> _Lease:
        # Across processes (replicas, or `digestbot send` beside `run`), one post at a time per chat;
        # within this process the chat lock already orders them.
        return _Lease(self.store, f"chat:{platform}:{chat}", self.owner, self.settings.lease_ttl)

    @contextlib.asynccontextmanager
    async def _holding(self, lease: _Lease) -> AsyncIterator[None]:
        """Keep a claimed lease alive while the block runs, then give it back if still ours."""
        keeper = asyncio.create_task(lease.keep())
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if not lease.lost:
                await self.store.release(lease.name, self.owner)

    @staticmethod
    def _result(target: Target, outcome: Outcome, payloads: Sequence[Payload], sent: int, chat: str,
                reason: str = "") -> DeliveryResult:
        return DeliveryResult(target, outcome, len(payloads), sent, chat, reason)

    # -- replies ------------------------------------------------------------------------------
    async def send_parts(self, platform: str, chat: str, payloads: Sequence[Payload]) -> list[str]:
        """Send a command reply's parts in order; raises DeliveryAborted if the chat cannot take them."""
        message_ids: list[str] = []
        async with self.chat_lock(platform, chat):
            chat_lease = self._chat_lease(platform, chat)
            held = await self._wait_to_claim(chat_lease)
            async with self._holding(chat_lease) if held else contextlib.nullcontext():
                for payload in payloads:
                    message_id, chat = await self._send_with_retries(platform, chat, payload)
                    message_ids.append(message_id)
        return message_ids

    async def _wait_to_claim(self, lease: _Lease) -> bool:
        deadline = time.monotonic() + 2 * lease.ttl
        while not await lease.claim():
            if time.monotonic() > deadline:
                # Someone holds the chat far longer than a digest takes: answering late but
                # interleaved beats not answering at all.
                log.warning("%s stayed busy; replying without waiting further", lease.name)
                return False
            await asyncio.sleep(REPLY_WAIT_POLL_SECONDS)
        return True

    # -- one part -----------------------------------------------------------------------------
    async def _send_with_retries(self, platform: str, chat: str, payload: Payload,
                                 gate: Gate | None = None) -> tuple[str, str]:
        channel = self.channels.get(platform)
        if channel is None:
            raise DeliveryAborted(Outcome.FAILED, f"platform {platform} is not configured")
        failures = 0
        moves = 0
        while True:
            try:
                message_id = await channel.send(chat, payload, gate)
            except NotSent as error:
                # The lease moved on during a rate-limit wait (a stalled process): another owner
                # resends this part, so sending it here would put it out of order.
                raise DeliveryAborted(Outcome.BUSY, f"lease lost before sending: {error.reason}") from error
            except RateLimited as error:
                # Never dropped: the platform told us exactly how long to wait.
                self._on_event(SendEvent(platform, "rate_limited", error.reason))
                log.info("%s:%s rate limited, waiting %.1fs", platform, chat, error.retry_after)
                await self._pause(max(error.retry_after, 0.0))
                continue
            except ChatMoved as error:
                moves += 1
                if moves > 3:
                    raise DeliveryAborted(Outcome.FAILED, f"chat keeps moving: {error.reason}") from error
                await self.store.move_chat(platform, chat, error.new_chat)
                log.info("%s:%s moved to %s; resending there", platform, chat, error.new_chat)
                chat = error.new_chat
                continue
            except ChatGone as error:
                await self.store.mark_inactive(platform, chat, error.reason)
                self._on_event(SendEvent(platform, "failed", "inactive"))
                log.warning("%s:%s is gone (%s); marked inactive", platform, chat, error.reason)
                raise DeliveryAborted(Outcome.INACTIVE, error.reason) from error
            except Unauthorized as error:
                self._on_event(SendEvent(platform, "failed", "unauthorized"))
                log.error("%s refused the bot's token (%s): fix the token; no chat was marked inactive",
                          platform, error.reason)
                raise DeliveryAborted(Outcome.FAILED, f"{platform} refused the token: {error.reason}") from error
            except RenderingDefect as error:
                self._on_event(SendEvent(platform, "failed", "rendering"))
                log.error("%s:%s refused a part as malformed (%s): a rendering defect", platform, chat,
                          error.reason)
                raise DeliveryAborted(Outcome.FAILED, f"rendering defect: {error.reason}") from error
            except TransientError as error:
                failures += 1
                if failures >= self.settings.max_attempts:
                    self._on_event(SendEvent(platform, "failed", "transient"))
                    reason = f"gave up after {failures} attempts: {error.reason}"
                    raise DeliveryAborted(Outcome.FAILED, reason) from error
                self._on_event(SendEvent(platform, "retry", error.reason))
                await self._pause(self._backoff(failures))
                continue
            self._on_event(SendEvent(platform, "sent"))
            return message_id, chat

    async def _pause(self, seconds: float) -> None:
        """Wait before a resend, but not past shutdown: the part stays unsent and resumes later."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        if self.stopping:
            raise DeliveryAborted(Outcome.STOPPED, "shutting down")

    def _backoff(self, failures: int) -> float:
        # Full jitter keeps replicas that failed together from retrying together.
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (failures - 1))
        return random.uniform(ceiling / 2, ceiling)
