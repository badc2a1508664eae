"""Events a platform delivers more than once (retries after a slow answer): each answered once."""

from __future__ import annotations

import logging

from bot.store.base import Store

log = logging.getLogger(__name__)


async def first_delivery(store: Store, platform: str, event_id: str, ttl: float, retry: object = None) -> bool:
    """Whether this is the first time `event_id` arrives within `ttl` seconds (the store remembers)."""
    try:
        first = await store.first_seen(f"{platform}:event:{event_id}", ttl)
    except Exception:
        # Answering twice beats not answering: the store is only a guard here.
        log.warning("%s: could not check event %s for a repeat", platform, event_id, exc_info=True)
        return True
    if not first:
        log.info("%s: event %s seen before (retry %s); not answered again", platform, event_id, retry)
    return first
