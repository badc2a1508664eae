"""Lease keepers end when their holder is done, even when a cancel is lost inside a renewal."""

from __future__ import annotations

import asyncio

from bot.leases import Keeper, Lease, chat_lease_name
from bot.store.memory import MemoryStore

# Only a guard against the hang this file is about; nothing here asserts how long anything takes.
HANG_GUARD = 10.0


class CancelSwallowingStore(MemoryStore):
    """A store whose renewal, once entered, answers only when cancelled, and then swallows the cancel:
    what a client racing a cancel against its own socket timeout can do."""

    def __init__(self) -> None:
        super().__init__()
        self.renewing = asyncio.Event()
        self.renewals = 0

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        self.renewals += 1
        self.renewing.set()
        try:
            await asyncio.get_running_loop().create_future()      # never answered
        except asyncio.CancelledError:
            pass
        return await super().renew(name, owner, ttl)


async def test_a_keeper_whose_cancel_is_swallowed_in_a_renewal_still_ends() -> None:
    store = CancelSwallowingStore()
    lease = Lease(store, "lease:2026-12-06/news", "here", ttl=0.03)
    assert await lease.claim()
    keeper = Keeper(lease)
    keeper.start()
    await asyncio.wait_for(store.renewing.wait(), HANG_GUARD)

    # Before the fix: renewed again, and again, forever.
    cancelled = await asyncio.wait_for(keeper.stop(), HANG_GUARD)

    assert not cancelled, "the holder itself was not cancelled"
    assert store.renewals == 1


async def test_a_kept_lease_is_renewed_until_it_is_stopped() -> None:
    store = MemoryStore()
    lease = Lease(store, "lease:2026-12-06/news", "here", ttl=0.03)
    assert await lease.claim()
    keeper = Keeper(lease)
    keeper.start()
    await asyncio.sleep(0.1)
    assert not lease.lost and keeper.held() == [lease.name]
    await asyncio.wait_for(keeper.stop(), HANG_GUARD)
    assert await store.claim("lease:2026-12-06/news", "here", 0.03), "still ours after being kept"


def test_a_chat_lease_names_the_chat_by_a_digest_never_by_its_webhook_url() -> None:
    url = "https://discord.com/api/webhooks/1234567890/SECRET-webhook-token_abcdef"
    name = chat_lease_name("discord", url)
    assert name.startswith("chat:discord:")
    assert "SECRET" not in name and "webhooks" not in name
    assert name == chat_lease_name("discord", url)
    assert name != chat_lease_name("discord", url + "x") != chat_lease_name("slack", url)
