"""One process of the shared-limit test: waits for a common start, then asks for many grants at once.

Run as `python -m tests.shared_limit_worker REDIS_URL PREFIX START_AT MESSAGES [throughput]`; prints one
JSON list of [chat, wall-clock time the grant returned] pairs. With `throughput` the overall window is
one of many messages a second, whose slots are granted ahead.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from bot.ratelimit import Window, per_chat, whole_bot
from bot.store.limiters import shared_limiters
from bot.store.redis import RedisStore

# Narrowest first, as every platform declares them: a chat's own pace, then the whole bot's.
WINDOWS = (Window(2, 0.4, per_chat), Window(5, 0.5, whole_bot))
# The chats together allow more than the overall window, so it is the one that binds.
THROUGHPUT_WINDOWS = (Window(5, 0.4, per_chat), Window(10, 0.5, whole_bot, throughput=True))
CHATS = ("a", "b", "c")


async def main(url: str, prefix: str, start_at: float, messages: int, throughput: bool) -> None:
    store = RedisStore(url, prefix=prefix)
    chain = shared_limiters(store).chain("SharedLimitTest", THROUGHPUT_WINDOWS if throughput else WINDOWS)
    granted: list[tuple[str, float]] = []

    async def send(chat: str) -> None:
        await chain.acquire(chat)
        granted.append((chat, time.time()))

    await store.ping()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    await asyncio.gather(*(send(CHATS[index % len(CHATS)]) for index in range(messages)))
    await store.close()
    print(json.dumps(granted))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5:] == ["throughput"]))
