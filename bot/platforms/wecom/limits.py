"""WeCom's limits as data: a group robot's markdown and text sizes in UTF-8 bytes, and its pace."""

from __future__ import annotations

from dataclasses import dataclass

from bot.platforms.webhook import JITTER_MARGIN, RobotPace
from bot.ratelimit import RateLimits, Window

PLATFORM = "wecom"


@dataclass(frozen=True, slots=True)
class WeComLimits:
    """What one group-robot message may carry, in bytes of UTF-8 (a Chinese character is 3).

    WeCom measures the `content` string itself, not the JSON around it: a markdown message over
    4,096 bytes is refused with errcode 40058, a text message over 2,048.
    """

    max_content_bytes: int = 4_096
    max_text_bytes: int = 2_048

    def __post_init__(self) -> None:
        if self.max_content_bytes < 512 or self.max_text_bytes < 256:
            raise ValueError("WeCom limits too small to render anything")


LIMITS = WeComLimits()

# 20 messages a minute per robot. Past that WeCom answers 45009 for the rest of its minute.
PACE = RobotPace(RateLimits((Window(20, 60.0 + JITTER_MARGIN),)), refused_wait=60.0)
