"""ServedHybrid ranks real Taobao histories as the saved Hybrid does (same arrays, same items)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shopintent.recommend import Recommender, leave_one_out, make_model
from shopintent.recommend.data import items_from_events, sequences_from_events
from shopintent.recommend.hybrid import Hybrid
from shopintent.recommend.serving import ServedHybrid


def test_served_hybrid_scores_and_recommends_as_the_hybrid(taobao_events, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sequences = sequences_from_events(taobao_events, by="session", gap_minutes=30.0)
    split = leave_one_out(sequences)
    items = items_from_events(taobao_events)
    parts = [make_model("sknn").fit(split.train, items=items, catalogue=split.catalogue),
             make_model("content").fit(split.train, items=items, catalogue=split.catalogue),
             make_model("pop", mode="recent").fit(split.train, items=items, catalogue=split.catalogue)]
    hybrid = Hybrid.from_fitted(parts, split.valid, blend_examples=300)
    path = hybrid.save(tmp_path / "hybrid")
    assert ServedHybrid.can_serve(path)
    served, loaded = ServedHybrid.load(path), Recommender.load(path)
    histories = [ex.history for ex in split.test[:300]] + [[], ["not-an-item"]]
    encoded = [hybrid.index_.encode(h) for h in histories]
    assert sum(len(h) > 1 for h in encoded) > 100
    # every component alone (whatever weight the blend gave it), then the blend
    for part, mine in zip(loaded.models_, served.models_, strict=True):
        theirs = part.score(encoded)
        ours = np.stack([mine.score_one(h) for h in encoded])
        ours[:, 0] = -np.inf
        assert np.array_equal(ours, theirs), type(part).__name__
    assert np.array_equal(served.score(encoded), hybrid.score(encoded))
    assert served.recommend_many(histories, k=20) == hybrid.recommend_many(histories, k=20)
    assert served.recommend(histories[0], k=5) == loaded.recommend(histories[0], k=5)
