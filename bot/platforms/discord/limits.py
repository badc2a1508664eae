"""Discord's limits as data: what one webhook message may carry, how fast a webhook takes posts, bounds."""

from __future__ import annotations

from dataclasses import dataclass

from bot.ratelimit import RateLimits, Window, per_chat

PLATFORM = "discord"


@dataclass(frozen=True, slots=True)
class DiscordLimits:
    """What one webhook message may carry, in the units Discord counts.

    Discord's API measures strings with Python's len(): Unicode code points, so an emoji of two
    UTF-16 units is one, a flag of two code points is two. `max_embed_total` is summed over the
    title, description, field names and values, footer text and author name of every embed of one
    message (not per embed).
    """

    max_content: int = 2_000
    max_embeds: int = 10
    max_embed_total: int = 6_000
    max_title: int = 256
    max_description: int = 4_096
    max_fields: int = 25
    max_field_name: int = 256
    max_field_value: int = 1_024
    max_footer: int = 2_048
    max_author: int = 256
    # An embed's url and a masked link's target; a longer URL is written out as text (undocumented
    # bound; Discord refuses URLs far past this as invalid form body).
    max_url: int = 2_048

    def __post_init__(self) -> None:
        if self.max_content < 100 or self.max_description < 100 or self.max_title < 20:
            raise ValueError("Discord limits too small to render anything")
        if self.max_embed_total < self.max_title + 100 or self.max_embeds < 2:
            raise ValueError("a message needs room for two embeds, and one for a title and some text")


LIMITS = DiscordLimits()

# Message flags (bit values of the `flags` field).
SUPPRESS_EMBEDS = 1 << 2          # no link previews for links in `content`
EPHEMERAL = 1 << 6                # an interaction answer only the asker sees
SUPPRESS_NOTIFICATIONS = 1 << 12  # posted without a notification sound


class DiscordRateLimit(RateLimits):
    """Posting to one webhook, kept by the bot before Discord has to answer 429.

    Discord publishes no fixed numbers for webhooks and tells each bucket's state in X-RateLimit-*
    headers, which the sender follows too; these windows are what is seen in practice (5 requests
    per 2 s per webhook, 30 a minute into one channel), kept from the first request on. A webhook
    posts into one channel, so both windows are counted per webhook.
    """

    __slots__ = ()

    def __init__(self, per_webhook: int = 5, webhook_period: float = 2.0, per_channel: int = 30,
                 channel_period: float = 60.0) -> None:
        super().__init__((Window(per_webhook, webhook_period, per_chat), Window(per_channel, channel_period, per_chat)))


PACE = DiscordRateLimit()

# How long a webhook post may take to answer. Discord answers in well under a second; giving up
# sooner than this would turn a slow success into a message that may or may not be there.
REQUEST_TIMEOUT = 30.0
# Reaching Discord at all: past this nothing was sent, so a retry cannot duplicate anything.
CONNECT_TIMEOUT = 5.0
# A 429 without a usable retry_after is waited out this long.
DEFAULT_RETRY_AFTER = 1.0
# What a rate-limited answer may ask for at most before the bot stops believing it.
MAX_RETRY_AFTER = 3_600.0

# Interactions: Discord's own requests are a few KiB; this leaves room and refuses junk early.
MAX_INTERACTION_BYTES = 64 * 1024
# Discord drops an interaction not answered within 3 s; past this the bot defers and follows up.
INLINE_ANSWER_WAIT = 2.0
# A deferred answer's interaction token stays valid this long for follow-ups.
FOLLOWUP_WINDOW = 15 * 60.0
# A signature timestamp further than this from now is refused as stale (a replay).
SIGNATURE_WINDOW = 5 * 60

# Slash command registration: names and descriptions as Discord allows them.
MAX_COMMAND_NAME = 32
MAX_COMMAND_DESCRIPTION = 100
