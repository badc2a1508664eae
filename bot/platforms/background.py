"""Answers under way: the tasks a platform runs in the background, held until done, drained, or cut at stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


class Background:
    """Holds every task it spawns until the task is done, so that an answer posted in the background is
    neither garbage-collected half-way nor left running when the platform stops."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait until every task spawned so far (and any they spawn) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def finish(self, grace: float) -> None:
        """Let the tasks under way finish for up to `grace` seconds, then cancel what is left."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), grace)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
