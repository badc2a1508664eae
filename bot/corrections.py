"""Corrections in place: a delivered digest that changed is edited part by part, or a notice names what changed."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.delivery import Deliverer, DeliveryAborted, Target
from bot.delivery_settings import DeliverySettings
from bot.digest.model import Digest, Item
from bot.digest.sources import DigestSource
from bot.errors import DigestError
from bot.i18n import join_list, text
from bot.leases import Lease, delivery_lease_name
from bot.outcomes import Kind, abort
from bot.platforms.base import Edits, Gate, MaybeSent, RateLimited, SendError, TransientError
from bot.render import Payload, Renderer
from bot.render.options import apply_options
from bot.store.base import UNCONFIRMED_MESSAGE_ID, DeliveryKey, Store, StoreError

log = logging.getLogger(__name__)

# Where the channel a delivery was recorded under (by name) posts now, and its time zone; None once it
# is served no more.
Locate = Callable[[str], tuple[Target, ZoneInfo] | None]


def _digest_of(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:24]


def _item_hash(item: Item) -> str:
    return _digest_of([item.title, item.url, item.summary_text])


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a chat shows of one delivery: a hash of each part as sent and of each item as published."""

    parts: tuple[str, ...]
    items: Mapping[int, str]
    noticed: str = ""       # the version a notice was posted for, when the parts could not be edited
    corrections: int = 0    # corrections made so far (edits in place, notices): what `digestbot status` shows

    @classmethod
    def of(cls, digest: Digest, payloads: Sequence[Payload]) -> Fingerprint:
        return cls(tuple(_digest_of(payload) for payload in payloads),
                   {item.number: _item_hash(item) for item in digest.items})

    @property
    def version(self) -> str:
        return _digest_of([self.parts, sorted(self.items.items())])

    def dumps(self) -> str:
        return json.dumps({"parts": self.parts, "items": {str(n): h for n, h in self.items.items()},
                           "noticed": self.noticed, "corrections": self.corrections}, sort_keys=True)

    @classmethod
    def loads(cls, raw: str) -> Fingerprint:
        data = json.loads(raw)
        return cls(tuple(data["parts"]), {int(n): h for n, h in data["items"].items()}, data.get("noticed", ""),
                   int(data.get("corrections", 0)))

    def changed_items(self, new: Fingerprint) -> list[int]:
        """Item numbers added, removed or changed from this to `new`."""
        numbers = set(self.items) | set(new.items)
        return sorted(n for n in numbers if self.items.get(n) != new.items.get(n))


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a delivery of one digest posts to the channels alike (platform, categories, options),
    made once for all of them: the digest as they show it, its parts, and its fingerprint."""

    digest: Digest                      # the whole digest it was made from
    shown: Digest                       # only the channels' categories
    payloads: list[Payload]
    fingerprint: Fingerprint | None     # None when the categories have nothing that day
    recorded: str                       # the fingerprint as the ledger keeps it; "" with it None

    @classmethod
    def of(cls, digest: Digest, shown: Digest, payloads: list[Payload]) -> Prepared:
        fingerprint = Fingerprint.of(shown, payloads) if payloads else None
        return cls(digest, shown, payloads, fingerprint, fingerprint.dumps() if fingerprint else "")


def corrections_made(recorded: str) -> int:
    """How many corrections a delivery's recorded fingerprint counts; 0 for none or one unreadable."""
    try:
        return Fingerprint.loads(recorded).corrections if recorded else 0
    except (ValueError, KeyError, TypeError, AttributeError):
        return 0


def corrections_owner(owner: str) -> str:
    """Who holds a delivery's lease while its chat is corrected: the process, as its corrector."""
    return f"{owner}/corrections"


