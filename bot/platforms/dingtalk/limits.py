"""DingTalk's limits as data: a custom robot's body size in UTF-8 bytes as sent, and its pace."""

from __future__ import annotations

from dataclasses import dataclass

from bot.platforms.webhook import JITTER_MARGIN, RobotPace
from bot.ratelimit import RateLimits, Window

PLATFORM = "dingtalk"


@dataclass(frozen=True, slots=True)
class DingTalkLimits:
    """What one custom-robot request may carry, in bytes of UTF-8 JSON as sent (ensure_ascii=False)."""

    max_body_bytes: int = 20_000
    # The title shows in the notification and the chat list only; a longer one is shortened.
    max_title_chars: int = 64

    def __post_init__(self) -> None:
        if self.max_body_bytes < 2_000 or self.max_title_chars < 10:
            raise ValueError("DingTalk limits too small to render anything")


LIMITS = DingTalkLimits()

# 20 messages a minute per robot. Past that DingTalk answers 130101 and throttles the robot for ten
# minutes, every post in between refused too: the whole ten minutes is waited out.
PACE = RobotPace(RateLimits((Window(20, 60.0 + JITTER_MARGIN),)), refused_wait=600.0)

