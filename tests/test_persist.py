"""Safe model files: one format in every area, a SHA-256 manifest checked on load, no pickle anywhere.

One small model per area is fitted on a slice of real data (CLINC150, UCI
Online Shoppers, Taobao sessions, a decision log replayed over Taobao
events), saved once, and copied before each tampering.
"""

from __future__ import annotations

import pickle
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shopintent import persist
from shopintent.persist import LegacyModelError, ModelFileError
from shopintent.settings import Settings

SRC = Path(__file__).resolve().parents[1] / "src" / "shopintent"


@dataclass
class Saved:
    """A saved model of one area and how to load it and predict with it."""

    directory: Path
    load: Callable[[Path], Any]
    predict: Callable[[Any], np.ndarray]
    predictions: np.ndarray  # of the model before it was saved
    weight_file: str
    retrain: str


def _text(settings: Settings, root: Path) -> Saved:
    from shopintent.text import recipes
    from shopintent.text.ensemble import load_text_classifier
    from shopintent.text.intent import IntentClassifier

    splits = recipes.clinc_splits(settings)
    keep = set(sorted(set(splits["train"].labels))[:12])
    train = [(t, lab) for t, lab in zip(splits["train"].texts, splits["train"].labels, strict=True)
             if lab in keep]
    test = [t for t, lab in zip(splits["test"].texts, splits["test"].labels, strict=True) if lab in keep]
    model = IntentClassifier(encoders=(), random_state=0).fit([t for t, _ in train], [lab for _, lab in train])
    directory = model.save(root / "text")

    def predict(m: Any) -> np.ndarray:
        return m.predict_proba(test[:200])

    return Saved(directory, lambda d: load_text_classifier(d), predict, predict(model),
                 "head.safetensors", "shopintent intent train")


def _behaviour(settings: Settings, root: Path) -> Saved:
    from shopintent.behaviour.session_purchase import SessionPurchaseModel
    from shopintent.behaviour.uci import uci_features
    from shopintent.datasets import uci_online_shoppers

    X, y = uci_features(uci_online_shoppers.load(settings), page_values=False)
    model = SessionPurchaseModel(kind="logistic").fit(X.iloc[:2000], y[:2000])
    directory = model.save(root / "behaviour")

    def predict(m: Any) -> np.ndarray:
        return m.predict_proba(X.iloc[2000:3000])

    return Saved(directory, SessionPurchaseModel.load, predict, predict(model),
                 "network.safetensors", "shopintent behaviour train")


def _recommend(settings: Settings, root: Path, events: Any) -> Saved:
    from shopintent.recommend import Recommender
    from shopintent.recommend.data import items_from_events, sequences_from_events
    from shopintent.recommend.workflow import train_sequences

    part = events.iloc[:15_000]
    sequences = sequences_from_events(part, by="session")
    model = train_sequences(sequences, "hybrid", root / "recommend", items_from_events(part),
                            {"components": [["sknn", {}], ["pop", {}]], "blend_examples": 300})
    histories = [model.index_.encode(list(s.items[:-1])) for s in sequences[:200]]

    def predict(m: Any) -> np.ndarray:
        return m.score(histories)

    # a component's weights: the hybrid's manifest covers its sub-directories too
    return Saved(root / "recommend", Recommender.load, predict, predict(model),
                 "component_0_sknn/weights.safetensors", "shopintent recommend train")


def _intervene(root: Path, events: Any) -> Saved:
    from shopintent.intervene import DecisionContext, DecisionEngine, UpliftPolicy, read_decisions
    from shopintent.intervene.actions import DEFAULT_ACTIONS
    from shopintent.intervene.replay import replay_events

    engine = DecisionEngine(policy=UpliftPolicy(epsilon=1.0), log_path=root / "log.jsonl", random_state=0)
    replay_events(events.iloc[:15_000], engine)
    engine.close()
    policy = UpliftPolicy(min_rows=20).fit(read_decisions(root / "log.jsonl"))
    assert "nothing" in policy.coef_  # learned, not the prior
    directory = policy.save(root / "intervene", data_checksum="replayed-taobao-head")
    contexts = [DecisionContext(user_id=f"u{i}", session_id=f"s{i}", purchase_probability=p,
                                abandonment_risk=1 - p, cart_value=50.0 * (i % 4))
                for i, p in enumerate(np.linspace(0.01, 0.99, 25))]

    def predict(m: Any) -> np.ndarray:
        return np.array([m.probabilities(c, DEFAULT_ACTIONS) for c in contexts])

    return Saved(directory, UpliftPolicy.load, predict, predict(policy), "model.json",
                 "UpliftPolicy().fit(read_decisions(")


