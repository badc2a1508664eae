"""How a channel's scheduled posts are made beyond their rendering: silent, in a topic, in a thread."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PostOptions:
    """A channel's options; each platform's renderer module honours the ones it can with `apply_options`."""

    silent: bool = False            # no notification sound
    topic: str | None = None        # a forum topic (Telegram message_thread_id); None: the chat itself
    # The first part goes to the channel, the others as replies in its thread (Slack); applied by
    # delivery, which knows the first part's message id, also after a restart.
    thread: bool = False


PLAIN = PostOptions()

OptionsHook = Callable[[Payload, PostOptions], Payload]


def apply_options(renderer: object, payloads: Sequence[Payload], options: PostOptions) -> list[Payload]:
    """`payloads` as the channel's options make them: each through the renderer module's own
    `apply_options(payload, options)`; unchanged for plain options or a platform without that hook."""
    hook: OptionsHook | None = getattr(renderer, "apply_options", None)
    if options == PLAIN or hook is None:
        return list(payloads)
    return [hook(payload, options) for payload in payloads]
