"""Telegram's limits as data: what one sendMessage may carry, the flood limits, and the bot's timeouts."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from bot.ratelimit import RateLimits, Window, per_chat, whole_bot

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


def groups_only(chat: str) -> Hashable | None:
    # Negative ids are groups, supergroups and channels; "@name" is always a channel.
    return chat if chat.startswith(("-", "@")) else None


# Paid broadcasts (sendMessage with allow_paid_broadcast, for 0.1 Stars a message beyond the free
# 30 a second) raise the overall ceiling to this many messages a second; per-chat limits stay.
PAID_BROADCAST_PER_SECOND = 1_000


class TelegramRateLimits(RateLimits):
    """Telegram's flood limits: a message a second per chat, 20 a minute per group, 30 a second overall.

    Scaled, the overall limit allows more messages per second and the per-group and per-chat
    windows get shorter.
    """

    __slots__ = ()

    def __init__(self, overall_limit: int = 30, overall_period: float = 1.0, group_limit: int = 20,
                 group_period: float = 60.0, chat_limit: int = 1, chat_period: float = 1.0) -> None:
        super().__init__((
            Window(chat_limit, chat_period, per_chat),
            Window(group_limit, group_period, groups_only),
            Window(overall_limit, overall_period, whole_bot, throughput=True),
        ))

    @classmethod
    def broadcasting(cls, paid: bool) -> TelegramRateLimits:
        """The limits for a bot that pays for broadcasts (`telegram.paid_broadcast`), or one that does not."""
        return cls(overall_limit=PAID_BROADCAST_PER_SECOND) if paid else cls()

    @property
    def chat(self) -> Window:
        return self.windows[0]

    @property
    def group(self) -> Window:
        return self.windows[1]

    @property
    def overall(self) -> Window:
        return self.windows[2]

    @property
    def overall_limit(self) -> int:
        return self.overall.count

    @property
    def overall_period(self) -> float:
        return self.overall.per_seconds

    @property
    def group_limit(self) -> int:
        return self.group.count

    @property
    def group_period(self) -> float:
        return self.group.per_seconds

    @property
    def chat_limit(self) -> int:
        return self.chat.count

    @property
    def chat_period(self) -> float:
        return self.chat.per_seconds

    def overall_burst(self) -> int:
        """How many messages may leave together under the overall limit (see Window.burst)."""
        return self.overall.burst()


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
