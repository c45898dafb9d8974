"""Cold start from attributes, the new-shopper case, and the default recommender the service calls."""

from __future__ import annotations

from shopintent.recommend import Recommender, load_default_recommender, make_model
from shopintent.recommend.default import default_model_dir
from shopintent.recommend.evaluate import evaluate_scores
from shopintent.schema.records import InteractionSequence


def test_items_without_interactions_get_scores_from_their_attributes(beauty_slice) -> None:  # type: ignore[no-untyped-def]
    split, items = beauty_slice
    # Hide every training interaction of 100 items: they stay in the catalogue with attributes.
    hidden = set(split.catalogue[100:200])
    train = [InteractionSequence(s.user_id, tuple(i for i in s.items if i not in hidden)) for s in split.train]
    train = [s for s in train if s.items]
    content = make_model("content").fit(train, items=items, catalogue=split.catalogue)
    sknn = make_model("sknn").fit(train, items=items, catalogue=split.catalogue)
    cold_examples = [ex for ex in split.test if ex.target in hidden]
    assert len(cold_examples) > 100
    got = evaluate_scores(content.score, cold_examples, content.index_, ks=(50,)).metrics
    cf = evaluate_scores(sknn.score, cold_examples, sknn.index_, ks=(50,)).metrics
    # Random ranking would give HR@50 = 50 / 1000 = 0.05; kNN cannot see the hidden items at all.
    assert got["HR@50"] > 0.15
    assert cf["HR@50"] < 0.02
    assert content.cold_items_ >= 100


def test_a_new_shopper_with_two_events_gets_a_better_list_than_popularity(beauty_slice) -> None:  # type: ignore[no-untyped-def]
    split, items = beauty_slice
    short = [type(ex)(ex.user_id, ex.history[-2:], ex.target) for ex in split.test]
    pop = make_model("pop").fit(split.train, catalogue=split.catalogue)
    sknn = make_model("sknn").fit(split.train, catalogue=split.catalogue)
    base = evaluate_scores(pop.score, short, pop.index_, ks=(10,)).metrics["HR@10"]
    got = evaluate_scores(sknn.score, short, sknn.index_, ks=(10,)).metrics["HR@10"]
    assert got > 3 * base and got > 0.05


def test_default_recommender_trains_once_then_loads_from_state(settings) -> None:  # type: ignore[no-untyped-def]
    model = load_default_recommender(settings)
    assert (settings.state_dir / "recommend" / "default" / "model.json").is_file()
    history = [model.index_.ids[10], model.index_.ids[11]]
    recs = model.recommend(history, k=10)
    assert len(recs) == 10 and not set(history) & {i for i, _ in recs}
    assert model.metrics_["blend_valid_NDCG@10"] > max(model.metrics_["single_valid_NDCG@10"].values())
    assert load_default_recommender(settings) is model  # cached in the process
    from_disk = Recommender.load(default_model_dir(settings))
    assert [i for i, _ in from_disk.recommend(history, k=10)] == [i for i, _ in recs]
