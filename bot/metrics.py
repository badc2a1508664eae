"""The bot's Prometheus metrics (all named digestbot_…) and their text rendering for /metrics."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)

from bot import __version__

# One module-level registry rather than one per app: the counters describe the process (one bot per
# process), so every part can import and bump them without being handed a registry, and building
# the web app many times in tests registers nothing twice. It is not prometheus_client's global
# default registry, so libraries that register there cannot add non-digestbot_ series to /metrics
# and tests can read these values without interference. Tests compare before/after values
# instead of expecting zeros.
REGISTRY = CollectorRegistry(auto_describe=True)

# Labels take short fixed words only (platform names, error kinds, command names), never chat ids
# or free text: every distinct value is a new time series.

MESSAGES_SENT = Counter(
    "digestbot_messages_sent_total", "Messages (digest parts and replies) the platform accepted.",
    ["platform"], registry=REGISTRY,
)
MESSAGES_FAILED = Counter(
    "digestbot_messages_failed_total",
    "Messages given up on, by reason (chat_gone, rendering_defect, transient, ...).",
    ["platform", "reason"], registry=REGISTRY,
)
MAYBE_SENT = Counter(
    "digestbot_messages_maybe_sent_total",
    "Sends that got no answer after the request went out (the message may have arrived), by what followed: "
    "resent (once) or unconfirmed (the resend timed out too; counted as sent, never sent again).",
    ["platform", "action"], registry=REGISTRY,
)
RETRIES = Counter(
    "digestbot_send_retries_total", "Sends attempted again after a transient failure or a 429.",
    ["platform"], registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "digestbot_rate_limited_total", "HTTP 429 / retry-after answers received from a platform.",
    ["platform"], registry=REGISTRY,
)
SLOTS_GIVEN_UP = Counter(
    "digestbot_rate_limit_slots_given_up_total",
    "Slots granted ahead in a shared throughput window that this process woke too late to use (a stalled "
    "loop) and gave up, asking again, so late messages do not reach the platform bunched; by the limits "
    "kept (TelegramRateLimits, ...).",
    ["limits"], registry=REGISTRY,
)
DELIVERY_LAG = Histogram(
    "digestbot_delivery_lag_seconds",
    "Seconds between a delivery's scheduled time and its first part being sent.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400),
    registry=REGISTRY,
)
COMMANDS = Counter(
    "digestbot_commands_total", "Commands answered; unknown commands are counted as command=\"unknown\".",
    ["command", "platform"], registry=REGISTRY,
)
COMMANDS_THROTTLED = Counter(
    "digestbot_commands_throttled_total",
    "Commands not answered because their user or group sent too many: answer=notice (told once) or silent.",
    ["platform", "answer"], registry=REGISTRY,
)
COMMAND_LATENCY = Histogram(
    "digestbot_command_latency_seconds", "Seconds to work out a command's answer, by command.",
    ["command", "platform"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
DIGEST_LOAD_ERRORS = Counter(
    "digestbot_digest_load_errors_total", "Digests that could not be fetched or parsed.",
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "digestbot_deliveries_total",
    "Scheduled deliveries finished, by outcome (delivered, skipped, failed, no_digest, ...).",
    ["outcome"], registry=REGISTRY,
)
BUILD = Info("digestbot_build", "The running version.", registry=REGISTRY)
BUILD.info({"version": __version__})

# CPU, memory and open files of this process, under the same digestbot_ prefix as everything else.
ProcessCollector(namespace="digestbot", registry=REGISTRY)

# The classic text format every Prometheus server and scraper understands.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def render_metrics() -> tuple[bytes, str]:
    """The /metrics response: body in the Prometheus text format, and its Content-Type header value."""
    return generate_latest(REGISTRY), CONTENT_TYPE
