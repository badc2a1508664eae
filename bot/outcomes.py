"""What a delivery can come to: where it goes, its outcome and exact kind, and per-call send events."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.platforms.base import ReplyFailed
from bot.render.options import PLAIN, PostOptions


@dataclass(frozen=True, slots=True)
class Target:
    """Where a delivery goes: the channel's stable name (the ledger key) and its platform chat."""

    name: str
    platform: str
    chat: str
    # Only the items of these categories (canonical names) go there; empty: the whole digest.
    categories: tuple[str, ...] = ()
    options: PostOptions = PLAIN


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"      # every part is out, some of them by this call
    ALREADY = "already"          # the ledger says it was complete before this call
    INACTIVE = "inactive"        # the chat is gone (now or before); nothing more goes there
    FAILED = "failed"            # retries exhausted or a rendering defect; the ledger keeps what was sent
    BUSY = "busy"                # another process holds the lease, or took it over midway
    STOPPED = "stopped"          # shutdown asked us to stop between parts
    EMPTY = "empty"              # the channel's categories matched no item that day: nothing to post


class Kind(enum.StrEnum):
    """What exactly happened: the scheduler decides retries by kind, never from the reason's text."""

    DELIVERED = "delivered"              # every part is out and confirmed by the platform
    MAYBE_SENT = "maybe_sent"            # every part is out; some timed out after going out (see the result)
    ALREADY = "already"
    GONE = "gone"                        # the chat is inactive, now or before
    UNAUTHORIZED = "unauthorized"        # the platform refused the bot's token
    RENDERING_DEFECT = "rendering_defect"
    TRANSIENT = "transient"              # network trouble or 5xx beyond max_attempts
    NOT_CONFIGURED = "not_configured"    # no channel for the platform in this process
    CHAT_MOVING = "chat_moving"          # the chat moved more often than a migration does
    BUSY = "busy"
    STOPPED = "stopped"
    EMPTY = "empty"


OUTCOME_OF_KIND: Mapping[Kind, Outcome] = {
    Kind.DELIVERED: Outcome.DELIVERED,
    Kind.MAYBE_SENT: Outcome.DELIVERED,
    Kind.ALREADY: Outcome.ALREADY,
    Kind.GONE: Outcome.INACTIVE,
    Kind.UNAUTHORIZED: Outcome.FAILED,
    Kind.RENDERING_DEFECT: Outcome.FAILED,
    Kind.TRANSIENT: Outcome.FAILED,
    Kind.NOT_CONFIGURED: Outcome.FAILED,
    Kind.CHAT_MOVING: Outcome.FAILED,
    Kind.BUSY: Outcome.BUSY,
    Kind.STOPPED: Outcome.STOPPED,
    Kind.EMPTY: Outcome.EMPTY,
}
# The kind of an abort raised with an outcome alone (by a caller that knows no more): a failure of
# no stated kind is retried like network trouble.
_KIND_OF_OUTCOME: Mapping[Outcome, Kind] = {
    Outcome.DELIVERED: Kind.DELIVERED,
    Outcome.ALREADY: Kind.ALREADY,
    Outcome.INACTIVE: Kind.GONE,
    Outcome.FAILED: Kind.TRANSIENT,
    Outcome.BUSY: Kind.BUSY,
    Outcome.STOPPED: Kind.STOPPED,
    Outcome.EMPTY: Kind.EMPTY,
}


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    target: Target
    kind: Kind
    parts_total: int
    parts_sent: int              # parts sent by this call
    chat: str                    # the chat id after any migration
    reason: str = ""             # for people; decisions use `kind`
    # Parts (0-based) whose send timed out after the request went out, in this call or a previous
    # owner's: each was resent at most once, so it may show twice in the chat.
    maybe_sent: tuple[int, ...] = ()
    # Of those, the parts no answer ever confirmed (the resend timed out too): counted as sent.
    unconfirmed: tuple[int, ...] = ()

    @property
    def outcome(self) -> Outcome:
        return OUTCOME_OF_KIND[self.kind]

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.DELIVERED, Outcome.ALREADY, Outcome.EMPTY)


def timeout_note(maybe_sent: Sequence[int], unconfirmed: Sequence[int], total: int) -> str:
    """The reason of a delivery whose parts timed out, numbered from 1 like the (k/n) markers."""
    resent = [part for part in maybe_sent if part not in unconfirmed]
    notes = []
    if resent:
        notes.append(f"{_parts(resent, total)} timed out after going out and resent once (may show twice)")
    if unconfirmed:
        notes.append(f"{_parts(unconfirmed, total)} unconfirmed: the resend timed out too")
    return "; ".join(notes)


def _parts(parts: Sequence[int], total: int) -> str:
    return ("part " if len(parts) == 1 else "parts ") + ", ".join(f"{part + 1}/{total}" for part in parts)


class DeliveryAborted(ReplyFailed):
    """Sending to a chat stopped for good (gone, defect, retries exhausted); `kind` says exactly why.

    Callers that only know the coarse outcome may leave `kind` out; it then follows the outcome.
    """

    def __init__(self, outcome: Outcome, reason: str, kind: Kind | None = None) -> None:
        super().__init__(reason)
        self.kind = kind if kind is not None else _KIND_OF_OUTCOME[outcome]
        self.outcome = OUTCOME_OF_KIND[self.kind]


def abort(kind: Kind, reason: str) -> DeliveryAborted:
    """The abort for `kind`, with its outcome."""
    return DeliveryAborted(OUTCOME_OF_KIND[kind], reason, kind)


@dataclass(frozen=True, slots=True)
class SendEvent:
    """What happened to one API call, for metrics and logs."""

    platform: str
    kind: str        # sent | retry | rate_limited | failed | maybe_sent (reason: resent | unconfirmed)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: str
    chat: str
    confirmed: bool = True       # False: no answer ever came; counted as sent without a message id


@dataclass(slots=True)
class Tally:
    """What one delivery did so far, for its result."""

    sent: int = 0
    maybe_sent: list[int] = field(default_factory=list)
    unconfirmed: list[int] = field(default_factory=list)

    def add(self, part: int, sent: Sent) -> None:
        self.sent += 1
        if not sent.confirmed:
            self.unconfirmed.append(part)

    def timed_out(self, part: int) -> None:
        if part not in self.maybe_sent:
            self.maybe_sent.append(part)
