"""Behaviour benchmark: purchase, abandonment and next-action models on real data, held out.

Protocols (details in docs/behaviour.md):

- UCI Online Shoppers: stratified 5-fold CV (seed 0), mean ± sd over folds,
  LightGBM / logistic regression / MLP, with and without PageValues.
- Taobao UserBehavior: time split (train on earlier days, test on the last
  day; abandonment tests on the last day whose 24 h horizon is observed);
  LightGBM prefix model vs a GRU (mean of seeds 0-2); early-prediction curve.
- CDNOW: 39 + 39 weeks, 5-fold split of customers; BG/NBD vs LightGBM.
- Scoring speed: every last-day Taobao event replayed through ``SessionScorer``.

The full record (curves, reliability bins, importances) is kept in
``SHOPINTENT_STATE_DIR/behaviour/evaluation.json`` for ``shopintent report behaviour``.
"""

from __future__ import annotations

from typing import Any

from shopintent.evaluation.bench import BenchResult, Measurement
from shopintent.settings import Settings


def _pm(summary: dict[str, float]) -> str:
    return f"± {summary['sd']:.4f} (sd over folds)"


def measurements(record: dict[str, Any]) -> list[Measurement]:
    """Turn an evaluation record (see ``behaviour.evaluate``) into the benchmark's rows."""
    rows: list[Measurement] = []
    uci = record["uci"]
    for result in uci["results"]:
        pv = "with PageValues" if result["page_values"] else "without PageValues"
        for metric in ("roc_auc", "pr_auc", "f1", "ece"):
            s = result["summary"][metric]
            rows.append(Measurement(f"UCI {result['kind']} {metric} ({pv})", s["mean"], metric,
                                    f"{uci['protocol']}; {_pm(s)}"))
    tb = record["taobao"]
    split = tb["protocol"]["purchase_next_action"]
    for task, labels in (("purchase", ("y_purchase",)),
                         ("next_action", ("y_next_view", "y_next_add_to_cart", "y_next_favourite",
                                          "y_next_purchase")),
                         ("abandon", ("y_abandon",))):
        section = tb[task]
        protocol = tb["protocol"]["abandon"] if task == "abandon" else split
        for label in labels:
            lg = section["lightgbm"]["labels"][label]
            rows.append(Measurement(f"Taobao LightGBM {label} ROC-AUC (k ≤ 20)", lg["roc_auc"], "roc_auc",
                                    f"{protocol}; {lg['n']:,} test prefixes, {lg['positives']:,} positive"))
            rows.append(Measurement(f"Taobao LightGBM {label} PR-AUC (k ≤ 20)", lg["pr_auc"], "pr_auc",
                                    f"base rate {lg['positives'] / lg['n']:.3f}"))
            for point in section["lightgbm"]["early_curve"][label]:
                rows.append(Measurement(f"Taobao LightGBM {label} ROC-AUC at k={point['k']}",
                                        point["roc_auc"], "roc_auc",
                                        f"{point['n']:,} prefixes, {point['positives']:,} positive"))
            for variant, result in section["gru_variants"].items():
                gru = [g["labels"][label]["roc_auc"] for g in result["seeds"]]
                rows.append(Measurement(f"Taobao GRU ({variant.replace('_', ' ')}) {label} ROC-AUC (k ≤ 20)",
                                        sum(gru) / len(gru), "roc_auc",
                                        f"mean of seeds {tb['protocol']['gru_seeds']}: "
                                        + ", ".join(f"{g:.4f}" for g in gru)))
                cmp = result["comparison"][label]
                boot = cmp["pooled_k1_5_gru_seed_mean_minus_lightgbm"]
                rows.append(Measurement(
                    f"Taobao GRU ({variant.replace('_', ' ')}) − LightGBM {label} ROC-AUC, k ≤ 5",
                    boot["difference"], "Δ roc_auc",
                    f"seed-mean GRU vs LightGBM on pooled k=1..5 test prefixes ({boot['n_rows']:,}); "
                    f"95 % session bootstrap [{boot['low']:.3f}, {boot['high']:.3f}]; mean per-k "
                    f"difference {cmp['gru_minus_lightgbm_mean_auc_k1_5']:.4f}"))
    speed = tb["scoring_speed"]
    detail = (f"{speed['updates']:,} last-day Taobao events replayed through SessionScorer "
              f"(purchase + abandon + 4 next-action boosters + reasons); 1-min load average "
              f"{speed['load_average_1m']:.1f} on the machine")
    rows += [Measurement("SessionScorer update p50 (wall)", speed["p50_ms"], "ms", detail),
             Measurement("SessionScorer update p99 (wall)", speed["p99_ms"], "ms", detail),
             Measurement("SessionScorer update p99 (CPU time)", speed["cpu_p99_ms"], "ms",
                         "same replay, process CPU time (excludes waiting for a core)")]
    cd = record["cdnow"]
    names = {"bgnbd": "BG/NBD", "lightgbm_poisson": "LightGBM Poisson", "lightgbm_l1": "LightGBM L1",
             "zero": "all-zero baseline"}
    for key, name in names.items():
        for metric in ("mae", "rmse"):
            s = cd["summary"][f"{key}.{metric}"]
            rows.append(Measurement(f"CDNOW {name} per-customer {metric.upper()}", s["mean"],
                                    "purchase days", f"{cd['protocol']}; {_pm(s)}"))
    rows.append(Measurement("CDNOW holdout purchase days, actual total", cd["holdout_total"],
                            "purchase days", f"{cd['n_customers']:,} customers"))
    for key, name in names.items():
        if key != "zero":
            rows.append(Measurement(f"CDNOW {name} predicted total", cd["predicted_totals"][key],
                                    "purchase days", "sum of held-out predictions over the 5 folds"))
    return rows