AREAS = ("text", "behaviour", "recommend", "intervene")


@pytest.fixture(scope="module")
def saved_models(session_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Saved]:
    from shopintent.datasets import taobao_userbehavior_head

    root = tmp_path_factory.mktemp("saved")
    events = taobao_userbehavior_head.load(session_settings).events
    return {
        "text": _text(session_settings, root),
        "behaviour": _behaviour(session_settings, root),
        "recommend": _recommend(session_settings, root, events),
        "intervene": _intervene(root, events),
    }


@pytest.fixture(params=AREAS)
def saved(request: pytest.FixtureRequest, saved_models: dict[str, Saved], tmp_path: Path) -> Saved:
    """One area's saved model, copied so that a test may tamper with it."""
    original = saved_models[request.param]
    copy = tmp_path / "model"
    shutil.copytree(original.directory, copy)
    return Saved(copy, original.load, original.predict, original.predictions,
                 original.weight_file, original.retrain)


class _TouchOnLoad:
    """Unpickling this creates ``marker``: proof that a file was (or was never) unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def _evil_pickle(marker: Path) -> bytes:
    return pickle.dumps(_TouchOnLoad(marker))


def _refusal(saved: Saved) -> str:
    with pytest.raises(ModelFileError) as caught:
        saved.load(saved.directory)
    message = str(caught.value)
    assert str(saved.directory) in message
    assert f"re-train with `{saved.retrain}" in message
    return message


# -- the format, per area ------------------------------------------------------------------------
def test_save_then_load_gives_identical_predictions(saved: Saved) -> None:
    loaded = saved.load(saved.directory)
    np.testing.assert_array_equal(saved.predict(loaded), saved.predictions)


def test_the_one_loader_reads_every_area_by_the_kind_in_model_json(saved: Saved) -> None:
    from shopintent.estimators import load_model

    loaded = load_model(saved.directory)
    np.testing.assert_array_equal(saved.predict(loaded), saved.predictions)


def test_the_one_loader_refuses_a_kind_no_estimator_loads_and_still_verifies_the_manifest(
    saved: Saved,
) -> None:
    from shopintent.estimators import load_model

    meta_file = saved.directory / "model.json"
    original = meta_file.read_text(encoding="utf-8")
    meta_file.write_text(re.sub(r'"kind": "[^"]+"', '"kind": "toaster"', original, count=1), encoding="utf-8")
    with pytest.raises(ModelFileError, match="holds a 'toaster' model, which no estimator loads"):
        load_model(saved.directory)
    meta_file.write_text(original.replace('"format_version"', '"format_version" ', 1), encoding="utf-8")
    with pytest.raises(ModelFileError, match="model.json: changed since it was saved"):
        load_model(saved.directory)


def test_the_manifest_lists_every_file_with_its_sha256_and_only_safe_formats(saved: Saved) -> None:
    import hashlib

    manifest = persist.read_json(saved.directory / "manifest.json")
    on_disk = {p.relative_to(saved.directory).as_posix() for p in saved.directory.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {"manifest.json"}
    for name, entry in manifest["files"].items():
        data = (saved.directory / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        assert name.endswith((".json", ".safetensors", ".txt", ".onnx")), name
    meta = persist.read_json(saved.directory / "model.json")
    assert {"kind", "format_version", "shopintent_version", "parameters"} <= set(meta)


def test_a_flipped_byte_in_a_weight_file_is_refused(saved: Saved) -> None:
    target = saved.directory / saved.weight_file
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    message = _refusal(saved)
    assert f"{saved.weight_file}: changed since it was saved" in message


def test_a_foreign_pickle_beside_the_weights_is_refused_and_never_unpickled(
    saved: Saved, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    (saved.directory / "model.pkl").write_bytes(_evil_pickle(marker))
    message = _refusal(saved)
    assert ("model.pkl: not listed in manifest.json (added after the model was saved; "
            "a pickle-based file, never loaded); remove it, re-train with `") in message
    assert not marker.exists()


def test_a_removed_file_is_refused(saved: Saved) -> None:
    (saved.directory / saved.weight_file).unlink()
    assert f"{saved.weight_file}: listed in manifest.json but missing" in _refusal(saved)


# -- older saves ---------------------------------------------------------------------------------
def _old_save(directory: Path, meta: dict[str, Any], files: dict[str, bytes]) -> Path:
    """A directory as an older shopintent wrote it: ``model.json`` and files, no manifest."""
    directory.mkdir(parents=True)
    persist.write_json(directory / "model.json", meta)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


def test_an_old_pickle_based_save_gets_a_retrain_message_and_is_never_unpickled(tmp_path: Path) -> None:
    from shopintent.behaviour.session_purchase import SessionPurchaseModel
    from shopintent.recommend import Recommender
    from shopintent.text.tagger import SlotTagger

    marker = tmp_path / "unpickled"
    cases = [
        (SessionPurchaseModel.load, {"format_version": 1, "kind": "session_purchase"}, "pipeline.joblib",
         "shopintent behaviour train"),
        (SlotTagger.load, {"kind": "SlotTagger", "format_version": 1}, "weights.pt",
         "shopintent intent train-defaults"),
        (Recommender.load, {"kind": "sasrec", "format_version": 1}, "network.pt", "shopintent recommend train"),
    ]
    for i, (load, meta, name, retrain) in enumerate(cases):
        old = _old_save(tmp_path / f"old{i}", {**meta, "parameters": {}}, {name: _evil_pickle(marker)})
        with pytest.raises(LegacyModelError) as caught:
            load(old)
        assert str(caught.value) == (f"{old}/{name}: saved by an older shopintent in a pickle-based format "
                                     f"that is never loaded; re-train with `{retrain}`")
    assert not marker.exists()


def test_an_old_layout_gets_a_retrain_message(tmp_path: Path) -> None:
    from shopintent.recommend import Recommender

    old = _old_save(tmp_path / "pop", {"kind": "pop", "format_version": 1, "parameters": {}},
                    {"items.json": b"[]", "popularity.npy": b"\x93NUMPY"})
    with pytest.raises(LegacyModelError, match=r"format version 1 .*this shopintent reads version 2; "
                                               r"re-train with `shopintent recommend train`"):
        Recommender.load(old)


def test_an_old_save_of_safe_files_still_loads(saved_models: dict[str, Saved], tmp_path: Path) -> None:
    from shopintent.intervene import UpliftPolicy

    # exactly what UpliftPolicy.save wrote before manifests: JSON only, "model" instead of "kind"
    current = persist.read_json(saved_models["intervene"].directory / "model.json")
    payload = {"model": "UpliftPolicy", "shopintent_version": "0.1.0", "version": current["version"],
               "parameters": current["parameters"], "feature_names": current["feature_names"],
               "coef": current["coef"], "reward_scale": current["reward_scale"],
               "data_checksum": "", "metrics": {}}
    old = _old_save(tmp_path / "policy", payload, {})
    policy = UpliftPolicy.load(old)
    saved = saved_models["intervene"]
    np.testing.assert_array_equal(saved.predict(policy), saved.predictions)


# -- the cached default models ------------------------------------------------------------------
def test_default_models_in_an_old_format_are_retrained_not_fatal(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from shopintent.behaviour import default as behaviour_default
    from shopintent.intervene import UpliftPolicy, load_default_engine
    from shopintent.recommend import default as recommend_default
    from shopintent.text import defaults as text_defaults

    marker = tmp_path / "unpickled"
    # behaviour: an older cache (LightGBM text, no manifest) is removed and trained again
    old = _old_save(behaviour_default.default_model_dir(settings) / "purchase",
                    {"format_version": 1, "kind": "event_intent", "parameters": {}}, {"purchase.txt": b"tree"})
    retrained = {"purchase": "new"}
    monkeypatch.setattr(behaviour_default, "train_default_models", lambda s: retrained)
    assert behaviour_default.load_default_models(settings) is retrained
    assert not old.exists()
    # recommend: an old cache is not used (the caller trains a new one)
    old = _old_save(recommend_default.default_model_dir(settings),
                    {"kind": "hybrid", "format_version": 1, "parameters": {}}, {"weights.json": b"[1.0]"})
    assert recommend_default._load_cached(old, "any checksum") is None
    # text: an old tagger is not loaded (and, without training allowed, simply absent)
    _old_save(text_defaults.model_path(settings, "ner_zh"), {"kind": "SlotTagger", "format_version": 1,
              "parameters": {}}, {"weights.pt": _evil_pickle(marker)})
    assert text_defaults.ensure_model(settings, "ner_zh", train_missing=False) is None
    # intervene: a policy folder holding a pickle leaves the engine on its prior policy
    _old_save(settings.state_dir / "intervene" / "policy", {"model": "UpliftPolicy", "parameters": {}},
              {"policy.pkl": _evil_pickle(marker)})
    engine = load_default_engine(settings, random_state=0)
    assert engine.policy.version == UpliftPolicy().version
    engine.close()
    assert not marker.exists()


def test_a_changed_default_model_is_refused_not_retrained(
    settings: Settings, saved_models: dict[str, Saved]
) -> None:
    from shopintent.intervene import load_default_engine

    policy_dir = settings.state_dir / "intervene" / "policy"
    shutil.copytree(saved_models["intervene"].directory, policy_dir)
    meta = policy_dir / "model.json"
    meta.write_text(meta.read_text().replace('"epsilon": 0.1', '"epsilon": 1.0'))
    with pytest.raises(ModelFileError, match="model.json: changed since it was saved"):
        load_default_engine(settings)


# -- writing -------------------------------------------------------------------------------------
def test_saving_again_replaces_the_previous_save_and_keeps_nothing_stale(
    saved_models: dict[str, Saved], tmp_path: Path
) -> None:
    from shopintent.behaviour.session_purchase import SessionPurchaseModel

    target = tmp_path / "m"
    shutil.copytree(saved_models["behaviour"].directory, target)
    logistic = SessionPurchaseModel.load(target)
    logistic.kind = "lightgbm"  # a different layout into the same folder: the old weights must go
    logistic.model_ = _tiny_booster()
    logistic.save(target)
    assert sorted(p.name for p in target.iterdir()) == ["booster.txt", "manifest.json", "model.json"]
    assert SessionPurchaseModel.load(target).kind == "lightgbm"


def _tiny_booster() -> Any:
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    return lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1},
                     lgb.Dataset(X, (X[:, 0] > 0).astype(int)), num_boost_round=2)


def test_a_leftover_pickle_blocks_a_save_instead_of_being_vouched_for(
    saved_models: dict[str, Saved], tmp_path: Path
) -> None:
    from shopintent.behaviour.session_purchase import SessionPurchaseModel

    model = SessionPurchaseModel.load(saved_models["behaviour"].directory)
    target = tmp_path / "m"
    target.mkdir()
    (target / "pipeline.joblib").write_bytes(b"old")
    with pytest.raises(ModelFileError, match="pipeline.joblib: a pickle-based file .*remove it"):
        model.save(target)


def test_a_manifest_entry_outside_the_directory_is_refused(saved: Saved) -> None:
    manifest = persist.read_json(saved.directory / "manifest.json")
    manifest["files"]["../outside.json"] = {"sha256": "0" * 64, "size": 1}
    persist.write_json(saved.directory / "manifest.json", manifest)
    assert "manifest.json: has an invalid entry '../outside.json'" in _refusal(saved)


def test_src_loads_no_pickle() -> None:
    banned = re.compile(
        r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle|joblib|skops)\b"
        r"|weights_only\s*=\s*False|torch\.load\(|allow_pickle\s*=\s*True|read_pickle\(",
        re.MULTILINE,
    )
    hits = [f"{path.relative_to(SRC)}: {m.group(0).strip()}"
            for path in sorted(SRC.rglob("*.py")) for m in banned.finditer(path.read_text())]
    assert hits == []
