"""What a robot platform's config section holds when it needs nothing but channels: its pace, and when to open it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.checking import Checker, PlatformSettings


@dataclass(frozen=True, slots=True, repr=False)
class RobotSettings(PlatformSettings):
    """A robot platform's section (`wecom:`, `dingtalk:`): each channel brings its own robot's webhook."""

    # Multiplies the per-robot pace the bot keeps.
    rate_limit_scale: float = 1.0

    @property
    def configured(self) -> bool:
        """Nothing is needed here to post: each channel brings its own robot's webhook."""
        return True

    def wanted(self, channels: int) -> bool:
        return channels > 0

    def summary(self) -> str:
        return "webhooks"


def check_robots(key: str) -> Callable[[Checker, object], RobotSettings]:
    """The check of a robot platform's section under `key`."""

    def check(check: Checker, raw: object) -> RobotSettings:
        section = check.section(raw, key, ("rate_limit_scale",))
        return RobotSettings(rate_limit_scale=check.scale(section, "rate_limit_scale", key))

    return check
