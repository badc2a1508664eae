"""Leases: a process's claim on a delivery or a chat, and the owner id that names the process."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
import uuid

from bot.store.base import DeliveryKey, Store

# Lease renewal problems are part of delivery's story: they log under its name.
log = logging.getLogger("bot.delivery")


def new_owner_id() -> str:
    """Names this process in leases: readable for operators, unique across restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def chat_lease_name(platform: str, chat: str) -> str:
    """The lease of one chat: one post at a time in it across processes. The chat is named by a digest:
    a webhook platform's chat is its URL, a credential, and lease names reach the store's keys and logs."""
    return f"chat:{platform}:{hashlib.blake2b(chat.encode(), digest_size=10).hexdigest()}"


def delivery_lease_name(key: DeliveryKey) -> str:
    """The lease a process holds while it sends one delivery (what `digestbot status` looks up)."""
    return f"lease:{key}"


class Lease:
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
            self.granted(started)
            return True
        return False

    def granted(self, started: float) -> None:
        """The store granted the lease in a call that began at `started` (monotonic): one that claimed it
        along with other work (Store.open_delivery, Store.plan_delivery)."""
        self._valid_until = started + self.ttl

    async def confirm(self) -> bool:
        if self.lost:
            return False
        if time.monotonic() < self._valid_until - self.ttl / 3:
            return True
        return await self.renew()

    async def renew(self) -> bool:
        """Extend the lease now; False (and lost) if it is no longer ours."""
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


class Keeper:
    """Renews a delivery's leases (its own, then its chat's) from one background task.

    One task per delivery rather than one per lease: at a platform's ceiling thousands of deliveries
    start a minute, and each task is an allocation and a timer the event loop carries.
    """

    def __init__(self, *leases: Lease) -> None:
        self.leases = list(leases)
        self._keeping = True
        self._task: asyncio.Task[None] | None = None

    def add(self, lease: Lease) -> None:
        self.leases.append(lease)

    def start(self) -> None:
        """Begin renewing; a delivery that ends at its opening (done already, chat gone) never does."""
        if self._task is None and self._keeping:
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self._keeping:
            await asyncio.sleep(min(lease.ttl for lease in self.leases) / 3)
            for lease in list(self.leases):
                if self._keeping and not lease.lost:
                    await lease.renew()

    async def stop(self) -> bool:
        """End the renewals and wait for the task; True if the caller itself was cancelled meanwhile.

        Cancelling the task alone is not enough: a cancel that lands while a renewal is inside the
        Redis client can be swallowed there (the client's own timeouts race with it on Python 3.11),
        and the task would renew forever while its holder waits for it to end; hence the flag too.
        A cancel of the caller must not be taken for the keeper's own and swallowed either: the
        caller gives its leases back and then raises it."""
        self._keeping = False
        if self._task is None:
            return False
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            return current is not None and current.cancelling() > 0
        return False

    def held(self) -> list[str]:
        """The names of the leases still ours, to give back."""
        return [lease.name for lease in self.leases if not lease.lost]
