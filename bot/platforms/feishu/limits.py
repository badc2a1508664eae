"""Feishu/Lark's limits as data: request and card sizes in bytes as sent, a robot's pace, the app bot's bounds."""

from __future__ import annotations

from dataclasses import dataclass

from bot.platforms.webhook import JITTER_MARGIN, RobotPace
from bot.ratelimit import RateLimits, Window

PLATFORM = "feishu"


@dataclass(frozen=True, slots=True)
class FeishuLimits:
    """What one custom-bot request may carry, in bytes of UTF-8 JSON as sent (ensure_ascii=False).

    Feishu refuses a request body over 20 KB and an interactive card over 30 KB; the card is inside
    the body, so the body bound is the one that binds. Both are kept a little under the documented
    kibibytes, since Feishu does not say whether its "K" is 1000 or 1024.
    """

    max_body_bytes: int = 20_000
    max_card_bytes: int = 30_000
    # Room the send-time fields take (`"timestamp":"1700000000","sign":"<44 base64 chars>"` and commas).
    signature_bytes: int = 96
    # The header title is one line; a longer title is shortened with an ellipsis.
    max_title_chars: int = 100

    def __post_init__(self) -> None:
        if self.max_body_bytes < 2_000 or self.max_card_bytes < self.max_body_bytes // 2:
            raise ValueError("Feishu limits too small to render anything")

    @property
    def budget(self) -> int:
        """Bytes a rendered body may take, leaving room for the signature added at send time."""
        return min(self.max_body_bytes - self.signature_bytes, self.max_card_bytes)


LIMITS = FeishuLimits()

# 5 posts a second and 100 a minute per robot. A "too many request" answer gives no wait: the
# minute's window is what may be full, so one second is tried and the robot held until then. The
# second's allowance leaves one at a time, spread over the second (a throughput window).
PACE = RobotPace(RateLimits((Window(5, 1.0, throughput=True), Window(100, 60.0 + JITTER_MARGIN))),
                 refused_wait=1.0)

# Feishu's event callbacks are a few KB; this leaves room and refuses junk early.
MAX_EVENT_BYTES = 64 * 1024
# Feishu retries an unanswered event for hours; its event_id is remembered this long.
EVENT_DEDUPE_TTL = 12 * 3600.0
# A tenant_access_token lives two hours; it is renewed this long before it would expire.
TOKEN_REFRESH_MARGIN = 300.0
# How many times a reply part is tried through rate limits and server trouble before it is given up.
REPLY_ATTEMPTS = 5
