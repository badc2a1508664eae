"""The `delivery:` settings (leases, retries, the time of chat subscriptions) and their check."""

from __future__ import annotations

from dataclasses import dataclass

from bot.checking import Checker
from bot.schedule import DEFAULT_SCHEDULE

DELIVERY_KEYS = ("lease_ttl", "max_attempts", "backoff_base", "backoff_max", "subscription_schedule", "corrections",
                 "corrections_window")
# What happens when a delivered digest changes: edit the parts in place (a notice when they no longer
# line up), always a notice, or nothing.
CORRECTIONS = ("edit", "notice", "off")
_MAX_ATTEMPTS = 100


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    lease_ttl: float = 60.0
    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    # When a chat's /subscribe names no time (HH:MM in the config's time zone).
    subscription_schedule: str = DEFAULT_SCHEDULE
    corrections: str = "edit"
    # How long after a delivery a change of the digest is still corrected in the chat.
    corrections_window: float = 24 * 3600.0


def check_delivery(check: Checker, raw: object) -> DeliverySettings:
    """The `delivery:` section, every problem added to `check`."""
    section = check.section(raw, "delivery", DELIVERY_KEYS)
    defaults = DeliverySettings()
    settings = DeliverySettings(
        lease_ttl=check.duration(section, "lease_ttl", "delivery", defaults.lease_ttl),
        max_attempts=check.integer(section, "max_attempts", "delivery", defaults.max_attempts, 1, _MAX_ATTEMPTS),
        backoff_base=check.duration(section, "backoff_base", "delivery", defaults.backoff_base),
        backoff_max=check.duration(section, "backoff_max", "delivery", defaults.backoff_max),
        subscription_schedule=check.daily_time(section, "subscription_schedule", "delivery",
                                               defaults.subscription_schedule),
        corrections=check.choice(section, "corrections", "delivery", defaults.corrections, CORRECTIONS),
        corrections_window=check.duration(section, "corrections_window", "delivery", defaults.corrections_window),
    )
    if settings.backoff_max < settings.backoff_base:
        check.add("delivery.backoff_max", "must not be shorter than delivery.backoff_base")
    return settings
