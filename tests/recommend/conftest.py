"""Real Beauty data, cut to a dense slice so that models train in seconds in tests."""

from __future__ import annotations

from collections import Counter

import pytest

from shopintent.datasets import amazon_seqrec
from shopintent.recommend.data import Split, leave_one_out
from shopintent.schema.records import InteractionSequence, Item


def dense_beauty(settings, n_items: int, n_users: int) -> tuple[Split, dict[str, Item]]:  # type: ignore[no-untyped-def]
    """Beauty restricted to its ``n_items`` most reviewed products, first ``n_users`` users with ≥ 5 left."""
    sequences = amazon_seqrec.read_sequences("Beauty", settings)
    counts = Counter(item for seq in sequences for item in seq.items)
    keep = {item for item, _ in counts.most_common(n_items)}
    dense = [InteractionSequence(s.user_id, tuple(i for i in s.items if i in keep)) for s in sequences]
    dense = [s for s in dense if len(s.items) >= 5][:n_users]
    return leave_one_out(dense), amazon_seqrec.read_items("Beauty", settings)


@pytest.fixture(scope="package")
def beauty_slice(session_settings):  # type: ignore[no-untyped-def]
    """1,000 most reviewed Beauty items, 3,000 users: (split, item attributes)."""
    return dense_beauty(session_settings, 1000, 3000)


@pytest.fixture(scope="package")
def taobao_events(session_settings):  # type: ignore[no-untyped-def]
    """The in-window Taobao events, loaded once for the package."""
    from shopintent.datasets import taobao_userbehavior_head

    return taobao_userbehavior_head.load(session_settings).events
