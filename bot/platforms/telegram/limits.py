"""Telegram's limits as data: what one sendMessage may carry, the flood limits, and the bot's timeouts."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace

from bot.ratelimit import LimiterChain, SlidingWindowLimiter

PLATFORM = "telegram"


@dataclass(frozen=True, slots=True)
class TelegramLimits:
    """What one sendMessage may carry, in the units Telegram counts.

    ``max_chars`` counts Unicode code points of the text after HTML parsing (tdlib's count).
    Entity payload is measured as the sum over entities of ``entity_overhead_bytes`` plus the UTF-8
    length of the link URL as Telegram stores it (a bare host gains a "/"); that bounds the
    serialized size the server checks ("entities too long", seen near 9,500 bytes) from above,
    with room to spare. ``max_link_url_bytes`` keeps one huge
    URL from eating a whole message's entity budget; longer URLs are shown as text instead.
    """

    max_chars: int = 4096
    max_entities: int = 100
    max_entity_bytes: int = 9000
    entity_overhead_bytes: int = 20
    max_html_bytes: int = 32 * 1024
    max_link_url_bytes: int = 2048


LIMITS = TelegramLimits()


@dataclass(frozen=True, slots=True)
class TelegramRateLimits:
    """Telegram's flood limits, kept by the bot before Telegram has to answer 429.

    `scaled(factor)` multiplies every rate by `factor` (for tests and benchmarks against a fake
    server that is sped up the same way): the overall limit allows more messages per second, the
    per-group and per-chat windows get shorter.
    """

    overall_limit: int = 30
    overall_period: float = 1.0
    group_limit: int = 20
    group_period: float = 60.0
    chat_limit: int = 1
    chat_period: float = 1.0

    def scaled(self, factor: float) -> TelegramRateLimits:
        if factor <= 0:
            raise ValueError("a rate limit scale factor must be positive")
        return replace(
            self,
            overall_limit=max(1, round(self.overall_limit * factor)),
            group_period=self.group_period / factor,
            chat_period=self.chat_period / factor,
        )

    def chain(self) -> LimiterChain:
        # Narrowest first: a message waiting for its own chat must not hold a slot of the global limit.
        def every_chat(chat: str) -> Hashable:
            return chat

        def groups_only(chat: str) -> Hashable | None:
            # Negative ids are groups, supergroups and channels; "@name" is always a channel.
            return chat if chat.startswith(("-", "@")) else None

        def everything(chat: str) -> Hashable:
            return "all"

        burst = self.overall_burst()
        return LimiterChain([
            (SlidingWindowLimiter(self.chat_limit, self.chat_period), every_chat),
            (SlidingWindowLimiter(self.group_limit, self.group_period), groups_only),
            (SlidingWindowLimiter(burst, self.overall_period * burst / self.overall_limit), everything),
        ])

    def overall_burst(self) -> int:
        """How many messages may leave together under the overall limit.

        A whole second's allowance sent at once reaches the server spread over the time it takes
        to carry and process it, and part of it is then counted in the next second, which is 429.
        So the overall limit is kept over windows a tenth as long with a tenth of the messages.
        The burst divides the limit exactly, so any full window still holds at most the limit.
        """
        target = max(1, self.overall_limit // 10)
        return max(size for size in range(1, target + 1) if self.overall_limit % size == 0)


# A Telegram update is a few KiB; anything near this is not from Telegram.
MAX_UPDATE_BYTES = 256 * 1024
# Telegram keeps redelivering an update the webhook did not acknowledge for up to a day.
UPDATE_DEDUPE_TTL = 24 * 3600.0
# How long sendMessage may take to answer. Telegram usually answers within a second but, loaded,
# sometimes takes tens of seconds and still posts the message; giving up sooner would turn a slow
# success into a possible duplicate. The delivery lease is kept alive meanwhile, so only shutdown
# (which cuts the part off, to be resumed) is in a hurry.
SEND_READ_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
POLL_TIMEOUT = 25.0
