"""The service's LightGBM-free event scorer answers as the fitted models on real Taobao prefixes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopintent.behaviour.event_models import EventIntentModel
from shopintent.behaviour.event_scoring import EventIntentScorer
from shopintent.behaviour.scorer import SessionScorer
from shopintent.inference.trees import TreeArrays, arrays_file

from .conftest import TEST_START


@pytest.fixture(scope="module")
def saved(taobao_sessions: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Purchase and next-action models fitted before the test day, saved, and the test day's prefixes."""
    starts = taobao_sessions.groupby("session_id")["timestamp"].min()
    train, test = set(starts[starts < TEST_START].index), set(starts[starts >= TEST_START].index)
    root = tmp_path_factory.mktemp("event-models")
    models = {}
    for task in ("purchase", "next-action"):
        model = EventIntentModel(task=task, utc_offset_hours=8, max_k=10, n_estimators=150)
        model.fit_table(model.prefix_table(taobao_sessions, label_end=TEST_START, sessions=train))
        model.save(root / task)
        models[task] = model
    table = models["purchase"].prefix_table(taobao_sessions, sessions=test)
    return models, root, table, test


def test_the_scorer_predicts_as_the_boosters_on_test_day_prefixes(saved) -> None:  # type: ignore[no-untyped-def]
    models, root, table, _ = saved
    X = table.X
    assert np.isnan(X.to_numpy(dtype=float)).any(), "real prefixes with missing features are compared"
    for task, model in models.items():
        scorer = EventIntentScorer.load(root / task)
        for label in model.labels:
            assert arrays_file(root / task / f"{label}.txt").is_file()
            assert isinstance(scorer.boosters_[label], TreeArrays)
            leaves = scorer.boosters_[label].predict(X.to_numpy(dtype=float), pred_leaf=True)
            assert (leaves == model.boosters_[label].predict(X, pred_leaf=True, num_threads=1)).all()
        assert np.max(np.abs(scorer.predict_proba(X) - model.predict_proba(X))) <= 1e-9
        assert scorer.thresholds_ == model.thresholds_ and scorer.utc_offset_hours == 8.0


def test_explanations_and_live_scores_are_the_same(saved, taobao_sessions) -> None:  # type: ignore[no-untyped-def]
    models, root, _, test = saved
    scorers = {task: EventIntentScorer.load(root / task) for task in models}
    fitted, loaded = models["purchase"].explainer(), scorers["purchase"].explainer()
    assert fitted.bias_ == loaded.bias_
    assert np.array_equal(fitted.leaf_contrib_, loaded.leaf_contrib_)
    events = taobao_sessions[taobao_sessions["session_id"].isin(sorted(test)[:60])].sort_values(
        ["session_id", "timestamp", "seq"])
    compared = 0
    for _, group in events.groupby("session_id", sort=False):
        by_model, by_scorer = SessionScorer(models), SessionScorer(scorers)
        for event in group.itertuples():
            update = {"event_type": event.event_type, "timestamp": event.timestamp,
                      "item_id": event.item_id, "category_id": event.category_id}
            a, b = by_model.update(update), by_scorer.update(update)
            assert [r.feature for r in a.reasons] == [r.feature for r in b.reasons]
            if a.purchase_probability is not None:
                assert abs(a.purchase_probability - b.purchase_probability) <= 1e-9
            for action, p in a.next_action.items():
                assert abs(p - b.next_action[action]) <= 1e-9
            compared += 1
    assert compared > 100


def test_a_folder_saved_before_the_numpy_form_gets_it_without_retraining(saved, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from shopintent.behaviour.default import add_tree_arrays
    from shopintent.persist import write_manifest

    models, root, table, _ = saved
    folder = tmp_path / "purchase"
    shutil.copytree(root / "purchase", folder)
    arrays_file(folder / "y_purchase.txt").unlink()
    write_manifest(folder)  # as an older save left it: model text only
    assert not isinstance(EventIntentScorer.load(folder).boosters_["y_purchase"], TreeArrays)  # LightGBM
    assert add_tree_arrays(folder, ("y_purchase",)) and not add_tree_arrays(folder, ("y_purchase",))
    scorer = EventIntentScorer.load(folder)  # the rewritten manifest verifies
    assert isinstance(scorer.boosters_["y_purchase"], TreeArrays)
    assert np.max(np.abs(scorer.predict_proba(table.X) - models["purchase"].predict_proba(table.X))) <= 1e-9
