"""The tables of ``docs/fairness.md``, rendered from ``benchmarks/results/fairness.json``.

Kept here (not in ``evaluation/docs_render.py``) so the fairness rows change with the
fairness benchmark that names them; ``docs_render`` adds :func:`fairness_tables` to its
``TABLES``. The renderer's cell types are imported when the tables are built (the
renderer imports this module while it loads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopintent.evaluation.docs_render import Cell, Part, Table

_CI = r"95 % CI (\[[^\]]+\])"


def _cells() -> Any:
    from shopintent.evaluation import docs_render

    return docs_render


def _with_ci(name: str, fmt: str = ".3f") -> tuple[Part, ...]:
    return (_cells().Value(name, fmt), " ", _cells().Detail(name, _CI))


def _profile_rows() -> tuple[tuple[Cell, ...], ...]:
    return (
        ("incremental = batch: shoppers compared, every column equal",
         _cells().Value("profile: incremental equals batch (shoppers compared)", ",.0f")),
        ("purchase on the last day: ROC-AUC (95 % CI), held-out day", _with_ci("profile purchase AUC (held-out day)")),
        ("churn (no event on the last day): ROC-AUC (95 % CI), held-out day",
         _with_ci("profile churn AUC (held-out day)")),
        ("batch build, SQL on DuckDB, all events (s; shared busy machine)",
         _cells().Value("profile batch build (SQL on DuckDB)", ".2f")),
        ("incremental, all events in 4 appends (s; shared busy machine)",
         _cells().Value("profile incremental update, all events", ".2f")),
        ("live profiles in the service: fold, CPU µs per stored event (rounds of 250)",
         _cells().Value("profile live fold: CPU per event", ".1f")),
        ("live profiles in the service: one shopper's answer, CPU ms",
         _cells().Value("profile live answer: CPU per shopper", ".2f")),
        ("first round after start, before: whole store folded inside the sink's round, CPU s",
         _cells().Value("profile live first round before: whole store folded in the sink round", ".2f")),
        ("first round after start, now: the sink round's own CPU, ms",
         _cells().Value("profile live first round after: the sink round's own CPU", ".2f")),
        ("now: background catch-up of the whole store without a snapshot, CPU s",
         _cells().Value("profile live catch-up after: background CPU, whole store, no snapshot", ".2f")),
        ("now: longest background chunk fold (5,000 seqs), CPU ms",
         _cells().Value("profile live catch-up after: longest chunk fold CPU", ".1f")),
        ("snapshot of the accumulators: save CPU s / size MB",
         (_cells().Value("profile live snapshot: save CPU", ".2f"), " / ",
          _cells().Value("profile live snapshot: size", ".2f"))),
        ("restart from a 90 % snapshot + the newer 10 %, CPU s",
         _cells().Value("profile live restart: snapshot of 90% + the newer events, CPU", ".2f")),
        ("restart from a snapshot of the whole store, CPU s",
         _cells().Value("profile live restart: snapshot of the whole store, CPU", ".2f")),
        ("restart = batch: shoppers compared, every column equal",
         _cells().Value("profile live restart equals batch (shoppers compared)", ",.0f")),
    )


_CLASSIFIER_COLUMNS = (
    ("purchase intent UCI", "purchase intent (UCI, LightGBM)", ("VisitorType", "Region", "Browser", "OperatingSystems")),
    ("fraud DMC", "fraud verdict (DMC 2019, logistic)", ("trustLevel",)),
    ("clicks TalkingData", "click review flag (TalkingData)", ("device", "os")),
    ("sentiment zh+en", "negative-review detection (TF-IDF)", ("language",)),
)


def _gap_rows() -> tuple[tuple[Cell, ...], ...]:
    rows: list[tuple[Cell, ...]] = []
    for key, shown, columns in _CLASSIFIER_COLUMNS:
        for column in columns:
            base = f"gap: {key} / {column} / "
            rows.append((shown, column, _with_ci(base + "demographic_parity_difference"),
                         _with_ci(base + "equalized_odds_difference"), _with_ci(base + "calibration_gap_range")))
    return tuple(rows)


def _recs_rows() -> tuple[tuple[Cell, ...], ...]:
    rows: list[tuple[Cell, ...]] = []
    for key in ("recs Amazon Beauty", "recs Taobao"):
        for column, groups in (("user_activity", ("light", "middle", "heavy")),
                               ("target_popularity", ("head", "mid", "tail"))):
            cells = tuple(_with_ci(f"rate: {key} / {column} / {g} / hr@10", ".4f") for g in groups)
            rows.append((key.removeprefix("recs "), column, *cells, _with_ci(f"gap: {key} / {column} / hr@10_difference", ".4f")))
    return tuple(rows)


def _incentive_rows() -> tuple[tuple[Cell, ...], ...]:
    rows: list[tuple[Cell, ...]] = []
    for key, shown, columns in (("offers Taobao", "engine", ("activity", "activity_half")),
                                ("offers Taobao constrained", "engine, ratio ≤ 1.1", ("activity_half",))):
        for column in columns:
            base = f"gap: {key} / {column} / "
            rows.append((shown, column, *(_with_ci(base + f"{m}_difference") for m in
                                          ("offer_rate", "coupon_rate", "spend", "uplift_value", "purchase_rate"))))
    return tuple(rows)


def _constraint_rows() -> tuple[tuple[Cell, ...], ...]:
    rows: list[tuple[Cell, ...]] = []
    for ratio in ("1.5", "1.1"):
        for policy in ("logged", "constrained"):
            base = f"constraint ratio ≤ {ratio}: {policy} "
            rows.append((ratio, policy, _with_ci(base + "purchase_rate_snips", ".4f"),
                         _with_ci(base + "purchase_rate_ips", ".4f"),
                         _cells().Value(base + "expected_spend_per_decision", ".4f"),
                         _cells().Value(base + "offer rate, less active half", ".3f"),
                         _cells().Value(base + "offer rate, more active half", ".3f")))
    return tuple(rows)


#: The column the benchmark mitigated (the gap with the highest lower bound); see docs/fairness.md.
MITIGATED_COLUMN = "VisitorType"


def _mitigation_rows() -> tuple[tuple[Cell, ...], ...]:
    rows: list[tuple[Cell, ...]] = []
    for constraint in ("demographic_parity", "equalized_odds"):
        base = f"mitigation {constraint} by {MITIGATED_COLUMN}: "
        for side in ("plain", "mitigated"):
            rows.append((constraint.replace("_", " "), side,
                         _with_ci(base + f"roc_auc, {side}"),
                         *(_cells().Value(base + f"{m}, {side}", ".3f") for m in
                           ("f1", "balanced_accuracy", "selection_rate")),
                         _with_ci(base + f"demographic_parity_difference, {side}"),
                         _with_ci(base + f"equalized_odds_difference, {side}")))
    return tuple(rows)


def _dp_rows() -> tuple[tuple[Cell, ...], ...]:
    rows: list[tuple[Cell, ...]] = []
    for table in ("Taobao funnel (shoppers)", "Taobao segment sizes (shoppers)"):
        for eps in ("0.1", "1", "10"):
            rows.append((table, eps, _cells().Value(f"dp {table}: mean absolute error, ε={eps}", ".2f"),
                         _cells().Value(f"dp {table}: mean relative error, ε={eps}", ".4f")))
    return tuple(rows)


def _text_intent_rows() -> tuple[tuple[Cell, ...], ...]:
    rows: list[tuple[Cell, ...]] = []
    for key, shown in (("intents zh/en en-trained", "English rows only"),
                       ("intents zh/en bilingual", "English + Chinese training half")):
        rows.append((shown, *(_with_ci(f"rate: {key} / language / {g} / accuracy", ".3f") for g in ("en", "zh")),
                     _with_ci(f"gap: {key} / language / accuracy_difference", ".3f"),
                     *(_cells().Value(f"text intents: {key} / {g} / macro-F1", ".3f") for g in ("en", "zh"))))
    return tuple(rows)


def fairness_tables() -> dict[str, Table]:
    """Every table of docs/fairness.md, by block key."""
    Table = _cells().Table  # noqa: N806
    return {
        "fairness.profiles": Table("fairness", ("profiles (Taobao head)", "value"), _profile_rows()),
        "fairness.gaps": Table("fairness", ("model", "group column", "demographic-parity difference (95 % CI)",
                                        "equalised-odds difference (95 % CI)", "calibration-gap range (95 % CI)"),
                           _gap_rows()),
        "fairness.text_intents": Table("fairness", ("trained on", "en accuracy (95 % CI)", "zh accuracy (95 % CI)",
                                                "accuracy difference (95 % CI)", "en macro-F1", "zh macro-F1"),
                                   _text_intent_rows()),
        "fairness.recs": Table("fairness", ("data", "group column", "HR@10 light / head (95 % CI)",
                                        "middle / mid", "heavy / tail", "HR@10 difference (95 % CI)"), _recs_rows()),
        "fairness.incentive": Table("fairness", ("replay", "group column", "offer-rate gap", "coupon-rate gap",
                                             "spend gap", "uplift-value gap", "purchase-rate gap"),
                                _incentive_rows()),
        "fairness.constraint": Table("fairness", ("max ratio", "policy", "purchase rate, SNIPS (95 % CI)",
                                              "purchase rate, IPS (95 % CI)", "expected spend per decision",
                                              "offer rate, less active half", "offer rate, more active half"),
                                 _constraint_rows()),
        "fairness.mitigation": Table("fairness", ("constraint", "decisions", "ROC-AUC (95 % CI)", "F1", "balanced accuracy",
                                              "selection rate", "demographic-parity difference (95 % CI)",
                                              "equalised-odds difference (95 % CI)"), _mitigation_rows()),
        "fairness.dp": Table("fairness", ("released table", "ε", "mean absolute error (shoppers)",
                                      "mean relative error"), _dp_rows()),
    }