def run(settings: Settings) -> BenchResult:
    """Run the full behaviour evaluation and report every held-out number."""
    from shopintent.behaviour.evaluate import evaluate_all

    record = evaluate_all(settings)
    return BenchResult(
        area="behaviour",
        measurements=measurements(record),
        data={**record["uci"]["data"], **record["taobao"]["data"], **record["cdnow"]["data"]},
        parameters={"uci_seed": record["uci"]["seed"], "taobao_gru_seeds": record["taobao"]["protocol"]["gru_seeds"],
                    "taobao_lightgbm_seed": 0, "cdnow_seed": record["cdnow"]["seed"],
                    "session_gap_minutes": settings.session_gap_minutes,
                    "abandon_horizon_hours": record["taobao"]["protocol"]["abandon_horizon_hours"],
                    "next_window_events": record["taobao"]["protocol"]["next_window"],
                    "runtime_s": round(record["runtime_s"], 1)},
        notes=_notes(record),
    )


def _notes(record: dict[str, Any]) -> str:
    tb = record["taobao"]
    variants = tb["purchase"]["gru_variants"]
    parts = []
    for variant, result in variants.items():
        boot = result["comparison"]["y_purchase"]["pooled_k1_5_gru_seed_mean_minus_lightgbm"]
        verdict = "beats" if boot["low"] > 0 and boot["difference"] >= 0.02 else "does not clearly beat"
        parts.append(f"GRU {variant.replace('_', ' ')} {verdict} LightGBM at k ≤ 5 "
                     f"(Δ {boot['difference']:+.3f}, 95 % CI [{boot['low']:+.3f}, {boot['high']:+.3f}])")
    return (
        "Behaviour notes: UCI goal ROC-AUC ≥ 0.945 / PR-AUC ≥ 0.78 is compared with the LightGBM row "
        "with PageValues (published XGBoost: 0.937 / 0.754). Taobao purchase: " + "; ".join(parts) +
        f". Only {tb['purchase']['test_items_seen_in_training']:.0%} of last-day events name an item "
        "seen in training: item and category embeddings memorise rare ids, which is why the variant "
        "without them is reported (it was added after the first run showed this, so treat its margin "
        "as exploratory). Abandonment on Taobao is "
        f"{tb['base_rates']['y_abandon']:.0%} positive (carts act as wish lists), so its AUC rests on "
        "few non-abandoned carts. Scoring p99 wall time depends on the machine's load; the CPU-time p99 "
        "is the scorer's own cost. CDNOW: MAE rewards predicting the median; the L1 model is the "
        "MAE-optimal learner, the Poisson model predicts expected counts like BG/NBD."
    )
