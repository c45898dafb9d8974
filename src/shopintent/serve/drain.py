"""Take what is already waiting on a queue behind one item, up to a size, without blocking.

The event writer, the effects stage and the intent batcher all work the same way: block for
one item, then merge whatever else is queued (group commit, one scoring pass, one model
batch) so a burst costs one round instead of many. The stop sentinel may arrive mid-drain;
the caller finishes the group it holds and then stops.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any, TypeVar

Item = TypeVar("Item")


def drain_behind(first: Item, waiting: queue.Queue[Any], limit: int, size: Callable[[Item], int],
                 stop: object) -> tuple[list[Item], bool]:
    """``first`` plus the items queued behind it while their total ``size`` is under ``limit``.

    Returns the items and whether ``stop`` was taken off the queue (the caller stops after
    handling them). Never blocks: an empty queue ends the group.
    """
    items = [first]
    total = size(first)
    while total < limit:
        try:
            nxt = waiting.get_nowait()
        except queue.Empty:
            break
        if nxt is stop:
            return items, True
        items.append(nxt)
        total += size(nxt)
    return items, False
