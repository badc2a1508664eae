"""Reading the Redis delivery ledger: its hash and in-flight set, and the opening script's answer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bot.store.base import LedgerEntry, Opening, Plan

# OPEN_DELIVERY's last answer: what became of the plan.
_PLANS = (Plan.NOT_TRIED, Plan.PLANNED, Plan.CHAT_TAKEN)


def ledger_entry(fields: dict[str, str], in_flight: Iterable[str]) -> LedgerEntry:
    """A delivery's hash (`sent:N`, `maybe:N`, `total`, `finished`) and in-flight set as an entry."""
    entry = LedgerEntry()
    for name, value in fields.items():
        if name.startswith("sent:"):
            entry.sent[int(name.removeprefix("sent:"))] = value
        elif name.startswith("maybe:"):
            entry.maybe_sent.add(int(name.removeprefix("maybe:")))
    entry.in_flight = {int(part) for part in in_flight} - set(entry.sent)
    total = fields.get("total")
    entry.parts_total = int(total) if total is not None else None
    entry.finished = fields.get("finished") == "1"
    return entry


def opening(answer: Sequence[Any], chat: str) -> Opening:
    """OPEN_DELIVERY's answer (see its comment in redis_scripts) for a delivery to `chat`."""
    if not answer[0]:
        return Opening(False, LedgerEntry(), chat)
    flat = answer[1]
    entry = ledger_entry(dict(zip(flat[::2], flat[1::2], strict=True)), answer[2])
    if entry.finished:
        return Opening(True, entry, chat)
    return Opening(True, entry, str(answer[3]), str(answer[4]) or None, _PLANS[int(answer[5])])
