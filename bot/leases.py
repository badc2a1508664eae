"""Leases: a process's claim on a delivery or a chat, and the owner id that names the process."""

from __future__ import annotations

import asyncio
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
        self._keeping = False

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
        """Renew every third of the TTL until the lease is lost or :meth:`stop_keeping` is called."""
        self._keeping = True
        while self._keeping and not self.lost:
            await asyncio.sleep(self.ttl / 3)
            if self._keeping:
                await self._renew()

    def stop_keeping(self) -> None:
        """End :meth:`keep` at its next step. Cancelling the keeper alone is not enough: a cancel that
        lands while a renewal is inside the Redis client can be swallowed there (the client's own
        timeouts race with it on Python 3.11), and the keeper would renew the lease forever while
        its holder waits for it to end."""
        self._keeping = False

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
