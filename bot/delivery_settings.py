"""The `delivery:` settings (leases, retries, the time of chat subscriptions, deliveries in flight) and their check."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from bot.checking import Checker
from bot.ratelimit import RateLimits, per_chat, whole_bot
from bot.schedule import DEFAULT_SCHEDULE

DELIVERY_KEYS = ("lease_ttl", "max_attempts", "backoff_base", "backoff_max", "subscription_schedule", "corrections",
                 "corrections_window", "in_flight")
# Deliveries one process has under way at once, at least, when the config names no number: plenty
# for a platform whose ceiling is tens of messages a second.
IN_FLIGHT_FLOOR = 64
# Roughly what one process sends a second once its CPU is what limits it: 627-659 measured on one
# core of a shared two-core machine (Telegram's client, a Redis store, paid broadcasts). Deliveries in
# flight beyond what keeps it that busy would only queue.
PROCESS_RATE = 600
_MAX_IN_FLIGHT = 100_000
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
    # Deliveries one process has under way at once; 0: sized from the platforms' ceilings (in_flight_for).
    in_flight: int = 0


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
        in_flight=check.integer(section, "in_flight", "delivery", defaults.in_flight, 1, _MAX_IN_FLIGHT),
    )
    if settings.backoff_max < settings.backoff_base:
        check.add("delivery.backoff_max", "must not be shorter than delivery.backoff_base")
    return settings


def in_flight_for(settings: DeliverySettings, ceilings: Iterable[RateLimits]) -> int:
    """How many deliveries one process has under way at once: `delivery.in_flight` when set, else
    enough for this process alone to send as fast as the highest of `ceilings` allows, or as it can
    (`deliveries_to_fill`), and never fewer than IN_FLIGHT_FLOOR.

    Sized for one process, whatever the number of replicas: each takes a delivery only when one of
    its own ends, so a replica with CPU to spare takes more of them, and none can know how many
    others there are.
    """
    if settings.in_flight:
        return settings.in_flight
    return max([IN_FLIGHT_FLOOR, *(deliveries_to_fill(limits) for limits in ceilings)])


def deliveries_to_fill(limits: RateLimits) -> int:
    """How many deliveries must be under way at once to send at the whole-bot ceiling of `limits`,
    or at PROCESS_RATE when that is lower, while each chat keeps its own pace; 0 without both windows.

    A delivery of several parts sends at its chat's pace (Telegram: a message a second), so it
    takes a rate times that period of them (Telegram's 30 a second: 30; paid broadcasts' 1,000, as
    much as one process sends: 600); one of a single part is done sooner and makes room for the next.
    """
    ceiling = max((window.count / window.per_seconds for window in limits.windows if window.scope is whole_bot),
                  default=0.0)
    pace = min((window.count / window.per_seconds for window in limits.windows if window.scope is per_chat),
               default=0.0)
    return math.ceil(min(ceiling, PROCESS_RATE) / pace) if ceiling and pace else 0