class Corrector:
    """Brings a finished delivery in line with the digest as it is now, once, whoever does it."""

    def __init__(self, deliverer: Deliverer, store: Store, settings: DeliverySettings, language: str) -> None:
        self.deliverer = deliverer
        self.store = store
        self.settings = settings
        self.language = language

    async def correct(self, key: DeliveryKey, target: Target, digest: Digest, payloads: Sequence[Payload],
                      renderer: Renderer, fingerprint: Fingerprint | None = None,
                      still_current: Callable[[], Awaitable[bool]] | None = None) -> str:
        """What was done: "same", "adopted", "edited", "noticed", "busy", "stale" or "failed".
        `fingerprint`: Fingerprint.of(digest, payloads), when the caller has it already.
        `still_current`: whether `digest` is still the source's, asked once the lease is ours and
        before anything is changed ("stale" when not)."""
        new = fingerprint or Fingerprint.of(digest, payloads)
        recorded = await self.store.fingerprint(key)
        if recorded and self._settled(Fingerprint.loads(recorded), new):
            return "same"
        # An owner of its own: a claim by the same owner succeeds (a process takes back its own lease),
        # so under the deliverer's owner a delivery attempt of this process could take this lease,
        # give it back when it found the delivery finished, and let another replica correct the
        # same chat at the same time.
        lease = Lease(self.store, delivery_lease_name(key), corrections_owner(self.deliverer.owner),
                      self.settings.lease_ttl)
        if not await lease.claim():
            return "busy"
        try:
            # Read again under the lease: another process may have corrected it meanwhile.
            recorded = await self.store.fingerprint(key)
            if not recorded:
                # Delivered before anything was recorded of it: what it shows is unknown, so it is
                # taken as it is now rather than corrected blindly.
                await self.store.swap_fingerprint(key, "", new.dumps())
                return "adopted"
            old = Fingerprint.loads(recorded)
            if self._settled(old, new):
                return "same"
            # A replica whose digest is a moment behind another's would otherwise edit the chat back
            # to what the other had just corrected, and the other forward again at its next sweep.
            if still_current is not None and not await still_current():
                return "stale"
            return await self._apply(key, target, old, recorded, new, payloads, renderer, lease)
        except (SendError, DeliveryAborted) as error:
            log.warning("correcting %s failed: %s", key, getattr(error, "reason", error))
            return "failed"
        finally:
            if not lease.lost:
                await self.store.release(lease.name, lease.owner)

    @staticmethod
    def _settled(old: Fingerprint, new: Fingerprint) -> bool:
        return (old.parts, dict(old.items)) == (new.parts, dict(new.items)) or old.noticed == new.version

    async def _apply(self, key: DeliveryKey, target: Target, old: Fingerprint, recorded: str, new: Fingerprint,
                     payloads: Sequence[Payload], renderer: Renderer, lease: Lease) -> str:
        chat = await self.store.resolve_chat(target.platform, target.chat)
        sent = (await self.store.ledger(key)).sent
        channel: object = self.deliverer.channels.get(target.platform)
        lines_up = (len(old.parts) == len(new.parts) and set(old.items) == set(new.items)
                    and all(sent.get(part, UNCONFIRMED_MESSAGE_ID) for part in range(len(new.parts))))
        if self.settings.corrections == "edit" and lines_up and isinstance(channel, Edits):
            await self._edit(key, chat, channel, old, recorded, new, payloads, sent, lease)
            return "edited"
        changed = old.changed_items(new)
        notice = text(self.language, "correction_notice", date=key.digest_date.isoformat(),
                      items=join_list(self.language, [str(n) for n in changed]) or "-")
        await self.deliverer.send_parts(target.platform, chat,
                                        apply_options(renderer, renderer.render_notice(notice), target.options))
        await self.store.swap_fingerprint(
            key, recorded, dataclasses.replace(old, noticed=new.version, corrections=old.corrections + 1).dumps())
        log.info("%s: the digest changed (items %s); posted a notice", key, changed)
        return "noticed"

    async def _edit(self, key: DeliveryKey, chat: str, channel: Edits, old: Fingerprint, recorded: str,
                    new: Fingerprint, payloads: Sequence[Payload], sent: Mapping[int, str], lease: Lease) -> None:
        """Edit each part whose rendering changed, recording each edit as it is made."""
        parts = list(old.parts)
        for part, (was, now) in enumerate(zip(old.parts, new.parts, strict=True)):
            if was == now:
                continue
            await self._edit_part(channel, chat, sent[part], payloads[part], lease.confirm)
            parts[part] = now
            step = dataclasses.replace(old, parts=tuple(parts)).dumps()
            if not await self.store.swap_fingerprint(key, recorded, step):
                raise abort(Kind.BUSY, "another process recorded a correction first")
            recorded = step
            log.info("%s: edited part %d/%d in place", key, part + 1, len(parts))
        await self.store.swap_fingerprint(key, recorded,
                                          dataclasses.replace(new, corrections=old.corrections + 1).dumps())

    async def _edit_part(self, channel: Edits, chat: str, message_id: str, payload: Payload, gate: Gate) -> None:
        """An edit repeated is harmless (the same content), so it is simply tried again after trouble."""
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                await channel.edit(chat, message_id, payload, gate)
                return
            except RateLimited as error:
                await asyncio.sleep(max(error.retry_after, 0.0))
            except (TransientError, MaybeSent):
                if attempt == self.settings.max_attempts:
                    raise
                await asyncio.sleep(min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (attempt - 1)))


class Sweep:
    """Looks over the deliveries finished within the corrections window and corrects those whose digest changed."""

    def __init__(self, corrector: Corrector, source: DigestSource, renderers: Mapping[str, Renderer],
                 prepared_of: Callable[[Target, Digest], Prepared]) -> None:
        self.corrector = corrector
        self.source = source
        self.renderers = renderers
        # The scheduler's, shared with its deliveries: channels alike get one fingerprint, made once.
        self.prepared_of = prepared_of

    async def run(self, locate: Locate, timezones: Iterable[ZoneInfo], now: dt.datetime) -> None:
        """Each finished delivery of the dates the window reaches, in any of `timezones`, to a channel
        still served: only those can need a correction, however many channels there are."""
        window = self.corrector.settings.corrections_window
        back = range(int(window // 86400) + 2)
        days = {now.astimezone(timezone).date() - dt.timedelta(days=n) for timezone in timezones for n in back}
        for day in sorted(days, reverse=True):
            try:
                names = await self.corrector.store.finished_deliveries(day)
            except StoreError as error:
                log.warning("cannot list the deliveries of %s for corrections: %s", day, error)
                continue
            for name in sorted(names):
                found = locate(name)
                # A channel looks back over the dates of its own time zone only.
                if found is None or (now.astimezone(found[1]).date() - day).days not in back:
                    continue
                try:
                    await self._one(DeliveryKey(day, name), found[0], now, window)
                except (DigestError, StoreError) as error:
                    log.warning("cannot check %s/%s for corrections: %s", day, name, error)

    async def _one(self, key: DeliveryKey, target: Target, now: dt.datetime, window: float) -> None:
        finished_at = (await self.corrector.store.delivery_history(key)).finished_at
        if finished_at is None or now.timestamp() - finished_at > window:
            return
        digest = await self.source.for_date(key.digest_date)
        if digest is None or digest.date != key.digest_date:
            return
        prepared = self.prepared_of(target, digest)
        if prepared.payloads:
            async def still_current() -> bool:
                return await self.source.current(key.digest_date) == digest

            done = await self.corrector.correct(key, target, prepared.shown, prepared.payloads,
                                                self.renderers[target.platform], prepared.fingerprint, still_current)
            if done not in ("same", "adopted", "stale"):
                log.info("correction of %s: %s", key, done, extra={"channel": target.name, "outcome": done})
