"""Every default model the service runs: where it lives, whether it is prepared, how to prepare it.

Why one list: ``shopintent models prepare`` trains these before the service
starts, ``shopintent models status`` reports them, and the service asks
:func:`not_prepared` before loading a slot, so a missing model is a clear
"run `shopintent models prepare`" instead of training inside the serving
process. Each area keeps its own load-or-train function (behaviour,
recommend, text); this module only calls them, in the process that prepares.

``fast`` models are what the service needs to answer every endpoint; they
prepare in minutes on 2 cores (README.md has the times measured here). The
others improve answers (Chinese product/brand slots, sentiment, the
fine-tuned intent model) and may follow in the background: the service picks
each up when its files appear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopintent.log import get_logger
from shopintent.persist import MANIFEST_FILE, MODEL_FILE, ModelFileError, has_manifest, read_json
from shopintent.settings import Settings

log = get_logger(__name__)

#: What to run when a default model is missing (quoted in every "not prepared" message).
PREPARE_COMMAND = "shopintent models prepare"

TRAINED, CACHED, NOTHING = "trained", "cached", "nothing to train"


@dataclass(frozen=True)
class PrepareOutcome:
    """What preparing one model did: ``trained``, ``cached`` (found valid) or ``nothing to train``."""

    outcome: str
    note: str = ""


@dataclass(frozen=True)
class DefaultModel:
    """One default model: its name, what it is, where its files live and how it is prepared.

    ``first_run_s`` is the documented estimate for a first preparation, used
    until this state folder has measured one (:mod:`shopintent.prepare.timings`).
    """

    name: str
    summary: str
    fast: bool
    first_run_s: float
    folders: Callable[[Settings], tuple[Path, ...]]
    prepare: Callable[[Settings], PrepareOutcome]
    score: Callable[[dict[str, Any]], str | None]

    def is_prepared(self, settings: Settings) -> bool:
        """Whether every folder holds a finished save (its manifest, written last, exists)."""
        folders = self.folders(settings)
        return bool(folders) and all(has_manifest(folder) for folder in folders)


@dataclass(frozen=True)
class ModelStatus:
    """What ``shopintent models status`` shows for one default model."""

    name: str
    summary: str
    fast: bool
    state: str  # present | missing | incomplete | damaged | built in
    kind: str | None = None
    version: str | None = None
    score: str | None = None
    path: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- the areas' folders and load-or-train calls ------------------------------------------------
def _behaviour_folders(settings: Settings) -> tuple[Path, ...]:
    from shopintent.behaviour.default import default_model_dir
    from shopintent.behaviour.event_scoring import TASKS

    return tuple(default_model_dir(settings) / task for task in TASKS)


def _recommend_folders(settings: Settings) -> tuple[Path, ...]:
    from shopintent.recommend.default import default_model_dir

    return (default_model_dir(settings),)


def _policy_folder(settings: Settings) -> Path:
    return Path(settings.state_dir) / "intervene" / "policy"


def _text_folder(component: str) -> Callable[[Settings], tuple[Path, ...]]:
    def folders(settings: Settings) -> tuple[Path, ...]:
        from shopintent.text.model_paths import model_path

        return (model_path(settings, component),)

    return folders


def _candidate_folders(settings: Settings) -> tuple[Path, ...]:
    from shopintent.text.model_paths import candidate_path

    return (candidate_path(settings),)


def _manifest_times(folders: tuple[Path, ...]) -> tuple[float, ...]:
    return tuple((f / MANIFEST_FILE).stat().st_mtime if has_manifest(f) else -1.0 for f in folders)


def _load_or_train(folders: Callable[[Settings], tuple[Path, ...]],
                   call: Callable[[Settings], object]) -> Callable[[Settings], PrepareOutcome]:
    """Run an area's load-or-train function; ``trained`` when it (re)wrote a manifest, else ``cached``."""

    def prepare(settings: Settings) -> PrepareOutcome:
        before = _manifest_times(folders(settings))
        call(settings)
        return PrepareOutcome(TRAINED if _manifest_times(folders(settings)) != before else CACHED)

    return prepare


def _train_behaviour(settings: Settings) -> object:
    from shopintent.behaviour.default import load_default_models

    return load_default_models(settings)


def _train_recommend(settings: Settings) -> object:
    from shopintent.recommend.default import load_default_recommender

    return load_default_recommender(settings)


def _risk_folders(settings: Settings) -> tuple[Path, ...]:
    from shopintent.risk.default import model_folders

    return model_folders(settings)


def _train_risk(settings: Settings) -> object:
    from shopintent.risk.default import load_default_risk

    return load_default_risk(settings)


