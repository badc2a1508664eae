"""One part to one chat: retries with backoff, rate-limit waits, migrations, and the resend-once rule."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping

from bot import metrics
from bot.delivery_settings import DeliverySettings
from bot.outcomes import DeliveryAborted, Kind, SendEvent, Sent, abort
from bot.platforms.base import (
    Channel,
    ChatGone,
    ChatMoved,
    Gate,
    MaybeSent,
    NotSent,
    RateLimited,
    RenderingDefect,
    SendError,
    TransientError,
    Unauthorized,
)
from bot.render import Payload
from bot.store.base import UNCONFIRMED_MESSAGE_ID, Store

# Part of delivery's story in the logs.
log = logging.getLogger("bot.delivery")

# Asked when a send timed out after going out: True lets the one resend happen.
MayResend = Callable[[], Awaitable[bool]]


def one_resend() -> MayResend:
    """The resend rule of a part the ledger does not track (a command reply): once, in this process."""
    granted = False

    async def may_resend() -> bool:
        nonlocal granted
        first, granted = not granted, True
        return first

    return may_resend


class PartSender:
    """Sends one part until it is out or cannot go: a 429 is waited out, a moved chat followed, a
    transient failure retried with jittered backoff, a timeout after sending resent once at most."""

    def __init__(self, store: Store, channels: Mapping[str, Channel], settings: DeliverySettings,
                 on_event: Callable[[SendEvent], None], stopping: asyncio.Event) -> None:
        self.store = store
        self.channels = channels
        self.settings = settings
        self._on_event = on_event
        self._stopping = stopping

    async def send(self, platform: str, chat: str, payload: Payload, may_resend: MayResend,
                                 gate: Gate | None = None) -> Sent:
        channel = self.channels.get(platform)
        if channel is None:
            raise abort(Kind.NOT_CONFIGURED, f"platform {platform} is not configured")
        failures = 0
        moves = 0
        while True:
            try:
                message_id = await channel.send(chat, payload, gate)
            except MaybeSent as error:
                if await self._resend_after_timeout(platform, chat, error, may_resend):
                    continue
                return Sent(UNCONFIRMED_MESSAGE_ID, chat, confirmed=False)
            except RateLimited as error:
                # Never dropped: the platform told us exactly how long to wait.
                self._on_event(SendEvent(platform, "rate_limited", error.reason))
                log.info("%s:%s rate limited, waiting %.1fs", platform, chat, error.retry_after)
                await self._pause(max(error.retry_after, 0.0))
                continue
            except ChatMoved as error:
                moves += 1
                if moves > 3:
                    raise abort(Kind.CHAT_MOVING, f"chat keeps moving: {error.reason}") from error
                await self.store.move_chat(platform, chat, error.new_chat)
                log.info("%s:%s moved to %s; resending there", platform, chat, error.new_chat)
                chat = error.new_chat
                continue
            except TransientError as error:
                failures += 1
                if failures >= self.settings.max_attempts:
                    self._on_event(SendEvent(platform, "failed", "transient"))
                    reason = f"gave up after {failures} attempts: {error.reason}"
                    raise abort(Kind.TRANSIENT, reason) from error
                self._on_event(SendEvent(platform, "retry", error.reason))
                await self._pause(self._backoff(failures))
                continue
            except SendError as error:
                raise await self._refused(platform, chat, error) from error
            self._on_event(SendEvent(platform, "sent"))
            return Sent(message_id, chat)

    async def _resend_after_timeout(self, platform: str, chat: str, error: MaybeSent,
                                    may_resend: MayResend) -> bool:
        """The request went out and no answer came: resend once, never a third time."""
        if await may_resend():
            action = "resent"
            log.warning("%s:%s: no answer after the request went out (%s); it may have arrived, resending "
                        "once", platform, chat, error.reason)
        else:
            action = "unconfirmed"
            log.warning("%s:%s: the resend got no answer either (%s); counted as sent, unconfirmed, and not "
                        "sent again", platform, chat, error.reason)
        self._on_event(SendEvent(platform, "maybe_sent", action))
        metrics.MAYBE_SENT.labels(platform=platform, action=action).inc()
        return action == "resent"

    async def _refused(self, platform: str, chat: str, error: SendError) -> DeliveryAborted:
        """The abort for a send the platform (or the gate) refused for good."""
        if isinstance(error, NotSent):
            # The lease moved on during a rate-limit wait (a stalled process): another owner
            # resends this part, so sending it here would put it out of order.
            return abort(Kind.BUSY, f"lease lost before sending: {error.reason}")
        if isinstance(error, ChatGone):
            await self.store.mark_inactive(platform, chat, error.reason)
            self._on_event(SendEvent(platform, "failed", "inactive"))
            log.warning("%s:%s is gone (%s); marked inactive", platform, chat, error.reason)
            return abort(Kind.GONE, error.reason)
        if isinstance(error, Unauthorized):
            self._on_event(SendEvent(platform, "failed", "unauthorized"))
            # A refused token, or a robot's signature or keyword check: the reason names the fix.
            log.error("%s refused the bot's credentials (%s): fix the config; no chat was marked inactive",
                      platform, error.reason)
            return abort(Kind.UNAUTHORIZED, f"{platform} refused the credentials: {error.reason}")
        if isinstance(error, RenderingDefect):
            self._on_event(SendEvent(platform, "failed", "rendering"))
            log.error("%s:%s refused a part as malformed (%s): a rendering defect", platform, chat,
                      error.reason)
            return abort(Kind.RENDERING_DEFECT, f"rendering defect: {error.reason}")
        # A SendError of a kind this module does not know: failed, and tried again later.
        self._on_event(SendEvent(platform, "failed", "transient"))
        log.error("%s:%s: %s: %s", platform, chat, type(error).__name__, error.reason)
        return abort(Kind.TRANSIENT, error.reason)

    async def _pause(self, seconds: float) -> None:
        """Wait before a resend, but not past shutdown: the part stays unsent and resumes later."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        if self._stopping.is_set():
            raise abort(Kind.STOPPED, "shutting down")

    def _backoff(self, failures: int) -> float:
        # Full jitter keeps replicas that failed together from retrying together.
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (failures - 1))
        return random.uniform(ceiling / 2, ceiling)
