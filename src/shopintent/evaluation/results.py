"""Committed benchmark results: reading them, and finding the rows that measured one model.

Why: the dashboard's model cards and the docs show numbers from
``benchmarks/results/AREA.json``. A results file lists every model an area's
benchmark ran, baselines first, so "the first rows" are someone else's
numbers. A card must show the rows of the model it is about, or say there
are none.

A *model id* names a model configuration the way the service serves it; the
serve adapters build it from the loaded model (``card["model_id"]``).
:data:`BENCHMARKED` says, for each configuration a benchmark measures, under
which label its rows appear in that area's measurement names. A served model
whose id has no entry has no benchmark row — the card says so instead of
showing another model's numbers.

>>> from shopintent.settings import Settings
>>> results = Settings().results_dir  # the checkout's benchmarks/results
>>> card = benchmark_card(results, "intervene:uplift-prior-1")
>>> card["command"], [m["name"] for m in card["measurements"]][:1]
('shopintent bench intervene', ['latency p50 (wall)'])
>>> benchmark_card(results, "recommend:no-such-model")["missing"]
'no benchmark row for this model'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: What a card says when no results row measured the served model.
NO_ROW = "no benchmark row for this model"


class ResultsFileError(ValueError):
    """A results file that exists but cannot be read as a benchmark record."""


def read_results(results_dir: Path, area: str) -> dict[str, Any] | None:
    """The record of ``results_dir/AREA.json``; ``None`` when the area has no results file."""
    path = Path(results_dir) / f"{area}.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultsFileError(f"{path}: not a readable benchmark results file ({exc})") from exc
    if not isinstance(record, dict) or not isinstance(record.get("measurements"), list):
        raise ResultsFileError(f"{path}: no `measurements` list; re-run `shopintent bench {area}`")
    return record


@dataclass(frozen=True)
class BenchmarkRows:
    """Where one model configuration's rows are: its area, and the labels its row names start with.

    ``prefixes``: the model's label in row names (more than one while a benchmark's
    wording changes between committed runs). ``only``: keep just the rows whose name
    holds one of these strings (the pooled numbers rather than every slice, e.g.
    ROC-AUC over k ≤ 20, not per prefix length); ``never``: drop rows holding one
    of these (numbers that are not held-out, such as validation accuracy).
    """

    area: str
    prefixes: tuple[str, ...]
    only: tuple[str, ...] = ()
    never: tuple[str, ...] = ()
    what: str = ""

    def row_name(self, name: str) -> str | None:
        """The row's name without the model's label when it is one of this model's rows, else None."""
        prefix = next((p for p in self.prefixes if name.startswith(p)), None)
        if prefix is None or (self.only and not any(s in name for s in self.only)):
            return None
        if any(s in name for s in self.never):
            return None
        return name[len(prefix):]


#: The text rows that are held-out quality (not training time, not validation).
HELD_OUT_TEXT = {"only": ("accuracy", "recall", "ECE"), "never": ("validation",)}
#: Model id → the rows that measured that configuration. Each entry is checked against the
#: committed results by ``tests/serve/test_dashboard_cards.py`` (a renamed row fails there).
BENCHMARKED: dict[str, BenchmarkRows] = {
    # text.defaults.train_shop_intent_linear: Bitext intents + zh/en out-of-scope, recipes' splits
    "shop-intent:IntentClassifier(use+tfidf)": BenchmarkRows(
        "text", ("shop-intent model, linear USE + TF-IDF: ",), **HELD_OUT_TEXT,
        what="the linear default shop-intent model"),
    # text.defaults.train_shop_intent: the fine-tuned USE model, same splits
    "shop-intent:FineTunedClassifier(use)": BenchmarkRows(
        "text", ("shop-intent model, fine-tuned USE (ONNX fp32): ", "shop-intent model, fine-tuned USE (ONNX int8): ",
                 "default shop-intent model (fine-tuned USE, ONNX fp32): ",
                 "default shop-intent model (fine-tuned USE, ONNX int8): "), **HELD_OUT_TEXT,
        what="the fine-tuned USE shop-intent model"),
    # behaviour.default: one LightGBM EventIntentModel per task on Taobao; the benchmark trains
    # the same configuration on a time split and scores the later sessions
    "behaviour:EventIntentModel(lightgbm)@taobao": BenchmarkRows(
        "behaviour", ("Taobao LightGBM ",), only=("ROC-AUC (k ≤ 20)",),
        what="LightGBM event models, Taobao time split"),
    # intervene.engine: DecisionEngine() with the prior UpliftPolicy() is what the latency rows run
    "intervene:uplift-prior-1": BenchmarkRows(
        "intervene", ("decision ",), only=("latency",), what="the decision engine with the prior uplift policy"),
    # the benchmark's Taobao hybrid blends all five models (not the default's three)
    "recommend:Hybrid(pop+sknn+als+content+sasrec)@taobao-sessions": BenchmarkRows(
        "recommend", ("Taobao sessions · hybrid (blend learned on valid) · ",),
        what="hybrid of all five recommenders on Taobao sessions"),
}


def benchmark_card(results_dir: Path, model_id: str | None) -> dict[str, Any]:
    """The benchmark part of a model card: the served model's own rows, or why there are none.

    Each row keeps its name (without the model's label), value, unit and detail
    (the split and protocol it was measured on); the command and date that
    produced the file come with them.
    """
    where = BENCHMARKED.get(model_id or "")
    if where is None:
        return {"model_id": model_id, "missing": NO_ROW}
    try:
        record = read_results(results_dir, where.area)
    except ResultsFileError as exc:
        return {"model_id": model_id, "missing": str(exc)}
    if record is None:
        return {"model_id": model_id,
                "missing": f"no results file for {where.area} (run `shopintent bench {where.area}`)"}
    rows = [
        {"name": short, "value": m.get("value"), "unit": m.get("unit", ""), "detail": m.get("detail", "")}
        for m in record["measurements"]
        if (short := where.row_name(str(m.get("name", "")))) is not None
    ]
    if not rows:
        return {"model_id": model_id, "missing": NO_ROW}
    return {"model_id": model_id, "model": where.what, "area": where.area, "command": record.get("command"),
            "created_at": record.get("created_at"), "measurements": rows}
