"""Ordered multi-part sending with retries, per-chat ordering, leases and the delivery ledger."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from bot import metrics
from bot.delivery_settings import DeliverySettings
from bot.leases import Keeper, Lease, delivery_lease_name, new_owner_id
from bot.outcomes import (
    OUTCOME_OF_KIND,
    DeliveryAborted,
    DeliveryResult,
    Kind,
    Outcome,
    SendEvent,
    Sent,
    Tally,
    Target,
    abort,
    timeout_note,
)
from bot.platforms.base import (
    Channel,
    ChatGone,
    ChatMoved,
    Gate,
    MaybeSent,
    NotSent,
    RateLimited,
    RenderingDefect,
    SendError,
    Threads,
    TransientError,
    Unauthorized,
)
from bot.ratelimit import KeyedLocks
from bot.render import Payload
from bot.store.base import UNCONFIRMED_MESSAGE_ID, DeliveryKey, LedgerEntry, Store, StoreError

# The result types live in bot.outcomes; callers keep importing them from here.
__all__ = ["OUTCOME_OF_KIND", "Deliverer", "DeliveryAborted", "DeliveryResult", "Kind", "MayResend", "Outcome",
           "SendEvent", "Target", "new_owner_id", "one_resend"]

log = logging.getLogger(__name__)

# How often a command reply looks again whether another process has finished posting in the chat.
REPLY_WAIT_POLL_SECONDS = 0.25


# Asked when a send timed out after going out: True lets the one resend happen.
MayResend = Callable[[], Awaitable[bool]]


def one_resend() -> MayResend:
    """The resend rule of a part the ledger does not track (a command reply): once, in this process."""
    granted = False

    async def may_resend() -> bool:
        nonlocal granted
        first, granted = not granted, True
        return first

    return may_resend


@dataclass(slots=True)
class _Run:
    """One delivery's hold on the store: its leases, and what its closing step records."""

    key: DeliveryKey
    keeper: Keeper
    finished: bool = False
    never_sent: int | None = None     # marked as about to go, never handed to the platform
    last_sent: tuple[int, str] | None = None    # the last part and its message id, recorded by the close
    closed: bool = False


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
            return self._result(target, Kind.STOPPED, payloads, Tally(), target.chat, "shutting down")
        lease = Lease(self.store, delivery_lease_name(key), self.owner, self.settings.lease_ttl)
        started = time.monotonic()
        opening = await self.store.open_delivery(key, lease.name, self.owner, lease.ttl, target.platform,
                                                 target.chat)
        if not opening.claimed:
            return self._result(target, Kind.BUSY, payloads, Tally(), target.chat, "leased by another process")
        lease.granted(started)
        tally = Tally()
        chat, entry = opening.chat, opening.entry
        run = _Run(key, Keeper(lease))
        try:
            if entry.finished:
                return self._result(target, Kind.ALREADY, payloads, tally, chat)
            if opening.inactive is not None:
                return self._result(target, Kind.GONE, payloads, tally, chat, opening.inactive)
            if entry.in_flight - set(entry.sent):
                # The previous owner died between sending a part and recording it: the part may
                # or may not have arrived. Resending risks one duplicate; skipping risks a hole,
                # which is worse for a numbered digest.
                log.warning("resuming %s: part(s) %s were in flight when the last owner stopped",
                            key, sorted(entry.in_flight - set(entry.sent)))
            async with self.chat_lock(target.platform, chat):
                try:
                    chat = await self._send_planned(run, target, chat, payloads, entry, tally)
                    run.finished = True
                finally:
                    # Still under the chat lock: the chat's lease goes back before another delivery
                    # of this process to the same chat claims it (as the same owner, it would win).
                    await self._close(run)
            kind = Kind.MAYBE_SENT if tally.maybe_sent else Kind.DELIVERED
            note = timeout_note(tally.maybe_sent, tally.unconfirmed, len(payloads))
            return self._result(target, kind, payloads, tally, chat, note)
        except DeliveryAborted as aborted:
            await self._note_failure(key, aborted)
            return self._result(target, aborted.kind, payloads, tally, chat, aborted.reason)
        finally:
            await self._close(run)

    async def _send_planned(self, run: _Run, target: Target, chat: str, payloads: Sequence[Payload],
                            entry: LedgerEntry, tally: Tally) -> str:
        """Claim the chat, record the plan, then send each unsent part and record it: one store write
        per part. Returns the chat's id as the last send left it (a migration changes it)."""
        key, total = run.key, len(payloads)
        first = entry.first_unsent()
        chat_lease = self._chat_lease(target.platform, chat)
        started = time.monotonic()
        if not await self.store.plan_delivery(key, chat_lease.name, self.owner, chat_lease.ttl, total,
                                              first if first < total else None):
            raise abort(Kind.BUSY, "another process is posting in this chat")
        chat_lease.granted(started)
        run.keeper.add(chat_lease)
        leases = run.keeper.leases

        async def leases_held() -> bool:
            return all([await lease.confirm() for lease in leases])

        # The thread's parent: the first part, as the ledger keeps it across restarts.
        header = entry.sent.get(0)
        for part in range(first, total):
            following = part + 1 if part + 1 < total else None
            # Marked as about to go by the plan or the previous part's record, but not handed to the
            # platform yet: stopping now takes the mark back. A mark left by a dead owner stays.
            run.never_sent = None if part in entry.in_flight else part
            if self.stopping:
                raise abort(Kind.STOPPED, "shutting down")
            if not await leases_held():
                raise abort(Kind.BUSY, "lease lost to another process")
            if part in entry.maybe_sent and part not in entry.sent:
                await self._settle_spent_part(key, part, following, tally)
                continue
            run.never_sent = None
            sent = await self._send_with_retries(
                target.platform, chat, self._threaded(target, payloads[part], part, header),
                gate=leases_held, may_resend=self._ledger_resend(key, part, tally))
            chat = sent.chat
            header = header if part else sent.message_id
            if following is None:
                run.last_sent = (part, sent.message_id)
            else:
                await self.store.record_sent(key, part, sent.message_id, following)
            tally.add(part, sent)
        run.never_sent = None
        return chat

    async def _close(self, run: _Run) -> None:
        """Record the last part, finish the delivery (if every part went) and give back its leases, in
        one store step."""
        if run.closed:
            return
        run.closed = True
        cancelled = await run.keeper.stop()
        await self.store.close_delivery(run.key, self.owner, run.keeper.held(), run.finished, run.never_sent,
                                        run.last_sent)
        if cancelled:
            raise asyncio.CancelledError

    def _threaded(self, target: Target, payload: Payload, part: int, header: str | None) -> Payload:
        """A part after the first as a reply in the first part's thread, for a channel that asks."""
        channel: object = self.channels.get(target.platform)
        if not target.options.thread or part == 0 or not isinstance(channel, Threads):
            return payload
        if not header:
            # The first part went out unconfirmed (no message id): nothing to reply to.
            log.warning("%s: no message id for the first part; part %d goes to the channel", target.name, part)
            return payload
        return channel.in_thread(payload, header)

    async def _note_failure(self, key: DeliveryKey, aborted: DeliveryAborted) -> None:
        """Keep why a delivery failed for `digestbot status`; the delivery's result stays what it was."""
        if aborted.outcome not in (Outcome.FAILED, Outcome.INACTIVE):
            return      # busy or stopped: another attempt is under way or coming, nothing failed
        try:
            await self.store.record_failure(key, aborted.reason)
        except StoreError:
            log.warning("%s: could not record its failure (%s)", key, aborted.reason, exc_info=True)

    async def _settle_spent_part(self, key: DeliveryKey, part: int, following: int | None, tally: Tally) -> None:
        """A part whose send timed out before and whose one resend is spent (its owner stopped during
        or after it): it may be in the chat already, and at most once more is what was promised."""
        log.warning("%s: part %d timed out after going out and its one resend is spent; counted as sent, "
                    "unconfirmed", key, part)
        await self.store.record_sent(key, part, UNCONFIRMED_MESSAGE_ID, following)
        tally.timed_out(part)
        tally.unconfirmed.append(part)

    def _ledger_resend(self, key: DeliveryKey, part: int, tally: Tally) -> MayResend:
        """The resend rule of a scheduled part: the ledger's mark grants one resend, ever."""
        async def may_resend() -> bool:
            tally.timed_out(part)
            return await self.store.mark_maybe_sent(key, part)

        return may_resend

    def _chat_lease(self, platform: str, chat: str) -> Lease:
        # Across processes (replicas, or `digestbot send` beside `run`), one post at a time per chat;
        # within this process the chat lock already orders them.
        return Lease(self.store, f"chat:{platform}:{chat}", self.owner, self.settings.lease_ttl)

    @contextlib.asynccontextmanager
    async def _holding(self, lease: Lease) -> AsyncIterator[None]:
        """Keep a claimed lease alive while the block runs, then give it back if still ours."""
        keeper = Keeper(lease)
        try:
            yield
        finally:
            cancelled = await keeper.stop()
            if not lease.lost:
                await self.store.release(lease.name, self.owner)
            if cancelled:
                raise asyncio.CancelledError

    @staticmethod
    def _result(target: Target, kind: Kind, payloads: Sequence[Payload], tally: Tally, chat: str,
                reason: str = "") -> DeliveryResult:
        return DeliveryResult(target, kind, len(payloads), tally.sent, chat, reason, tuple(tally.maybe_sent),
                              tuple(tally.unconfirmed))

    # -- replies ------------------------------------------------------------------------------
    async def send_parts(self, platform: str, chat: str, payloads: Sequence[Payload]) -> list[str]:
        """Send a command reply's parts in order; raises DeliveryAborted if the chat cannot take them."""
        message_ids: list[str] = []
        async with self.chat_lock(platform, chat):
            chat_lease = self._chat_lease(platform, chat)
            held = await self._wait_to_claim(chat_lease)
            async with self._holding(chat_lease) if held else contextlib.nullcontext():
                for payload in payloads:
                    sent = await self._send_with_retries(platform, chat, payload, may_resend=one_resend())
                    chat = sent.chat
                    message_ids.append(sent.message_id)
        return message_ids

    async def _wait_to_claim(self, lease: Lease) -> bool:
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
    async def _send_with_retries(self, platform: str, chat: str, payload: Payload, may_resend: MayResend,
                                 gate: Gate | None = None) -> Sent:
        channel = self.channels.get(platform)
        if channel is None:
            raise abort(Kind.NOT_CONFIGURED, f"platform {platform} is not configured")
        failures = 0
        moves = 0
        while True:
            try:
                message_id = await channel.send(chat, payload, gate)
            except MaybeSent as error:
                if await self._resend_after_timeout(platform, chat, error, may_resend):
                    continue
                return Sent(UNCONFIRMED_MESSAGE_ID, chat, confirmed=False)
            except RateLimited as error:
                # Never dropped: the platform told us exactly how long to wait.
                self._on_event(SendEvent(platform, "rate_limited", error.reason))
                log.info("%s:%s rate limited, waiting %.1fs", platform, chat, error.retry_after)
                await self._pause(max(error.retry_after, 0.0))
                continue
            except ChatMoved as error:
                moves += 1
                if moves > 3:
                    raise abort(Kind.CHAT_MOVING, f"chat keeps moving: {error.reason}") from error
                await self.store.move_chat(platform, chat, error.new_chat)
                log.info("%s:%s moved to %s; resending there", platform, chat, error.new_chat)
                chat = error.new_chat
                continue
            except TransientError as error:
                failures += 1
                if failures >= self.settings.max_attempts:
                    self._on_event(SendEvent(platform, "failed", "transient"))
                    reason = f"gave up after {failures} attempts: {error.reason}"
                    raise abort(Kind.TRANSIENT, reason) from error
                self._on_event(SendEvent(platform, "retry", error.reason))
                await self._pause(self._backoff(failures))
                continue
            except SendError as error:
                raise await self._refused(platform, chat, error) from error
            self._on_event(SendEvent(platform, "sent"))
            return Sent(message_id, chat)

    async def _resend_after_timeout(self, platform: str, chat: str, error: MaybeSent,
                                    may_resend: MayResend) -> bool:
        """The request went out and no answer came: resend once, never a third time."""
        if await may_resend():
            action = "resent"
            log.warning("%s:%s: no answer after the request went out (%s); it may have arrived, resending "
                        "once", platform, chat, error.reason)
        else:
            action = "unconfirmed"
            log.warning("%s:%s: the resend got no answer either (%s); counted as sent, unconfirmed, and not "
                        "sent again", platform, chat, error.reason)
        self._on_event(SendEvent(platform, "maybe_sent", action))
        metrics.MAYBE_SENT.labels(platform=platform, action=action).inc()
        return action == "resent"

    async def _refused(self, platform: str, chat: str, error: SendError) -> DeliveryAborted:
        """The abort for a send the platform (or the gate) refused for good."""
        if isinstance(error, NotSent):
            # The lease moved on during a rate-limit wait (a stalled process): another owner
            # resends this part, so sending it here would put it out of order.
            return abort(Kind.BUSY, f"lease lost before sending: {error.reason}")
        if isinstance(error, ChatGone):
            await self.store.mark_inactive(platform, chat, error.reason)
            self._on_event(SendEvent(platform, "failed", "inactive"))
            log.warning("%s:%s is gone (%s); marked inactive", platform, chat, error.reason)
            return abort(Kind.GONE, error.reason)
        if isinstance(error, Unauthorized):
            self._on_event(SendEvent(platform, "failed", "unauthorized"))
            # A refused token, or a robot's signature or keyword check: the reason names the fix.
            log.error("%s refused the bot's credentials (%s): fix the config; no chat was marked inactive",
                      platform, error.reason)
            return abort(Kind.UNAUTHORIZED, f"{platform} refused the credentials: {error.reason}")
        if isinstance(error, RenderingDefect):
            self._on_event(SendEvent(platform, "failed", "rendering"))
            log.error("%s:%s refused a part as malformed (%s): a rendering defect", platform, chat,
                      error.reason)
            return abort(Kind.RENDERING_DEFECT, f"rendering defect: {error.reason}")
        # A SendError of a kind this module does not know: failed, and tried again later.
        self._on_event(SendEvent(platform, "failed", "transient"))
        log.error("%s:%s: %s: %s", platform, chat, type(error).__name__, error.reason)
        return abort(Kind.TRANSIENT, error.reason)

    async def _pause(self, seconds: float) -> None:
        """Wait before a resend, but not past shutdown: the part stays unsent and resumes later."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        if self.stopping:
            raise abort(Kind.STOPPED, "shutting down")

    def _backoff(self, failures: int) -> float:
        # Full jitter keeps replicas that failed together from retrying together.
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (failures - 1))
        return random.uniform(ceiling / 2, ceiling)
