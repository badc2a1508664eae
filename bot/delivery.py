"""Ordered multi-part sending with retries, per-chat ordering, leases and the delivery ledger."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.delivery_settings import DeliverySettings
from bot.keyed_locks import KeyedLocks
from bot.leases import Keeper, Lease, chat_lease_name, delivery_lease_name, new_owner_id
from bot.outcomes import (
    OUTCOME_OF_KIND,
    DeliveryAborted,
    DeliveryResult,
    Kind,
    Outcome,
    SendEvent,
    Tally,
    Target,
    abort,
    timeout_note,
)
from bot.part_sender import MayResend, PartSender, one_resend
from bot.platforms.base import (
    Channel,
    Threads,
)
from bot.render import Payload
from bot.store.base import (
    UNCONFIRMED_MESSAGE_ID,
    DeliveryKey,
    LedgerEntry,
    Opening,
    Plan,
    Store,
    StoreError,
    part_to_plan,
)

# The result types live in bot.outcomes; callers keep importing them from here.
__all__ = ["OUTCOME_OF_KIND", "Deliverer", "DeliveryAborted", "DeliveryResult", "Kind", "MayResend", "Outcome",
           "SendEvent", "Target", "new_owner_id", "one_resend"]

log = logging.getLogger(__name__)

# How often a command reply looks again whether another process has finished posting in the chat.
REPLY_WAIT_POLL_SECONDS = 0.25


@dataclass(slots=True)
class _Run:
    """One delivery's hold on the store: its leases, and what its closing step records."""

    key: DeliveryKey
    keeper: Keeper
    finished: bool = False
    never_sent: int | None = None     # marked as about to go, never handed to the platform
    last_sent: tuple[int, str] | None = None    # the last part and its message id, recorded by the close
    fingerprint: str = ""         # what the chat shows once every part is out, kept by the close
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
        self._parts = PartSender(store, channels, settings, self._on_event, self._stopping)

    def stop(self) -> None:
        """Take no new parts; the part in flight finishes."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def chat_lock(self, platform: str, chat: str) -> contextlib.AbstractAsyncContextManager[None]:
        return self._chat_locks.hold((platform, chat))

    # -- scheduled delivery -------------------------------------------------------------------
    async def deliver(self, key: DeliveryKey, target: Target, payloads: Sequence[Payload],
                      fingerprint: str = "") -> DeliveryResult:
        """Post every unsent part of `payloads` once, in order. `fingerprint` (corrections.Fingerprint)
        is kept with the finished delivery."""
        if not payloads:
            raise ValueError(f"{key}: nothing to deliver")
        # The store grants a lease again to the owner that holds it, and this process is one owner:
        # two calls for the same delivery here must take turns, or both would send every part.
        async with self._delivery_locks.hold(key):
            return await self._deliver(key, target, payloads, fingerprint)

    async def _deliver(self, key: DeliveryKey, target: Target, payloads: Sequence[Payload],
                       fingerprint: str) -> DeliveryResult:
        if self.stopping:
            return self._result(target, Kind.STOPPED, payloads, Tally(), target.chat, "shutting down")
        # Under the chat's lock from the start: the opening may claim the chat's lease, and within this
        # process only the lock's holder may hold it (to the store, every delivery here is one owner).
        async with self.chat_lock(target.platform, target.chat):
            lease = Lease(self.store, delivery_lease_name(key), self.owner, self.settings.lease_ttl)
            chat_lease = self._chat_lease(target.platform, target.chat)
            started = time.monotonic()
            opening = await self.store.open_delivery(key, lease.name, self.owner, lease.ttl, target.platform,
                                                     target.chat, chat_lease.name, len(payloads))
            if not opening.claimed:
                return self._result(target, Kind.BUSY, payloads, Tally(), target.chat, "leased by another process")
            lease.granted(started)
            run = _Run(key, Keeper(lease), fingerprint=fingerprint)
            if opening.plan is Plan.PLANNED:
                chat_lease.granted(started)
                run.keeper.add(chat_lease)
            try:
                return await self._opened(run, target, payloads, opening)
            finally:
                await self._close(run)

    async def _opened(self, run: _Run, target: Target, payloads: Sequence[Payload], opening: Opening) -> DeliveryResult:
        tally = Tally()
        chat, entry = opening.chat, opening.entry
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
                            run.key, sorted(entry.in_flight - set(entry.sent)))
            if opening.plan is Plan.CHAT_TAKEN:
                raise abort(Kind.BUSY, "another process is posting in this chat")
            if opening.plan is Plan.PLANNED:
                chat = await self._send_planned(run, target, chat, payloads, entry, tally)
                run.finished = True
            else:
                chat = await self._send_moved(run, target, chat, payloads, entry, tally)
            await self._close(run)
            kind = Kind.MAYBE_SENT if tally.maybe_sent else Kind.DELIVERED
            note = timeout_note(tally.maybe_sent, tally.unconfirmed, len(payloads))
            return self._result(target, kind, payloads, tally, chat, note)
        except DeliveryAborted as aborted:
            await self._close(run)
            await self._note_failure(run.key, aborted)
            return self._result(target, aborted.kind, payloads, tally, chat, aborted.reason)

    async def _send_moved(self, run: _Run, target: Target, chat: str, payloads: Sequence[Payload],
                          entry: LedgerEntry, tally: Tally) -> str:
        """The chat moved since the channel was set up: its new id has a lock and a lease of its own, and
        the delivery ends (its leases given back) while it still holds that lock."""
        async with self.chat_lock(target.platform, chat):
            try:
                chat_lease = self._chat_lease(target.platform, chat)
                started = time.monotonic()
                if not await self.store.plan_delivery(run.key, chat_lease.name, self.owner, chat_lease.ttl,
                                                      len(payloads), part_to_plan(entry, len(payloads))):
                    raise abort(Kind.BUSY, "another process is posting in this chat")
                chat_lease.granted(started)
                run.keeper.add(chat_lease)
                chat = await self._send_planned(run, target, chat, payloads, entry, tally)
                run.finished = True
            finally:
                await self._close(run)
        return chat

    async def _send_planned(self, run: _Run, target: Target, chat: str, payloads: Sequence[Payload],
                            entry: LedgerEntry, tally: Tally) -> str:
        """Send each unsent part of a planned delivery and record it: one store write per part, the
        last one left to the close. Returns the chat's id as the last send left it (a migration
        changes it)."""
        key, total = run.key, len(payloads)
        leases = run.keeper.leases
        run.keeper.start()

        async def leases_held() -> bool:
            return all([await lease.confirm() for lease in leases])

        # The thread's parent: the first part, as the ledger keeps it across restarts.
        header = entry.sent.get(0)
        for part in range(entry.first_unsent(), total):
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
            sent = await self._parts.send(
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
                                        run.last_sent, run.fingerprint)
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
        return Lease(self.store, chat_lease_name(platform, chat), self.owner, self.settings.lease_ttl)

    @contextlib.asynccontextmanager
    async def _holding(self, lease: Lease) -> AsyncIterator[None]:
        """Keep a claimed lease alive while the block runs, then give it back if still ours."""
        keeper = Keeper(lease)
        keeper.start()
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
                    sent = await self._parts.send(platform, chat, payload, may_resend=one_resend())
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