def _train_text(component: str) -> Callable[[Settings], object]:
    def train(settings: Settings) -> object:
        from shopintent.text.defaults import ensure_model

        model = ensure_model(settings, component, train_missing=True)
        if component == "shop_intent":  # the service's int8 USE graph, exported here, not at its start
            from shopintent.text.use_onnx import graph_path

            graph_path(Path(settings.state_dir) / "text")
        return model

    return train


def _prepare_policy(settings: Settings) -> PrepareOutcome:
    folder = _policy_folder(settings)
    if (folder / MODEL_FILE).is_file():
        return PrepareOutcome(NOTHING, f"saved policy in {folder}")
    return PrepareOutcome(NOTHING, "prior policy (none saved)")


def _prepare_finetuned(settings: Settings) -> PrepareOutcome:
    """Fine-tune into the candidate folder (unless cached), then promote it if better on validation."""
    from shopintent.text import defaults

    candidate = defaults.candidate_path(settings)
    outcome = CACHED
    if not has_manifest(candidate):
        defaults.train_shop_intent(settings, candidate)
        outcome = TRAINED
    live = defaults.model_path(settings, "shop_intent")
    tuned, current = defaults.selection_score(candidate), defaults.selection_score(live)
    if defaults.promote_if_better(settings):
        return PrepareOutcome(outcome, f"now the default (validation score, zh and en weighed "
                                       f"equally, {tuned:.4f} > "
                                       f"{'none' if current is None else f'{current:.4f}'})")
    return PrepareOutcome(outcome, f"kept aside: validation score (zh and en weighed equally) "
                                   f"{tuned or 0:.4f} is not above "
                                   f"the default's {current or 0:.4f}")


def _text_default(component: str, summary: str, fast: bool, first_run_s: float,
                  score: Callable[[dict[str, Any]], str | None]) -> DefaultModel:
    """A default text model: its folder under ``text/models``, loaded when valid, else trained."""
    folders = _text_folder(component)
    return DefaultModel(component, summary, fast, first_run_s, folders,
                        _load_or_train(folders, _train_text(component)), score)


# -- scores read from model.json ----------------------------------------------------------------
def _behaviour_score(meta: dict[str, Any]) -> str | None:
    validation = (meta.get("metrics") or {}).get("validation") or {}
    for values in validation.values():
        if isinstance(values, dict) and "roc_auc" in values:
            return f"ROC-AUC {values['roc_auc']:.4f}"  # the purchase model's (listed first)
    return None


def _recommend_score(meta: dict[str, Any]) -> str | None:
    value = (meta.get("metrics") or {}).get("blend_valid_NDCG@10")
    return None if value is None else f"NDCG@10 {value:.4f}"


def _classifier_score(meta: dict[str, Any]) -> str | None:
    value = (meta.get("metrics") or {}).get("validation_accuracy")
    return None if value is None else f"acc. {value:.4f}"


def _tagger_score(meta: dict[str, Any]) -> str | None:
    value = meta.get("best_dev_f1")
    return None if value is None else f"F1 {value:.4f}"


def _risk_score(meta: dict[str, Any]) -> str | None:
    value = (meta.get("metrics") or {}).get("train_sessions")
    return None if value is None else f"{value:,} training sessions"


def _policy_score(meta: dict[str, Any]) -> str | None:
    return None


#: Readable names of the saved kinds.
KIND_NAMES = {
    "IntentClassifier": "linear",  # frozen USE + TF-IDF features, linear SVM head
    "FineTunedClassifier": "fine-tuned",  # USE-multilingual fine-tuned, on ONNX Runtime
    "EnsembleClassifier": "ensemble",
    "SlotTagger": "BiLSTM-CRF",
    "event_intent": "LightGBM",
    "hybrid": "hybrid",  # session kNN + category + recent popularity
    "session_risk": "Isolation Forest",
}


def kind_name(kind: str | None) -> str | None:
    """The readable name of a saved model kind (the kind itself when unknown)."""
    return None if kind is None else KIND_NAMES.get(kind, kind)


