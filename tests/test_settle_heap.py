"""`digestbot run` freezes what start-up built, so full collections during a fan-out leave it alone."""

from __future__ import annotations

import gc

from bot.app import settle_heap


def test_start_up_objects_leave_the_collected_generations() -> None:
    kept = [[index] for index in range(1000)]
    try:
        settle_heap()
        # Everything alive now, these lists among them, is out of reach of every collection.
        assert gc.get_freeze_count() >= len(kept)
        oldest = {id(obj) for obj in gc.get_objects(generation=2)}
        assert not any(id(obj) in oldest for obj in kept)
        # What is made afterwards is collected as before.
        later: list[object] = []
        later.append(later)
        assert any(obj is later for obj in gc.get_objects(generation=0))
    finally:
        gc.unfreeze()
