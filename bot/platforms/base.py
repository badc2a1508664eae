"""What every platform package implements (Channel) and is handed (ReplySink), and the send errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from bot.render import Payload

Gate = Callable[[], Awaitable[bool]]


class SendError(Exception):
    """A message could not be sent; subclasses say what delivery should do about it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChatGone(SendError):
    """The chat will never accept messages again (blocked, kicked, archived, not found)."""


class ChatMoved(SendError):
    """The chat has a new id (Telegram group upgraded to supergroup); resend there."""

    def __init__(self, reason: str, new_chat: str) -> None:
        super().__init__(reason)
        self.new_chat = new_chat


class RateLimited(SendError):
    """The platform asked us to wait; the same part must be resent after `retry_after` seconds."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class TransientError(SendError):
    """Network trouble, timeouts, 5xx: retry with backoff. A timeout may mean it was delivered."""


class MaybeSent(SendError):
    """The request went out but no answer came before the read timeout: the platform may have
    posted it. Delivery resends such a part at most once and records that it did."""


class Unauthorized(SendError):
    """The platform refused the bot's own credentials: no chat is at fault, none is marked gone."""


class NotSent(SendError):
    """The caller's gate withdrew the part just before it went out (its delivery lease moved on)."""


class RenderingDefect(SendError):
    """The platform refused the payload as malformed or too long: a bug in a renderer, not retried."""


class Channel(Protocol):
    """Sends one already-rendered payload to one chat of one platform."""

    platform: str

    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        """Send and return the platform's message id, or raise a SendError subclass.

        `gate` is asked after any rate-limit wait, right before the request goes out; when it
        answers False the part is not sent and NotSent is raised.
        """
        ...


@runtime_checkable
class Edits(Protocol):
    """A channel that can replace what one of its messages says (a correction in place)."""

    async def edit(self, chat: str, message_id: str, payload: Payload, gate: Gate | None = None) -> None:
        """Make message `message_id` say what `payload` says, within the same limits as a send; raise a
        SendError subclass like send. Editing a message to what it already says succeeds."""
        ...


@runtime_checkable
class Threads(Protocol):
    """A channel that can post a part as a reply in the thread of one of its earlier messages."""

    def in_thread(self, payload: Payload, parent: str) -> Payload:
        """`payload` as a reply under the message whose id is `parent`."""
        ...


class ReplyFailed(Exception):
    """A command reply could not be posted (the chat is gone, retries ran out); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReplySink(Protocol):
    """Where a platform hands a multi-part command reply: posted in order, never inside a digest
    post to the same chat, within the same rate limits. Delivery implements it; platforms never
    import delivery."""

    async def send_parts(self, platform: str, chat: str, payloads: Sequence[Payload]) -> list[str]:
        """Post the parts in order and return their message ids; raises ReplyFailed."""
        ...
