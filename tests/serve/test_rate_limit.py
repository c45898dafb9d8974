"""The in-process sliding-window counter behind per-key rate limits."""

from __future__ import annotations

from limits import parse

from shopintent.serve.rate_limit import LocalSlidingWindow, RateLimiter


def test_the_sliding_window_lets_the_limit_through_then_weighs_the_previous_window() -> None:
    counter, item = LocalSlidingWindow(), parse("3/minute")
    start = 600.0  # the start of a one-minute window
    assert [counter.hit(item, "write", "k_a", start + t) for t in (1, 2, 3)] == [None] * 3
    assert counter.hit(item, "write", "k_a", start + 4) == 56  # seconds until the window ends
    assert counter.hit(item, "write", "k_b", start + 4) is None  # another key, its own count
    # Half-way through the next window the previous three weigh 1.5: one more fits, then 2.5 < 3 …
    assert counter.hit(item, "write", "k_a", start + 90) is None
    assert counter.hit(item, "write", "k_a", start + 90) is None
    assert counter.hit(item, "write", "k_a", start + 90) == 30  # … but 1.5 + 2 is over the limit
    # Two windows later nothing of the old counts is left.
    assert [counter.hit(item, "write", "k_a", start + 240) for _ in range(3)] == [None] * 3


def test_the_memory_limiter_counts_in_process_and_names_the_wait() -> None:
    limiter = RateLimiter({"read": (parse("2/second"),), "write": ()})
    assert limiter.hit("write", "k_a") is None  # no limit for the bucket
    waits = [limiter.hit("read", "k_a") for _ in range(3)]
    assert waits[:2] == [None, None] and waits[2] is not None and waits[2] >= 1.0
