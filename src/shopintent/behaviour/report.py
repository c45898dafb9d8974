"""The behaviour report: one self-contained HTML page of curves, tables and plots.

Why HTML with inline SVG: it opens anywhere, can be attached to a ticket and
needs no server. The page renders the record of
:func:`shopintent.behaviour.evaluate.evaluate_all`, so every number on it is the
benchmark's held-out number.
"""

from __future__ import annotations

import io
import math
from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_COLOURS = {"lightgbm": "#1f77b4", "gru": "#d62728", "gru_no_ids": "#ff7f0e", "logistic": "#2ca02c", "mlp": "#9467bd"}


def _svg(fig: plt.Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def reliability_plot(uci: dict[str, Any]) -> str:
    """Reliability diagrams of the UCI models (pooled out-of-fold predictions)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, page_values in zip(axes, (True, False), strict=True):
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        for result in uci["results"]:
            if result["page_values"] != page_values:
                continue
            bins = result["reliability"]
            ax.plot([b["predicted"] for b in bins], [b["observed"] for b in bins], marker="o",
                    color=_COLOURS[result["kind"]],
                    label=f"{result['kind']} (ECE {result['summary']['ece']['mean']:.3f})")
        ax.set_title(f"UCI, {'with' if page_values else 'without'} PageValues")
        ax.set_xlabel("mean predicted probability")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("observed purchase rate")
    return _svg(fig)


def early_curve_plot(taobao: dict[str, Any]) -> str:
    """AUC against k for LightGBM and the GRU (mean ± sd over seeds), one panel per label."""
    panels = [("purchase", "y_purchase"), ("abandon", "y_abandon"),
              ("next_action", "y_next_add_to_cart"), ("next_action", "y_next_purchase"),
              ("next_action", "y_next_favourite"), ("next_action", "y_next_view")]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for ax, (section, label) in zip(axes.ravel(), panels, strict=True):
        lgbm = taobao[section]["lightgbm"]["early_curve"][label]
        ks = [p["k"] for p in lgbm]
        ax.plot(ks, [p["roc_auc"] for p in lgbm], marker="o", color=_COLOURS["lightgbm"], label="LightGBM")
        for variant, result in taobao[section]["gru_variants"].items():
            colour = _COLOURS["gru"] if variant == "with_ids" else _COLOURS["gru_no_ids"]
            seeds = [[p["roc_auc"] for p in g["early_curve"][label]] for g in result["seeds"]]
            mean = [_nanmean([s[i] for s in seeds]) for i in range(len(ks))]
            low = [min(s[i] for s in seeds) for i in range(len(ks))]
            high = [max(s[i] for s in seeds) for i in range(len(ks))]
            name = variant.replace("_", " ")
            ax.plot(ks, mean, marker="s", color=colour, label=f"GRU {name} (seed mean)")
            ax.fill_between(ks, low, high, color=colour, alpha=0.12)
        ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
        ax.set_title(label)
        ax.set_xlabel("events seen (k)")
        ax.set_ylabel("ROC-AUC")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return _svg(fig)


def importance_plot(rows: list[dict[str, Any]], title: str) -> str:
    """Horizontal bars of mean |SHAP| per feature."""
    rows = list(reversed(rows[:12]))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.barh([r["feature"] for r in rows], [r["mean_abs_shap"] for r in rows], color=_COLOURS["lightgbm"])
    ax.set_xlabel("mean |SHAP| (log-odds), held-out rows")
    ax.set_title(title)
    return _svg(fig)


def cdnow_plot(cdnow: dict[str, Any]) -> str:
    """Per-customer MAE and RMSE of each predictor (mean ± sd over customer folds)."""
    names = ["bgnbd", "lightgbm_poisson", "lightgbm_l1", "zero"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, metric in zip(axes, ("mae", "rmse"), strict=True):
        means = [cdnow["summary"][f"{n}.{metric}"]["mean"] for n in names]
        sds = [cdnow["summary"][f"{n}.{metric}"]["sd"] for n in names]
        ax.bar(names, means, yerr=sds, color=["#7f7f7f", "#1f77b4", "#17becf", "#dddddd"])
        ax.set_title(f"CDNOW per-customer {metric.upper()} (lower is better)")
        ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return _svg(fig)


def _nanmean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else float("nan")


_TEMPLATE = jinja2.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shopintent — behaviour report</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:.9em}
svg{max-width:100%;height:auto}
</style></head><body>
<h1>Behavioural intent — held-out results</h1>
<p class="note">Every number comes from held-out folds or the test period. Evaluation run time
{{ "%.0f"|format(record.runtime_s) }} s. Regenerate with <code>shopintent bench behaviour</code>
then <code>shopintent report behaviour</code>.</p>

<h2>1. Session-level purchase intent (UCI Online Shoppers)</h2>
<p class="note">{{ record.uci.protocol }}. Data SHA-256 {% for k, v in record.uci.data.items() %}<code>{{ k }}</code> {{ v[:16] }}…{% endfor %}</p>
<table><tr><th>model</th><th>PageValues</th><th>ROC-AUC</th><th>PR-AUC</th><th>F1 (inner-val threshold)</th><th>ECE</th></tr>
{% for r in record.uci.results %}<tr><td>{{ r.kind }}</td><td>{{ "yes" if r.page_values else "no" }}</td>
{% for m in ["roc_auc", "pr_auc", "f1", "ece"] %}<td>{{ "%.4f"|format(r.summary[m].mean) }} ± {{ "%.4f"|format(r.summary[m].sd) }}</td>{% endfor %}</tr>
{% endfor %}</table>
{{ plots.reliability }}
{{ plots.uci_importance }}

<h2>2. Event-level intent (Taobao UserBehavior), early prediction</h2>
<p class="note">Purchase / next action: {{ record.taobao.protocol.purchase_next_action }}.<br>
Abandonment (cart not bought within {{ record.taobao.protocol.abandon_horizon_hours }} h): {{ record.taobao.protocol.abandon }}.<br>
Next action: which actions occur among the next {{ record.taobao.protocol.next_window }} events.
LightGBM seed {{ record.taobao.protocol.lightgbm_seed }}; GRU seeds {{ record.taobao.protocol.gru_seeds }}.</p>
<table><tr><th>label</th><th>base rate</th><th>LightGBM ROC-AUC</th><th>LightGBM PR-AUC</th><th>LightGBM F1</th>
{% for v in variants %}<th>GRU {{ v.replace("_", " ") }}: ROC-AUC per seed</th><th>GRU {{ v.replace("_", " ") }} − LightGBM, k ≤ 5 (95 % CI)</th>{% endfor %}</tr>
{% for section, label in taobao_rows %}{% set s = record.taobao[section] %}{% set lg = s.lightgbm.labels[label] %}
<tr><td>{{ label }}</td><td>{{ "%.3f"|format(record.taobao.base_rates[label]) }}</td><td>{{ "%.4f"|format(lg.roc_auc) }}</td>
<td>{{ "%.4f"|format(lg.pr_auc) }}</td><td>{{ "%.4f"|format(lg.f1) }}</td>
{% for v in variants %}{% set g = s.gru_variants[v] %}{% set boot = g.comparison[label].pooled_k1_5_gru_seed_mean_minus_lightgbm %}
<td>{% for e in g.seeds %}{{ "%.3f"|format(e.labels[label].roc_auc) }} {% endfor %}</td>
<td>{{ "%+.3f"|format(boot.difference) }} [{{ "%+.3f"|format(boot.low) }}, {{ "%+.3f"|format(boot.high) }}]</td>{% endfor %}</tr>
{% endfor %}</table>
{{ plots.early }}
<p class="note">Only {{ "%.0f"|format(100 * record.taobao.purchase.test_items_seen_in_training) }} % of last-day events
name an item seen in training: id embeddings learn rare ids from a handful of sessions and
overfit, so the GRU is shown with and without them. The user-history aggregates that both models
get dominate the purchase model (importance below).</p>
{{ plots.taobao_importance }}
<h3>Live scoring speed</h3>
<p>{{ record.taobao.scoring_speed.updates }} updates: p50 {{ "%.3f"|format(record.taobao.scoring_speed.p50_ms) }} ms,
p99 {{ "%.3f"|format(record.taobao.scoring_speed.p99_ms) }} ms wall
(CPU time p99 {{ "%.3f"|format(record.taobao.scoring_speed.cpu_p99_ms) }} ms;
load average {{ "%.1f"|format(record.taobao.scoring_speed.load_average_1m) }}).</p>

<h2>3. Repeat purchases (CDNOW)</h2>
<p class="note">{{ record.cdnow.protocol }}. Holdout purchase days: {{ "%.0f"|format(record.cdnow.holdout_total) }} over {{ record.cdnow.n_customers }} customers.</p>
<table><tr><th>predictor</th><th>MAE</th><th>RMSE</th><th>predicted total</th></tr>
{% for n in ["bgnbd", "lightgbm_poisson", "lightgbm_l1", "zero"] %}<tr><td>{{ n }}</td>
<td>{{ "%.4f"|format(record.cdnow.summary[n ~ ".mae"].mean) }} ± {{ "%.4f"|format(record.cdnow.summary[n ~ ".mae"].sd) }}</td>
<td>{{ "%.4f"|format(record.cdnow.summary[n ~ ".rmse"].mean) }} ± {{ "%.4f"|format(record.cdnow.summary[n ~ ".rmse"].sd) }}</td>
<td>{{ "%.0f"|format(record.cdnow.predicted_totals.get(n, 0.0)) }}</td></tr>{% endfor %}</table>
{{ plots.cdnow }}
</body></html>
""")

TAOBAO_ROWS = [("purchase", "y_purchase"), ("abandon", "y_abandon"), ("next_action", "y_next_view"),
               ("next_action", "y_next_add_to_cart"), ("next_action", "y_next_favourite"),
               ("next_action", "y_next_purchase")]


def render_report(record: dict[str, Any]) -> str:
    """The HTML page for an evaluation record."""
    uci_lgbm = next(r for r in record["uci"]["results"] if r["kind"] == "lightgbm" and r["page_values"])
    plots = {
        "reliability": reliability_plot(record["uci"]),
        "uci_importance": importance_plot(uci_lgbm["importance"],
                                          "UCI LightGBM (with PageValues): global importance"),
        "early": early_curve_plot(record["taobao"]),
        "taobao_importance": importance_plot(record["taobao"]["purchase"]["importance"],
                                             "Taobao purchase LightGBM: global importance"),
        "cdnow": cdnow_plot(record["cdnow"]),
    }
    variants = list(record["taobao"]["purchase"]["gru_variants"])
    return _TEMPLATE.render(record=record, plots=plots, taobao_rows=TAOBAO_ROWS, variants=variants)
