"""The service loop: turns each channel's schedule into deliveries, polls late digests, catches up."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.corrections import Corrector, Prepared, Sweep
from bot.delivery import Deliverer, DeliveryResult, Kind, Target
from bot.digest.categories import only_categories
from bot.digest.model import Digest
from bot.digest.sources import DigestSource
from bot.due_index import REFRESH_SECONDS, DueIndex, ScheduledChannel
from bot.errors import DigestError
from bot.render import Payload, Renderer
from bot.render.options import PostOptions, apply_options
from bot.settings import Settings
from bot.store.base import DeliveryKey, Store, Subscription

log = logging.getLogger(__name__)

# The last poll is due at the deadline itself; a loop that reaches it a little late still makes it.
DEADLINE_TOLERANCE = dt.timedelta(seconds=60)
# Rendered digests kept for reuse across channels; older dates are dropped.
RENDER_CACHE_DATES = 3
# The running corrections sweep, kept with the delivery attempts so drain() waits for it too.
SWEEP = ("corrections", dt.date.min)


class Retry(enum.Enum):
    """When a delivery attempt that ended with some kind is tried again."""

    SETTLED = enum.auto()          # never: done, or trying again cannot help (gone, rendering defect)
    NEXT_POLL = enum.auto()        # after the poll interval, until the deadline
    LEASE_EXPIRY = enum.auto()     # after half a lease: another replica holds it, or held it and died


RETRY_BY_KIND: Mapping[Kind, Retry] = {
    Kind.DELIVERED: Retry.SETTLED,
    # Every part is out (a timed-out one resent once at most); another attempt would add copies.
    Kind.MAYBE_SENT: Retry.SETTLED,
    Kind.ALREADY: Retry.SETTLED,
    Kind.GONE: Retry.SETTLED,
    Kind.RENDERING_DEFECT: Retry.SETTLED,
    Kind.STOPPED: Retry.SETTLED,
    # The categories matched nothing that day; the digest will not grow more items for them.
    Kind.EMPTY: Retry.SETTLED,
    # A token fixed in the platform's console, or the network back, lets the next poll through.
    Kind.UNAUTHORIZED: Retry.NEXT_POLL,
    Kind.TRANSIENT: Retry.NEXT_POLL,
    Kind.NOT_CONFIGURED: Retry.NEXT_POLL,
    Kind.CHAT_MOVING: Retry.NEXT_POLL,
    Kind.BUSY: Retry.LEASE_EXPIRY,
}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(slots=True)
class _Pending:
    """A delivery that is due but not done: its digest may be late, or another replica holds it."""

    channel: ScheduledChannel
    digest_date: dt.date
    due: dt.datetime
    deadline: dt.datetime
    next_attempt: dt.datetime
    attempts: int = 0
    last_reason: str = field(default="")


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        source: DigestSource,
        store: Store,
        deliverer: Deliverer,
        renderers: Mapping[str, Renderer],
        clock: Callable[[], dt.datetime] = utc_now,
        on_result: Callable[[DeliveryResult, dt.datetime], None] | None = None,
        max_concurrency: int = 64,
    ) -> None:
        self.settings = settings
        self.source = source
        self.store = store
        self.deliverer = deliverer
        self.renderers = renderers
        self.clock = clock
        self._on_result = on_result or (lambda result, due: None)
        self._default_tz = ZoneInfo(settings.timezone)
        self._pending: dict[tuple[str, dt.date], _Pending] = {}
        self._running: dict[tuple[str, dt.date], asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max_concurrency)
        self._render_cache: dict[tuple[dt.date, str, tuple[str, ...]], tuple[Digest, list[Payload]]] = {}
        # What a delivery posts, with its options applied and its fingerprint, shared by every channel
        # alike: at a fan-out of thousands the per-delivery copies and hashes were the cost.
        self._prepared: dict[tuple[dt.date, str, tuple[str, ...], PostOptions], Prepared] = {}
        self.index = DueIndex(settings.channels, self._default_tz, settings.delivery.subscription_schedule,
                              deliverer.channels)
        self._wake = asyncio.Event()
        self._sleeping_until: dt.datetime | None = None     # when the loop looks again by itself
        self._stopping = False
        self.corrector = Corrector(deliverer, store, settings.delivery, settings.language)
        self._sweep = Sweep(self.corrector, source, renderers, self.prepared_of)
        self._next_sweep: dt.datetime | None = None

    # -- which channels -----------------------------------------------------------------------
    async def channels(self) -> list[ScheduledChannel]:
        """Configured channels plus /subscribe'd chats, for the platforms that can deliver: every one of
        them made at once, for callers that want the whole list (a tick never does)."""
        await self.index.refresh(self.store, self.clock())
        return list(self.index.channels())

    def subscriptions_changed(self) -> None:
        """This process subscribed or unsubscribed a chat: schedule it now, not at the next refresh."""
        self.index.invalidate()
        self._wake.set()

    # -- the loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Until stop(): deliver what is due, then sleep until the next thing can happen."""
        while not self._stopping:
            now = self.clock()
            try:
                await self.step(now)
            except Exception:
                # One bad tick (store down, source unreadable) must not end the service.
                log.exception("scheduler step failed; trying again shortly")
            now = self.clock()
            delay = self._seconds_until_next(now)
            self._sleeping_until = now + dt.timedelta(seconds=delay)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass
        await self.drain()

    def stop(self) -> None:
        self._stopping = True
        self.deliverer.stop()
        self._wake.set()

    async def drain(self) -> None:
        """Wait for deliveries in flight (tests and shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def step(self, now: dt.datetime) -> None:
        """Queue everything due by `now` and start the attempts whose time has come."""
        await self.index.refresh(self.store, now)
        for channel, due in self.index.advance(now, dt.timedelta(seconds=self.settings.digests.catch_up)):
            self._queue(channel, due)
        for key, pending in list(self._pending.items()):
            if key in self._running or pending.next_attempt > now:
                continue
            if now > pending.deadline + DEADLINE_TOLERANCE:
                self._give_up(key, pending)
                continue
            self._running[key] = asyncio.create_task(self._attempt(key, pending))
        self._start_sweep(now)

    def _start_sweep(self, now: dt.datetime) -> None:
        """Corrections of changed digests, at most once a poll interval and never two at once."""
        due = self._next_sweep is None or now >= self._next_sweep
        if self.settings.delivery.corrections == "off" or SWEEP in self._running or not due:
            return
        self._next_sweep = now + dt.timedelta(seconds=self.settings.digests.poll_interval)

        async def sweep() -> None:
            try:
                await self._sweep.run(self._locate, self.index.timezones(), now)
            except Exception:
                log.exception("the corrections sweep failed; trying again next time")
            finally:
                self._running.pop(SWEEP, None)

        self._running[SWEEP] = asyncio.create_task(sweep())

    def _locate(self, name: str) -> tuple[Target, ZoneInfo] | None:
        channel = self.index.find(name)
        return None if channel is None else (channel.target, channel.timezone)

    def _queue(self, channel: ScheduledChannel, due: dt.datetime) -> None:
        digest_date = due.astimezone(channel.timezone).date()
        key = (channel.target.name, digest_date)
        if key in self._pending:
            return
        deadline = due + dt.timedelta(seconds=self.settings.digests.poll_deadline)
        self._pending[key] = _Pending(channel, digest_date, due, deadline, next_attempt=due)

    def _seconds_until_next(self, now: dt.datetime) -> float:
        moments = [p.next_attempt for key, p in self._pending.items() if key not in self._running]
        next_due = self.index.next_due()
        if next_due is not None:
            moments.append(next_due)
        delay = min(((m - now).total_seconds() for m in moments), default=REFRESH_SECONDS)
        return max(0.05, min(delay, REFRESH_SECONDS))

    async def _attempt(self, key: tuple[str, dt.date], pending: _Pending) -> None:
        if self._stopping:
            self._running.pop(key, None)
            return
        try:
            async with self._slots:
                retry_in = await self._try_deliver(pending)
        except Exception as error:
            log.exception("delivery of %s to %s failed unexpectedly", pending.digest_date, key[0])
            retry_in = self.settings.digests.poll_interval
            pending.last_reason = str(error)
        finally:
            self._running.pop(key, None)
        now = self.clock()
        if retry_in is None or self._stopping:
            self._pending.pop(key, None)
        elif now >= pending.deadline:
            self._give_up(key, pending)
        else:
            # The last poll falls on the deadline itself, so a digest published in the final
            # interval is still delivered.
            pending.next_attempt = min(now + dt.timedelta(seconds=retry_in), pending.deadline)
            # Only a retry due before the loop looks again wakes it: a step looks at every pending
            # delivery, and a fan-out whose deliveries other replicas hold would otherwise step once per
            # delivery.
            if self._sleeping_until is None or pending.next_attempt < self._sleeping_until:
                self._wake.set()

    def _give_up(self, key: tuple[str, dt.date], pending: _Pending) -> None:
        log.warning("giving up on %s for %s at the deadline: %s", pending.digest_date, key[0],
                    pending.last_reason or "digest not published")
        self._pending.pop(key, None)

    async def _try_deliver(self, pending: _Pending) -> float | None:
        """One attempt; returns seconds until the next one, or None when this delivery is settled."""
        if self._stopping:
            return None
        pending.attempts += 1
        target = pending.channel.target
        try:
            digest = await self.source.for_date(pending.digest_date)
        except DigestError as error:
            pending.last_reason = str(error)
            log.error("cannot load the digest for %s: %s", pending.digest_date, error)
            return self.settings.digests.poll_interval
        if digest is not None and digest.date != pending.digest_date:
            # A source answering with another day's digest (a stale copy behind a URL) must not
            # settle today's delivery.
            log.warning("the source answered %s with the digest of %s; waiting for the right one",
                        pending.digest_date, digest.date)
            digest = None
        if digest is None:
            if pending.attempts == 1:
                log.info("no digest for %s yet; polling every %ss for %s", pending.digest_date,
                         self.settings.digests.poll_interval, target.name)
            pending.last_reason = "digest not published"
            return self.settings.digests.poll_interval
        result = await self.deliver(target, digest)
        if pending.channel.subscribed and result.chat != target.chat:
            await self._carry_ledger(target, result.chat, digest.date)
            # The store moved the subscription to the new id; scheduled under the old one no more.
            self.index.invalidate()
        self._on_result(result, pending.due)
        pending.last_reason = result.reason
        return self.retry_in(result)

    def retry_in(self, result: DeliveryResult) -> float | None:
        """Seconds until the next attempt after `result`, or None when the delivery is settled."""
        match RETRY_BY_KIND[result.kind]:
            case Retry.SETTLED:
                return None
            case Retry.NEXT_POLL:
                return self.settings.digests.poll_interval
            case Retry.LEASE_EXPIRY:
                # Another replica is on it; if it dies its lease expires and we take over.
                return max(1.0, self.settings.delivery.lease_ttl / 2)

    async def _carry_ledger(self, target: Target, new_chat: str, digest_date: dt.date) -> None:
        """A subscribed chat moved mid-delivery: its subscription now has the new id, and so will the
        name its deliveries are recorded under. Copy what was sent, so a restart does not resend."""
        old = await self.store.ledger(DeliveryKey(digest_date, target.name))
        new_key = DeliveryKey(digest_date, Subscription.name_of(target.platform, new_chat))
        total = old.parts_total or len(old.sent)
        for part in sorted(old.maybe_sent):
            # A part's one resend after a timeout stays spent under the new name too.
            await self.store.mark_maybe_sent(new_key, part)
        for part, message_id in sorted(old.sent.items()):
            await self.store.begin_part(new_key, part, total)
            await self.store.record_part(new_key, part, message_id)
        if old.finished:
            await self.store.finish(new_key)

    # -- one delivery -------------------------------------------------------------------------
    def payloads_for(self, platform: str, digest: Digest, categories: tuple[str, ...] = ()) -> list[Payload]:
        """The parts of `digest` for `platform`, only the items of `categories` if any are named; none
        when those categories have no item that day."""
        cached = self._render_cache.get((digest.date, platform, categories))
        if cached is not None and cached[0] is digest:
            return cached[1]
        shown = only_categories(digest, categories)
        payloads = self.renderers[platform].render_digest(shown) if shown.items or not categories else []
        self._render_cache[(digest.date, platform, categories)] = (digest, payloads)
        kept = sorted({key[0] for key in self._render_cache}, reverse=True)[:RENDER_CACHE_DATES]
        for cached_key in [k for k in self._render_cache if k[0] not in kept]:
            del self._render_cache[cached_key]
        for prepared_key in [k for k in self._prepared if k[0] not in kept]:
            del self._prepared[prepared_key]
        return payloads

    def prepared_of(self, target: Target, digest: Digest) -> Prepared:
        """What a delivery of `digest` to `target` posts (its categories, rendered, with its options)
        and its fingerprint, made once for every channel alike."""
        key = (digest.date, target.platform, target.categories, target.options)
        prepared = self._prepared.get(key)
        if prepared is not None and prepared.digest is digest:
            return prepared
        rendered = self.payloads_for(target.platform, digest, target.categories)
        payloads = apply_options(self.renderers[target.platform], rendered, target.options)
        prepared = Prepared.of(digest, only_categories(digest, target.categories), payloads)
        self._prepared[key] = prepared
        return prepared

    async def deliver(self, target: Target, digest: Digest) -> DeliveryResult:
        prepared = self.prepared_of(target, digest)
        payloads = prepared.payloads
        if not payloads:
            reason = f"no item in {', '.join(target.categories)}"
            log.info("nothing to post to %s on %s: %s", target.name, digest.date, reason,
                     extra={"channel": target.name, "digest_date": digest.date.isoformat(), "outcome": "empty"})
            return DeliveryResult(target, Kind.EMPTY, 0, 0, target.chat, reason)
        # The fingerprint is kept by the delivery's last store step, for corrections to compare with.
        result = await self.deliverer.deliver(DeliveryKey(digest.date, target.name), target, payloads,
                                              prepared.recorded)
        log.info(
            "delivery %s", result.outcome.value,
            extra={"channel": target.name, "platform": target.platform, "chat": result.chat,
                   "digest_date": digest.date.isoformat(), "parts": result.parts_total,
                   "parts_sent": result.parts_sent, "outcome": result.outcome.value,
                   "kind": result.kind.value, "maybe_sent": list(result.maybe_sent),
                   "unconfirmed": list(result.unconfirmed), "reason": result.reason},
        )
        return result
