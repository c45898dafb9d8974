"""drain_behind: the one way the writer, the effects stage and the batcher merge queued work."""

import queue

from shopintent.serve.drain import drain_behind

STOP = object()


def test_takes_what_waits_up_to_the_size_limit_without_blocking() -> None:
    waiting: queue.Queue[object] = queue.Queue()
    for n in (3, 4, 5):
        waiting.put(n)
    items, stopped = drain_behind(2, waiting, limit=9, size=lambda n: n, stop=STOP)
    assert items == [2, 3, 4] and not stopped  # 2 + 3 + 4 reaches 9: the 5 stays queued
    assert waiting.get_nowait() == 5
    assert drain_behind(1, waiting, limit=9, size=lambda n: n, stop=STOP) == ([1], False)


def test_a_stop_mid_drain_ends_the_group_and_is_reported() -> None:
    waiting: queue.Queue[object] = queue.Queue()
    for item in (1, STOP, 2):
        waiting.put(item)
    items, stopped = drain_behind(0, waiting, limit=100, size=lambda _: 1, stop=STOP)
    assert items == [0, 1] and stopped
    assert waiting.get_nowait() == 2  # nothing behind the stop is taken
