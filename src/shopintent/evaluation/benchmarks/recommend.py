"""Recommendation benchmark: every model on full-ranking leave-one-out, test positions only.

Protocol (all data sets): each sequence's last item is the test target,
the second-to-last the validation target, the rest training; models train
on the training part only (SASRec early-stops and the hybrid learns its
blend on validation); the target is ranked against *every* item of the data
set (no sampled negatives). Amazon Beauty/Sports follow the S3-Rec protocol
(history items excluded from the ranking); the next-click data (Diginetica
sessions, Taobao sessions at a 30-minute gap) keep history items rankable,
since shoppers re-click. Cold start (Beauty): metrics on test targets with no
training interaction, and with the history cut to its last two items (a
new shopper). Latency: one ``recommend(history, k=10)`` call, one thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from shopintent.datasets import amazon_seqrec, diginetica_sample, taobao_userbehavior_head
from shopintent.evaluation.bench import BenchResult, Measurement
from shopintent.log import get_logger
from shopintent.recommend.base import Recommender
from shopintent.recommend.data import Example, Split, items_from_events, leave_one_out, sequences_from_events
from shopintent.recommend.evaluate import evaluate, evaluate_scores, item_popularity, metrics_from_ranks
from shopintent.recommend.hybrid import Hybrid
from shopintent.recommend.registry import make_model
from shopintent.schema.records import InteractionSequence, Item
from shopintent.settings import Settings

log = get_logger(__name__)

SEED = 0
#: SASRec hyper-parameters per Amazon sub-set (tuned on Beauty validation; Sports reuses them).
#: Epoch caps rather than time budgets, so the numbers do not depend on machine load; the
#: wall-clock training time is reported beside them.
#: One thread: on this shared 2-core machine two torch threads measured 3.4x slower per batch
#: than one (each op waits for the slower, descheduled thread).
SASREC = {
    "Beauty": {"hidden": 64, "blocks": 2, "max_len": 50, "dropout": 0.5, "lr": 2e-3, "batch_size": 128,
               "epochs": 10, "patience": 5, "valid_users": 5000, "threads": 1, "seed": SEED},
    "Sports_and_Outdoors": {"hidden": 64, "blocks": 2, "max_len": 50, "dropout": 0.5, "lr": 2e-3,
                            "batch_size": 128, "epochs": 5, "patience": 5, "valid_users": 5000,
                            "threads": 1, "seed": SEED},
}
#: SASRec on next-click data: Beauty's settings, history rankable, fewer epochs to keep the
#: whole benchmark near 25 minutes (an epoch of Taobao sessions costs about one of Beauty).
NEXT_CLICK_SASREC: dict[str, dict[str, Any]] = {
    "Diginetica sessions": {"exclude_seen": False, "epochs": 10, "dropout": 0.3},
    "Taobao sessions": {"exclude_seen": False, "epochs": 3, "dropout": 0.3},
}
BASELINES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("pop", "popularity (global)", {}),
    ("pop", "popularity (recent)", {"mode": "recent"}),
    ("sknn", "V-SKNN", {}),
    ("als", "ALS (implicit)", {"seed": SEED, "threads": 1}),
    ("content", "content-based", {}),
)
LATENCY_CALLS = 500


@dataclass
class _Run:
    label: str
    model: Recommender
    metrics: dict[str, float]
    ranks: np.ndarray


def _fit_eval(label: str, model: Recommender, split: Split, items: dict[str, Item],
              exclude_seen: bool) -> _Run:
    model.fit(split.train, items=items, catalogue=split.catalogue, valid=split.valid)
    result = evaluate(model, split.test, split.train, exclude_seen=exclude_seen)
    metrics = {**result.metrics, "fit_s": getattr(model, "fit_seconds_", 0.0)}
    log.info("benchmark model done", model=label, **{k: round(v, 4) for k, v in metrics.items()})
    return _Run(label, model, metrics, result.ranks)


def _latency_ms(model: Recommender, examples: list[Example]) -> tuple[float, float]:
    rng = np.random.default_rng(SEED)
    picks = rng.choice(len(examples), min(LATENCY_CALLS, len(examples)), replace=False)
    for i in picks[:20]:
        model.recommend(list(examples[i].history), k=10)
    times = []
    for i in picks:
        start = time.perf_counter()
        model.recommend(list(examples[i].history), k=10)
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def _measure(out: list[Measurement], data: str, run: _Run, protocol: str) -> None:
    for name in ("HR@10", "NDCG@10", "HR@20", "NDCG@20", "MRR@20", "coverage@10", "ARP@10",
                 "short_head_share@10"):
        if name in run.metrics:
            out.append(Measurement(f"{data} · {run.label} · {name}", run.metrics[name], "",
                                   protocol))


def _amazon(settings: Settings, subset: str, out: list[Measurement], notes: list[str]) -> dict[str, Any]:
    sequences = amazon_seqrec.read_sequences(subset, settings)
    items = amazon_seqrec.read_items(subset, settings)
    split = leave_one_out(sequences)
    protocol = (f"test split (last item), leave-one-out, full ranking over {len(split.catalogue):,} items, "
                f"history excluded, seed {SEED}, train sha256 {split.train_checksum[:12]}")
    runs = [_fit_eval(label, make_model(kind, **params), split, items, True)
            for kind, label, params in BASELINES]
    torch.set_num_threads(SASREC[subset]["threads"])  # also set inside fit
    sasrec = _fit_eval("SASRec (full CE + attributes)", make_model("sasrec", **SASREC[subset]),
                       split, items, True)
    torch.set_num_threads(1)
    runs.append(sasrec)
    hybrid_model = Hybrid.from_fitted([r.model for r in runs[1:]], split.valid, seed=SEED)
    hybrid = _Run("hybrid (blend learned on valid)", hybrid_model,
                  evaluate(hybrid_model, split.test, split.train).metrics, np.array([]))
    runs.append(hybrid)
    for run in runs:
        _measure(out, subset, run, protocol)
    train_s = sasrec.model.metrics_.get("train_seconds", 0.0)
    out.append(Measurement(f"{subset} · SASRec training time ({SASREC[subset]['threads']} thread, best epoch "
                           f"{sasrec.model.metrics_['best_epoch']} of {sasrec.model.metrics_['epochs_run']})",
                           train_s, "s", "wall clock incl. per-epoch validation, this machine"))
    details: dict[str, Any] = {
        "hybrid_weights": dict(zip([c[0] for c in hybrid_model.components], hybrid_model.weights_, strict=True)),
        "sasrec_history": sasrec.model.history_,
    }
    if subset == "Beauty":
        _cold_start(split, items, runs, out)
        torch.set_num_threads(1)
        for run in (runs[2], sasrec, hybrid):
            p50, p99 = _latency_ms(run.model, split.test)
            detail = f"one test history, {LATENCY_CALLS} calls, 1 thread, shared 2-core machine"
            out.append(Measurement(f"{subset} · {run.label} · top-10 latency p50", p50, "ms", detail))
            out.append(Measurement(f"{subset} · {run.label} · top-10 latency p99", p99, "ms", detail))
    notes.append(f"{subset}: hybrid weights {details['hybrid_weights']}; SASRec best epoch "
                 f"{sasrec.model.metrics_['best_epoch']} of {sasrec.model.metrics_['epochs_run']}.")
    return details


def _cold_start(split: Split, items: dict[str, Item], runs: list[_Run], out: list[Measurement]) -> None:
    model0 = runs[0].model
    popularity = item_popularity([model0.index_.encode(s.items) for s in split.train], model0.index_.size)
    cold = np.asarray([popularity[model0.index_.get(ex.target)] == 0 for ex in split.test])
    short = [Example(ex.user_id, ex.history[-2:], ex.target) for ex in split.test]
    n_items = len(model0.index_)
    for run in runs:
        if run.ranks.size and cold.any():
            m = metrics_from_ranks(run.ranks[cold], (50,))
            detail = f"{int(cold.sum())} test targets never in training, full ranking over {n_items:,}"
            out.append(Measurement(f"Beauty · {run.label} · cold-item HR@50", m["HR@50"], "", detail))
            out.append(Measurement(f"Beauty · {run.label} · cold-item mean rank percentile",
                                   float(np.mean(run.ranks[cold]) / n_items * 100), "%",
                                   detail + "; random = 50%"))
        m = evaluate_scores(run.model.score, short, run.model.index_, ks=(10,)).metrics
        out.append(Measurement(f"Beauty · {run.label} · new-user HR@10 (2 events)", m["HR@10"], "",
                               "test targets, history cut to its last 2 items, full ranking"))


def _next_click(name: str, sequences: list[InteractionSequence], items: dict[str, Item],
                out: list[Measurement], notes: list[str]) -> None:
    split = leave_one_out(sequences)
    protocol = (f"test split (last click), leave-one-out over sessions with ≥3 items "
                f"({len(split.test):,}), full ranking over {len(split.catalogue):,} items, history rankable, "
                f"seed {SEED}, train sha256 {split.train_checksum[:12]}")
    runs = [_fit_eval(label, make_model(kind, **params), split, items, False)
            for kind, label, params in BASELINES]
    sasrec_params = {**SASREC["Beauty"], **NEXT_CLICK_SASREC[name]}
    runs.append(_fit_eval("SASRec (full CE + attributes)", make_model("sasrec", **sasrec_params),
                          split, items, False))
    hybrid_model = Hybrid.from_fitted([r.model for r in runs[1:]], split.valid, exclude_seen=False, seed=SEED)
    runs.append(_Run("hybrid (blend learned on valid)", hybrid_model,
                     evaluate(hybrid_model, split.test, split.train, exclude_seen=False).metrics, np.array([])))
    for run in runs:
        _measure(out, name, run, protocol)
    notes.append(f"{name}: hybrid weights {dict(zip([c[0] for c in hybrid_model.components], hybrid_model.weights_, strict=True))}.")


def run(settings: Settings) -> BenchResult:
    """Full-ranking HR/NDCG/MRR, coverage and popularity bias for every model on four data sets."""
    torch.set_num_threads(1)
    out: list[Measurement] = []
    notes: list[str] = []
    details = {}
    for subset in amazon_seqrec.SUBSETS:
        details[subset] = _amazon(settings, subset, out, notes)
    digi = diginetica_sample.load(settings).events
    _next_click("Diginetica sessions", sequences_from_events(digi, by="session"), {}, out, notes)
    taobao = taobao_userbehavior_head.load(settings).events
    _next_click("Taobao sessions", sequences_from_events(taobao, by="session", gap_minutes=settings.session_gap_minutes),
                items_from_events(taobao), out, notes)
    data = {f.path: f.sha256 for f in amazon_seqrec.SPEC.files}
    data[diginetica_sample.FILE] = diginetica_sample.SPEC.files[0].sha256
    data[taobao_userbehavior_head.FILE] = taobao_userbehavior_head.SPEC.files[0].sha256
    return BenchResult(
        area="recommend",
        measurements=out,
        data=data,
        parameters={"seed": SEED, "sasrec": SASREC, "sasrec_next_click": NEXT_CLICK_SASREC,
                    "baselines": {l: p for _, l, p in BASELINES},
                    "protocol": "leave-one-out, full ranking, test positions only"},
        notes=" ".join(notes) + " Published full-ranking references (S3-Rec/ICLRec papers): Beauty SASRec "
        "HR@10 .0605 NDCG@10 .0318, ICLRec .0744/.0403; Sports SASRec .0350/.0192, ICLRec .0437/.0238.",
    )