# First-run estimates: durations measured by `make demo` on a fresh clone on the 2-core
# development machine while other work shared it (2026-12-01, benchmarks/demo_path.py; the
# background ones while the demo's service and replay ran, at low priority), rounded up. A state
# folder that has prepared a model uses its own measurement instead.
DEFAULT_MODELS: tuple[DefaultModel, ...] = (
    DefaultModel("behaviour", "purchase, abandonment and next-action models (Taobao events)",
                 True, 30.0, _behaviour_folders, _load_or_train(_behaviour_folders, _train_behaviour),
                 _behaviour_score),
    DefaultModel("recommend", "session kNN + category + recent popularity (Taobao sessions)",
                 True, 10.0, _recommend_folders, _load_or_train(_recommend_folders, _train_recommend),
                 _recommend_score),
    DefaultModel("intervene", "decision policy (a saved policy, else the prior one)",
                 True, 0.0, lambda s: (_policy_folder(s),), _prepare_policy, _policy_score),
    # risk: 3.6 s wall (`models prepare --only risk` on an empty state folder, 2 cores, 2026-12-02)
    DefaultModel("risk", "session anomaly detector (Taobao training days) + DMC transaction fraud "
                 "model with its cost threshold", True, 5.0, _risk_folders,
                 _load_or_train(_risk_folders, _train_risk), _risk_score),
    # shop_intent: 152 s wall / 50 s CPU with a cold embedding cache under load ~4 (issue 12's
    # eight-source recipe, `models prepare --only shop_intent` on an empty state folder)
    _text_default("shop_intent",
                  "shop intents + product questions + out-of-scope, zh and en (the live default)",
                  True, 60.0, _classifier_score),
    _text_default("slots_en", "English support-message entities", False, 70.0, _tagger_score),
    _text_default("sentiment", "sentiment of zh and en text", False, 160.0, _classifier_score),
    _text_default("ner_zh", "Chinese product type and brand tagger", False, 225.0, _tagger_score),
    DefaultModel("shop_intent_finetuned",
                 "fine-tuned shop-intent model; becomes the default only if better on validation",
                 False, 2220.0, _candidate_folders, _prepare_finetuned, _classifier_score),
)

#: Which default models each service slot needs before it can load.
SERVICE_NEEDS: dict[str, tuple[str, ...]] = {
    "behaviour": ("behaviour",),
    "recommend": ("recommend",),
    "intervene": (),
    "text": ("shop_intent",),
    "risk": ("risk",),
}


def names(fast_only: bool = False) -> list[str]:
    """The default models in preparation order (the fast ones first)."""
    ordered = [m for m in DEFAULT_MODELS if m.fast] + [m for m in DEFAULT_MODELS if not m.fast]
    return [m.name for m in ordered if m.fast or not fast_only]


def get(name: str) -> DefaultModel:
    """One default model by name; an unknown name is an error listing the known ones."""
    for model in DEFAULT_MODELS:
        if model.name == name:
            return model
    raise ValueError(f"unknown default model {name!r}; choose from {', '.join(names())}")


def not_prepared(settings: Settings, slot: str) -> str | None:
    """Why the service's ``slot`` cannot load yet (a default model it needs is missing), else ``None``.

    Cheap (it only looks for manifests), so the service can ask every few
    seconds; the message names no path, since API clients may see it.
    """
    missing = [name for name in SERVICE_NEEDS.get(slot, ()) if not get(name).is_prepared(settings)]
    if not missing:
        return None
    return (f"default model {', '.join(missing)} is not prepared: run `{PREPARE_COMMAND}` "
            "(the service loads models, it never trains them)")


def status(settings: Settings, name: str) -> ModelStatus:
    """Present / missing / incomplete / damaged, kind, version (shopintent version and file format)
    and validation score of one model (on the validation rows its trainer held out)."""
    from shopintent.persist import verify_manifest

    model = get(name)
    folders = model.folders(settings)
    common = {"name": name, "summary": model.summary, "fast": model.fast, "path": str(folders[0])}
    if name == "intervene":
        saved = (folders[0] / MODEL_FILE).is_file()
        return ModelStatus(**common, state="present" if saved else "built in",
                           kind="saved" if saved else "prior",
                           detail=None if saved else "nothing to train")
    finished = [f for f in folders if has_manifest(f)]
    if not finished:
        started = any((f / MODEL_FILE).is_file() for f in folders)
        return ModelStatus(**common, state="incomplete" if started else "missing",
                           detail=f"run `{PREPARE_COMMAND}`")
    if len(finished) < len(folders):
        return ModelStatus(**common, state="incomplete", detail=f"run `{PREPARE_COMMAND}`")
    try:
        for folder in folders:
            verify_manifest(folder, PREPARE_COMMAND)
        meta = read_json(folders[0] / MODEL_FILE)
    except (ModelFileError, OSError, ValueError) as exc:
        return ModelStatus(**common, state="damaged", detail=str(exc))
    version = f"{meta.get('shopintent_version', '?')} f{meta.get('format_version', 1)}"
    return ModelStatus(**common, state="present", kind=kind_name(meta.get("kind")), version=version,
                       score=model.score(meta))
