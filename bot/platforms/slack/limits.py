"""Slack's limits as data: what a message may hold, how fast a channel takes posts, request bounds."""

from __future__ import annotations

from dataclasses import dataclass

from bot.ratelimit import RateLimits, Window, per_chat

# Room a context line may take beside the header (the date, or a shortened title and "(2/3)").
MAX_CONTEXT_TEXT = 600


@dataclass(frozen=True, slots=True)
class SlackLimits:
    """Slack's message limits, in code points of the text as sent (what Slack and slack-sdk count)."""

    max_blocks: int = 50
    # All block text of one message. Slack refuses somewhere near 12-13k (undocumented); split well before.
    max_block_text: int = 11_000
    max_section_text: int = 3_000
    max_header_text: int = 150
    max_context_elements: int = 10
    # The top-level notification text; Slack truncates past 40k, a notification needs far less.
    max_fallback_text: int = 4_000
    # A longer URL is written out as text: a link is one piece that no split may cut.
    max_link_url: int = 2_000
    # How much of the title later parts repeat beside their "(2/3)".
    max_part_title: int = 100

    def __post_init__(self) -> None:
        if self.max_section_text < 100 or self.max_header_text < 10 or self.max_fallback_text < 100:
            raise ValueError("Slack limits too small to render anything")
        if self.max_block_text < self.max_section_text + self.max_header_text + 2 * MAX_CONTEXT_TEXT:
            raise ValueError("max_block_text must hold a full section beside the header and a context line")
        if self.max_blocks < 4 or self.max_context_elements < 1:
            raise ValueError("a message needs room for a header, a context line and content")


LIMITS = SlackLimits()


class SlackRateLimit(RateLimits):
    """chat.postMessage pacing per channel: Slack allows about one message per second."""

    __slots__ = ()

    def __init__(self, per_channel: int = 1, period: float = 1.0) -> None:
        super().__init__((Window(per_channel, period, per_chat),))


PACE = SlackRateLimit()


# The notification text beside blocks when a part is re-split on the way out: the renderer's own bound.
FALLBACK_TEXT_LIMIT = LIMITS.max_fallback_text
# Slack accepts at most this many follow-ups on one response_url.
RESPONSE_URL_POSTS = 5
# Slash commands must be answered within 3 s; past this we ack and answer later.
INLINE_ANSWER_WAIT = 2.0
# How long an Events API event_id is remembered: Slack retries within minutes.
EVENT_DEDUPE_TTL = 3600.0
# Slack's own requests are a few KB; this leaves room and still refuses junk early.
MAX_REQUEST_BYTES = 64 * 1024
# Slack refuses to act on a signature older than five minutes, and so does the bot; checked from the
# headers, before the body is read.
SIGNATURE_WINDOW = 5 * 60
