"""CPU milliseconds per call: each served model's estimator against the NumPy scorer the service now loads.

Why a script of its own: the service no longer imports scikit-learn, SciPy or LightGBM
(``docs/serve.md``, "No scikit-learn, SciPy or LightGBM at start"); the scorers give the same
answers (equality tests), and this measures what each call costs, since the issue's goal is
the request path's p99. Both forms are loaded from the same prepared folders in this one
process and called on the same real rows, alternated (estimator, scorer, estimator, scorer),
in CPU time (the machine is shared: wall time is noise):

* **behaviour** — ``predict_proba`` of each default event model (purchase, abandon,
  next-action) on prefix rows of the first 20,000 Taobao events (``samples.taobao_sessions``),
  batches of 1, 16 and 500, and the purchase explainer's ``raw_scores`` (the decision path);
* **risk** — ``proba_one`` of the default transaction model on DMC 2019 rows;
* **recommend** — ``recommend(history, k=10)`` of the default hybrid on Taobao session histories;
* **text** — ``predict_with_confidence`` of the default shop-intent model on shop-intent
  validation texts, batches of 1 and 16. Both embed with the same encoder code (the int8
  USE, as served), whose vectors come from its in-memory cache after the warm-up call, so
  the difference is the TF-IDF rows, the head and the decision.

Run (the state folder holds what ``shopintent models prepare`` wrote)::

    SHOPINTENT_DATA_DIR=/work/shared/data SHOPINTENT_STATE_DIR=<state> OMP_NUM_THREADS=1 \\
        .venv/bin/python -m benchmarks.serving_scorers --label NAME --note "<commit>"
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.support.labelled_runs import save_labelled_run

SEED = 0  # rows are taken in file order; nothing here is random
ROUNDS = 2  # estimator, scorer, estimator, scorer


def cpu_ms(call: Callable[[], Any], calls: int, min_cpu_s: float = 0.3) -> float:
    """CPU milliseconds per ``call()`` (each call runs ``calls`` items), over at least ``min_cpu_s``."""
    call()  # warm
    start, n = time.process_time(), 0
    while time.process_time() - start < min_cpu_s:
        call()
        n += 1
    return round((time.process_time() - start) / (n * calls) * 1e3, 4)


def _pair(rows: dict[str, list[float]], name: str, estimator: Callable[[], Any], scorer: Callable[[], Any],
          calls: int = 1) -> None:
    for _ in range(ROUNDS):
        rows.setdefault(f"{name}: estimator", []).append(cpu_ms(estimator, calls))
        rows.setdefault(f"{name}: scorer", []).append(cpu_ms(scorer, calls))


def _sha(values: Any) -> str:
    return hashlib.sha256(json.dumps(values, default=str).encode()).hexdigest()


def measure(settings: Any) -> dict[str, Any]:
    """Every pair above; per row the CPU ms per item of each round, and the data's checksums."""
    import numpy as np

    rows: dict[str, list[float]] = {}
    data: dict[str, str] = {}
    state = Path(settings.state_dir)

    from shopintent.behaviour.event_models import EventIntentModel
    from shopintent.behaviour.event_scoring import EventIntentScorer
    from shopintent.behaviour.examples import build_prefix_table
    from shopintent.samples import taobao_sessions

    X = build_prefix_table(taobao_sessions(20000), max_k=20).X.to_numpy(dtype=float)
    data["behaviour prefix rows"] = hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()
    for task in ("purchase", "abandon", "next-action"):
        folder = state / "behaviour" / "default" / task
        model, scorer = EventIntentModel.load(folder), EventIntentScorer.load(folder)
        for batch in (1, 16, 500):
            x = X[:batch]
            _pair(rows, f"behaviour {task} predict_proba, batch {batch}", lambda m=model, x=x: m.predict_proba(x),
                  lambda s=scorer, x=x: s.predict_proba(x), batch)
        if task == "purchase":
            for batch in (1, 16):
                x = X[:batch]
                _pair(rows, f"behaviour purchase explainer raw_scores, batch {batch}",
                      lambda m=model, x=x: m.explainer().raw_scores(x),
                      lambda s=scorer, x=x: s.explainer().raw_scores(x), batch)

    from shopintent.datasets import dmc2019_selfcheckout_fraud as dmc
    from shopintent.risk.fraud import FraudModel
    from shopintent.risk.fraud_scoring import FraudScorer

    table = dmc.load(settings)
    values = table[list(dmc.FEATURES)].to_numpy(dtype=float)[:200]
    data["risk DMC rows"] = hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()
    folder = state / "risk" / "default" / "transactions"
    fraud, fraud_scorer = FraudModel.load(folder), FraudScorer.load(folder)
    _pair(rows, "risk transaction proba_one", lambda: [fraud.proba_one(v) for v in values],
          lambda: [fraud_scorer.proba_one(v) for v in values], len(values))

    from shopintent.datasets import taobao_userbehavior_head
    from shopintent.recommend.base import Recommender
    from shopintent.recommend.data import sequences_from_events
    from shopintent.recommend.serving import ServedHybrid

    events = taobao_userbehavior_head.load(settings).events
    histories = [list(s.items[:-1]) for s in sequences_from_events(events, by="session", gap_minutes=30.0)
                 if len(s.items) > 2][:100]
    data["recommend histories"] = _sha(histories)
    folder = state / "recommend" / "default"
    hybrid, served = Recommender.load(folder), ServedHybrid.load(folder)
    _pair(rows, "recommend recommend(k=10)", lambda: [hybrid.recommend(h, k=10) for h in histories],
          lambda: [served.recommend(h, k=10) for h in histories], len(histories))

    from shopintent.text import recipes
    from shopintent.text.intent import IntentClassifier
    from shopintent.text.intent_scoring import IntentScorer

    texts = recipes.shop_intent_splits(settings)["validation"].texts[:64]
    data["text validation texts"] = _sha(texts)
    folder = state / "text" / "models" / "shop_intent"
    intent, intent_scorer = IntentClassifier.load(folder, cache_dir=state), IntentScorer.load(folder, cache_dir=state)
    for model in (intent, intent_scorer):
        model.featurizer_.serve_with({"use": "use-int8"})  # as the service runs it

    def batches(model: Any, size: int) -> Callable[[], Any]:
        def run() -> None:
            for i in range(0, len(texts), size):
                model.predict_with_confidence(texts[i:i + size], persist=False)
        return run

    for size in (1, 16):
        _pair(rows, f"text predict_with_confidence, batch {size}", batches(intent, size),
              batches(intent_scorer, size), len(texts))
    return {"cpu_ms_per_item": rows,
            "median_cpu_ms_per_item": {k: round(statistics.median(v), 4) for k, v in rows.items()},
            "data_sha256": data, "seed": SEED,
            "models": {part: json.loads((state / part / "model.json").read_text()).get("data_checksum")
                       for part in ("behaviour/default/purchase", "risk/default/transactions",
                                    "recommend/default", "text/models/shop_intent")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True)
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serving_scorers.json"))
    args = parser.parse_args()
    from shopintent.settings import get_settings

    run = measure(get_settings())
    run.update(at=datetime.now(UTC).isoformat(timespec="seconds"), note=args.note,
               threads=os.environ.get("OMP_NUM_THREADS"))
    save_labelled_run(args.out, args.label, run, protocol=(
        "`python -m benchmarks.serving_scorers --label LABEL`: CPU ms per item of each served model's "
        "estimator and of the NumPy scorer the service loads, same prepared folders, same real rows "
        "(Taobao prefixes of samples.taobao_sessions(20000), DMC 2019 rows, Taobao session histories, "
        "shop-intent validation texts; file order, no randomness), alternated estimator/scorer twice "
        "(cpu_ms_per_item lists both rounds), one process, OMP_NUM_THREADS as recorded; a shared "
        "machine, so CPU time only."))
    print(json.dumps(run["median_cpu_ms_per_item"], indent=1))


if __name__ == "__main__":
    main()
