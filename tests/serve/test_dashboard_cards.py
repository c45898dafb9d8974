"""Model cards show the served model's own benchmark rows (by model id), never another model's.

Against the committed ``benchmarks/results/*.json``: each served configuration's id is built by
the same adapter function the service uses, from a real (unfitted) model of that configuration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shopintent.behaviour.event_models import TASKS, EventIntentModel
from shopintent.evaluation.results import BENCHMARKED, NO_ROW, benchmark_card
from shopintent.intervene import UpliftPolicy, load_default_engine
from shopintent.recommend.default import DEFAULT_COMPONENTS
from shopintent.recommend.hybrid import Hybrid
from shopintent.serve.adapters.base import ModelSlot
from shopintent.serve.adapters.behaviour import behaviour_model_id
from shopintent.serve.adapters.recommend import recommender_id
from shopintent.serve.adapters.text import intent_model_id
from shopintent.settings import Settings
from shopintent.text import IntentClassifier
from tests.serve.conftest import AUTH, REPO_ROOT, make_client

RESULTS = REPO_ROOT / "benchmarks" / "results"


def _measurements(area: str) -> dict[str, float]:
    record = json.loads((RESULTS / f"{area}.json").read_text(encoding="utf-8"))
    return {m["name"]: m["value"] for m in record["measurements"]}


def _served_ids(settings: Settings) -> dict[str, str]:
    """Each card's model id as the service builds it for its default model."""
    return {
        "text": intent_model_id(IntentClassifier(cache_dir=settings.state_dir)),
        "behaviour": behaviour_model_id({task: EventIntentModel(task=task) for task in TASKS}),
        "recommend": recommender_id(Hybrid(components=DEFAULT_COMPONENTS)),
        "intervene": f"intervene:{UpliftPolicy().version}",
    }


@pytest.mark.parametrize("model_id", sorted(BENCHMARKED))
def test_every_benchmarked_model_id_has_its_rows_in_the_committed_results(model_id: str) -> None:
    where = BENCHMARKED[model_id]
    card = benchmark_card(RESULTS, model_id)
    assert "missing" not in card, card
    values = {where.row_name(name): value for name, value in _measurements(where.area).items()}
    assert card["command"] == f"shopintent bench {where.area}"
    for row in card["measurements"]:
        assert values[row["name"]] == row["value"]
        assert row["detail"], "a card row names the split it was measured on"
        assert "validation" not in row["name"] and not row["name"].endswith("train time")
    assert len(card["measurements"]) == sum(1 for short in values if short is not None)


def test_recommend_card_says_no_row_for_the_served_hybrid_not_popularitys_hr10(settings: Settings) -> None:
    served = _served_ids(settings)["recommend"]
    assert served == "recommend:Hybrid(sknn+content+pop)@taobao-sessions"
    card = benchmark_card(RESULTS, served)
    assert card == {"model_id": served, "missing": NO_ROW}
    # the benchmark's five-model Taobao hybrid does have rows, and they are the hybrid's own
    five = benchmark_card(RESULTS, recommender_id(Hybrid(components=[
        ("pop", {}), ("sknn", {}), ("als", {}), ("content", {}), ("sasrec", {})])))
    hr10 = {r["name"]: r["value"] for r in five["measurements"]}["HR@10"]
    values = _measurements("recommend")
    assert hr10 == values["Taobao sessions · hybrid (blend learned on valid) · HR@10"]
    assert hr10 != values["Taobao sessions · popularity (global) · HR@10"]


def test_text_card_lists_the_linear_shop_intent_model_not_the_tfidf_baseline(settings: Settings) -> None:
    card = benchmark_card(RESULTS, _served_ids(settings)["text"])
    names = [r["name"] for r in card["measurements"]]
    assert names[:3] == ["in-scope accuracy", "OOS recall", "ECE"]
    values = _measurements("text")
    in_scope = card["measurements"][0]["value"]
    assert in_scope == values["shop-intent model, linear USE + TF-IDF: in-scope accuracy"]
    assert in_scope != values["CLINC150 in-scope accuracy — TF-IDF char n-grams + linear SVM (baseline)"]


def test_behaviour_card_holds_the_pooled_held_out_auc_of_each_label_not_each_prefix(settings: Settings) -> None:
    card = benchmark_card(RESULTS, _served_ids(settings)["behaviour"])
    names = [r["name"] for r in card["measurements"]]
    assert "y_purchase ROC-AUC (k ≤ 20)" in names and "y_abandon ROC-AUC (k ≤ 20)" in names
    assert not any("at k=" in n for n in names)
    assert len(names) == sum(len(labels) for labels in TASKS.values())


def test_an_unknown_or_unmeasured_model_gets_no_row_and_a_missing_file_says_which_bench_to_run(
        tmp_path: Path) -> None:
    assert benchmark_card(RESULTS, "intervene:uplift-learned")["missing"] == NO_ROW
    assert benchmark_card(RESULTS, None)["missing"] == NO_ROW
    missing = benchmark_card(tmp_path, "intervene:uplift-prior-1")["missing"]
    assert "shopintent bench intervene" in missing


def test_dashboard_json_carries_each_served_models_own_rows(settings: Settings) -> None:
    ids = _served_ids(settings)
    with make_client(settings, results_dir=RESULTS) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        for name in ("text", "behaviour", "recommend"):
            card: dict[str, Any] = {"version": name, "model_id": ids[name]}
            service.models[name] = ModelSlot(name, lambda card=card: (object(), card))
            assert service.models[name].load()
        engine = load_default_engine(settings)
        service.models["intervene"] = ModelSlot("intervene", lambda: (engine, {
            "version": engine.policy.version, "model_id": ids["intervene"], "daily_budget": 500.0}))
        assert service.models["intervene"].load()
        models = {m["name"]: m for m in client.get("/v1/dashboard", headers=AUTH).json()["models"]}
    assert models["recommend"]["benchmark"]["missing"] == NO_ROW
    text = models["text"]["benchmark"]
    assert text["command"] == "shopintent bench text"
    assert text["measurements"][0]["detail"].startswith("Bitext test + CLINC mapped/non-shop/oos test")
    latency = {r["name"]: r["value"] for r in models["intervene"]["benchmark"]["measurements"]}
    assert latency["latency p50 (wall)"] == _measurements("intervene")["decision latency p50 (wall)"]
    assert models["behaviour"]["benchmark"]["model_id"] == ids["behaviour"]
