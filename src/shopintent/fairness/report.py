"""The fairness report: one self-contained HTML file with tables and plots per model and group column.

Plots are PNGs embedded as data URIs (matplotlib, Agg), so the file can be
mailed or archived without its folder. Every number printed comes from the
:class:`~shopintent.fairness.run.FairnessRun` it is given.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from shopintent.fairness.audit import ColumnAudit
from shopintent.fairness.run import FairnessRun

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f3f3f3}.flag{color:#b00020;font-weight:600}.note{color:#555;font-size:13px}
h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:2em}"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "–" if not np.isfinite(value) else f"{value:.4g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return html.escape(str(value))


def _table(columns: list[str], rows: list[list[Any]], flags: list[bool] | None = None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for k, row in enumerate(rows):
        cls = ' class="flag"' if flags and flags[k] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _plot(column: ColumnAudit, metric: str) -> str:
    """Bar chart of one per-group metric with its 95 % intervals, as an <img> data URI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per = column.intervals.get(metric, {})
    groups = [g for g in column.by_group.index if g in per]
    if not groups:
        return ""
    values = np.array([per[g].value for g in groups])
    low = np.array([per[g].low for g in groups])
    high = np.array([per[g].high for g in groups])
    fig, ax = plt.subplots(figsize=(min(1.0 + 0.6 * len(groups), 9), 2.6), dpi=90)
    ax.bar(range(len(groups)), values, color="#4e79a7",
           yerr=np.vstack([np.clip(values - low, 0, None), np.clip(high - values, 0, None)]), capsize=3)
    ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(metric, fontsize=8)
    ax.set_title(f"{column.column}: {metric} (95 % interval)", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return f'<img alt="{html.escape(metric)}" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _column_section(column: ColumnAudit) -> str:
    table = column.by_group
    parts = [f"<h4>{html.escape(column.column)}</h4>"]
    parts.append(_table(["group", *table.columns], [[g, *row.tolist()] for g, row in table.iterrows()]))
    if column.gaps:
        rows = [[name, gap.value, gap.low, gap.high, gap.excludes_zero] for name, gap in column.gaps.items()]
        parts.append(_table(["gap", "value", "95 % low", "95 % high", "interval excludes 0"], rows,
                            [gap.excludes_zero for gap in column.gaps.values()]))
    note = column.groups.get("note")
    if column.groups.get("too_small"):
        note = f"{note}: {column.groups['too_small']}"
    if note:
        parts.append(f'<p class="note">{html.escape(str(note))}</p>')
    metric = "selection_rate" if "selection_rate" in column.intervals else next(iter(column.intervals), None)
    if metric is not None:
        parts.append(_plot(column, metric))
    return "\n".join(parts)


def render_html(run: FairnessRun, title: str = "shopintent fairness report") -> str:
    """The whole report as one HTML string."""
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
           f'<p class="note">parameters: {html.escape(str(run.parameters))}; data SHA-256: '
           f"{html.escape(str(run.data))}</p>"]
    for audit in run.audits:
        out.append(f"<h2>{html.escape(audit.model)}</h2><p class='note'>{html.escape(audit.detail)}</p>")
        out.append(_table(list(audit.overall), [list(audit.overall.values())]))
        out.extend(_column_section(c) for c in audit.columns)
    if run.recommendation_bands:
        out.append("<h2>Recommendations: coverage and popularity bias per user band</h2>")
        for model, bands in run.recommendation_bands.items():
            columns = list(next(iter(bands.values())))
            out.append(f"<h4>{html.escape(model)}</h4>")
            out.append(_table(["user band", *columns], [[b, *v.values()] for b, v in bands.items()]))
    if run.incentive:
        out.append("<h2>Engine constraint: cost by off-policy evaluation on the same log</h2>")
        for cost in run.incentive["constraint_opes"]:
            rows = [[policy, metric, v.get("value"), v.get("low", float("nan")), v.get("high", float("nan"))]
                    for policy, metrics in cost["estimates"].items() for metric, v in metrics.items()]
            out.append(f"<h4>ratio ≤ {cost['max_ratio']} between {html.escape(' / '.join(cost['groups']))}</h4>")
            out.append(_table(["policy", "estimate", "value", "95 % low", "95 % high"], rows))
            out.append(_table(["policy", *cost["groups"]],
                              [[p, *r.values()] for p, r in cost["offer_rates"].items()]))
    if run.mitigation:
        out.append("<h2>Mitigation (fairlearn ThresholdOptimizer): cost side by side</h2>")
        for m in run.mitigation:
            out.append(f"<h4>{html.escape(m.model)} by {html.escape(m.column)}, {html.escape(m.constraint)}</h4>")
            out.append(_table(["", *m.before], [["plain", *m.before.values()], ["mitigated", *m.after.values()]]))
            gaps = [[k, m.audit_before.gaps[k].value, m.audit_after.gaps[k].value,
                     f"[{m.audit_after.gaps[k].low:.3f}, {m.audit_after.gaps[k].high:.3f}]"]
                    for k in m.audit_before.gaps]
            out.append(_table(["gap", "plain", "mitigated", "mitigated 95 % interval"], gaps))
            out.append(f'<p class="note">{html.escape(m.detail)}</p>')
    if run.dp:
        out.append(f"<h2>Private aggregates (OpenDP, ε = {run.dp['epsilon']})</h2>")
        for release in run.dp["releases"]:
            rows = release["rows"]
            out.append(f"<h4>{html.escape(release['name'])}</h4>")
            out.append(_table(list(rows[0]), [list(r.values()) for r in rows]))
        errors = run.dp["errors"]
        out.append("<h4>Error of released vs exact counts</h4>")
        out.append(_table(list(errors[0]), [list(e.values()) for e in errors]))
    out.append("</body></html>")
    return "\n".join(out)


def write_report(run: FairnessRun, path: Path | str) -> Path:
    """Write :func:`render_html` to ``path`` (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(run), encoding="utf-8")
    return path
