"""One fairness run over the real data: every audit, the incentive replay, mitigation and DP release.

``shopintent audit fairness`` (HTML report) and ``shopintent bench fairness``
(results file) both call :func:`run_fairness`, so the report and the
benchmark show the same numbers from the same code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shopintent.fairness import dp, incentive, subjects
from shopintent.fairness.audit import ModelAudit, audit_classifier, audit_means
from shopintent.fairness.bootstrap import N_BOOT
from shopintent.fairness.mitigation import MitigationResult, threshold_optimizer
from shopintent.log import get_logger
from shopintent.settings import Settings

log = get_logger(__name__)

#: The parts of a run, in the issue's order; a run may select some.
PARTS: tuple[str, ...] = ("classifiers", "recommendations", "incentive", "mitigation", "dp")
#: Group pair and bound of the engine constraint costed by OPE.
CONSTRAINT_PAIR = ("less active half", "more active half")
CONSTRAINT_RATIOS: tuple[float, ...] = (1.5, 1.1)


@dataclass
class FairnessRun:
    """Everything a run measured; ``as_dict`` is what the report and the results file hold."""

    audits: list[ModelAudit] = field(default_factory=list)
    recommendation_bands: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    incentive: dict[str, Any] = field(default_factory=dict)
    mitigation: list[MitigationResult] = field(default_factory=list)
    dp: dict[str, Any] = field(default_factory=dict)
    splits: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"audits": [a.as_dict() for a in self.audits], "recommendation_bands": self.recommendation_bands,
                "incentive": self.incentive, "mitigation": [m.as_dict() for m in self.mitigation],
                "dp": self.dp, "splits": self.splits, "data": self.data, "timings_s": self.timings_s,
                "parameters": self.parameters}


def _classifiers(run: FairnessRun, settings: Settings, n_boot: int, seed: int, min_rows: int) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for make in (subjects.uci_purchase, subjects.dmc_fraud, subjects.talkingdata_clicks, subjects.zh_en_sentiment):
        subject = make(settings, seed)
        run.audits.append(audit_classifier(subject.model, subject.y_true, subject.y_pred, subject.groups,
                                           subject.y_score, min_rows=min_rows, n_boot=n_boot, seed=seed,
                                           detail=subject.split))
        run.splits[subject.model] = subject.split
        run.data.update(subject.data)
        kept[subject.model] = subject
    for text in subjects.zh_en_intents(settings, seed):  # per-row correctness by language (multi-class)
        audit = audit_means(text.model, {"accuracy": text.correct}, text.groups, min_rows=min_rows, n_boot=n_boot,
                            seed=seed, detail=text.split)
        audit.overall.update({f"macro_f1_{language}": value for language, value in text.macro_f1.items()})
        run.audits.append(audit)
        run.splits[text.model] = text.split
        run.data.update(text.data)
    return kept


def _recommendations(run: FairnessRun, settings: Settings, n_boot: int, seed: int, min_rows: int) -> None:
    for make in (subjects.amazon_recommendations, subjects.taobao_recommendations):
        subject = make(settings)
        run.audits.append(audit_means(subject.model, {"hr@10": subject.hits}, subject.groups, min_rows=min_rows,
                                      n_boot=n_boot, seed=seed, detail=subject.split))
        run.recommendation_bands[subject.model] = subject.per_band
        run.splits[subject.model] = subject.split
        run.data.update(subject.data)


def _incentive(run: FairnessRun, settings: Settings, n_boot: int, seed: int, min_rows: int) -> None:
    from shopintent.datasets import taobao_userbehavior_head as taobao
    from shopintent.intervene.engine import DecisionEngine
    from shopintent.intervene.group_constraint import GroupRateConstraint
    from shopintent.intervene.policy import UpliftPolicy

    events = taobao.load(settings).events
    day, groups = incentive.shopper_groups(events)
    gap = settings.session_gap_minutes
    decisions, report = incentive.replay_log(day, lambda p: DecisionEngine(log_path=p, random_state=seed), gap)
    policy = UpliftPolicy()
    audit = incentive.incentive_audit(decisions, groups, policy, min_rows=min_rows, n_boot=n_boot, seed=seed)
    split = (f"Taobao head: engine replayed over the {len(day):,} events of {incentive.TEST_DAY.date()} "
             f"(China time, held out), prior policy, seed {seed}, item price assumed 50; groups from the "
             f"events before that day")
    audit.detail = split
    run.audits.append(audit)
    run.splits[audit.model] = split
    run.data["taobao_userbehavior_head"] = taobao.SPEC.files[0].sha256
    costs = [incentive.constraint_cost(decisions, groups["activity_half"], CONSTRAINT_PAIR, r, policy,
                                       n_boot=n_boot, seed=seed).as_dict() for r in CONSTRAINT_RATIOS]
    # On-policy: the engine itself holding the tighter bound over the same day.
    bound = GroupRateConstraint(groups["activity_half"].to_dict(), CONSTRAINT_PAIR, max_ratio=CONSTRAINT_RATIOS[-1])
    held, held_report = incentive.replay_log(
        day, lambda p: DecisionEngine(log_path=p, random_state=seed, constraint=bound), gap)
    held_audit = incentive.incentive_audit(held, groups[["activity_half"]], policy, min_rows=min_rows,
                                           n_boot=n_boot, seed=seed,
                                           name=f"decision engine offers with the constraint (ratio ≤ "
                                                f"{CONSTRAINT_RATIOS[-1]})")
    held_audit.detail = split + "; the engine held the constraint while deciding"
    run.audits.append(held_audit)
    run.incentive = {"decisions": int(len(decisions)), "actions": report.actions,
                     "constraint_opes": costs, "constrained_replay": {
                         "actions": held_report.actions,
                         "blocked_by_constraint": int(held_report.caps_hit.get("group_rate_ratio", 0))},
                     "group_sizes": {c: groups[c].value_counts().to_dict() for c in groups.columns}}


def _mitigation(run: FairnessRun, settings: Settings, kept: dict[str, Any], n_boot: int, seed: int,
                min_rows: int) -> None:
    from shopintent.behaviour.session_purchase import SessionPurchaseModel

    subject = next((s for s in kept.values() if s.model.startswith("purchase intent")), None)
    if subject is None:
        subject = subjects.uci_purchase(settings, seed)
    audit = next((a for a in run.audits if a.model == subject.model), None)
    if audit is None:
        audit = audit_classifier(subject.model, subject.y_true, subject.y_pred, subject.groups, subject.y_score,
                                 min_rows=min_rows, n_boot=n_boot, seed=seed, detail=subject.split)
    extra = subject.extra
    # Mitigate the column whose demographic-parity gap is most surely real: its interval excludes 0
    # and its lower end is the highest (a gap between two large groups, not between two tiny ones).
    candidates = []
    for column in audit.columns:
        gap = column.gaps.get("demographic_parity_difference")
        if gap is not None and gap.excludes_zero:
            candidates.append((gap.low, column.column))
    if not candidates:
        log.info("no gap whose interval excludes 0: nothing to mitigate", model=subject.model)
        return
    column_map = {"VisitorType": "visitor_type", "Region": "region", "Browser": "browser",
                  "OperatingSystems": "operating_systems"}
    _, column = max(candidates)
    groups = extra["table"][column_map[column]].astype(str).rename(column)
    for constraint in ("demographic_parity", "equalized_odds"):
        run.mitigation.append(threshold_optimizer(
            lambda: SessionPurchaseModel(kind="lightgbm", random_state=seed), extra["X"], extra["y"], groups,
            extra["train"], extra["test"], constraint=constraint, name=subject.model, min_rows=min_rows,
            n_boot=n_boot, seed=seed))


def _dp(run: FairnessRun, settings: Settings, seed: int) -> None:
    from shopintent.datasets import taobao_userbehavior_head as taobao
    from shopintent.datasets import uci_online_shoppers as uci
    from shopintent.recommend.segments import segment_users, user_features

    events = taobao.load(settings).events
    funnel = dp.shopper_funnel(events)
    segments = segment_users(user_features(events), k=5, seed=seed)
    sizes = {f"segment {k}": int(v) for k, v in segments.labels.value_counts().sort_index().items()}
    table = uci.load(settings)
    visitor = table["visitor_type"].astype(str)
    numerators = table.groupby(visitor)["revenue"].sum().astype(int).to_dict()
    denominators = visitor.value_counts().to_dict()
    eps = settings.dp_epsilon
    releases = [dp.release_counts("Taobao funnel (shoppers)", funnel, eps, "sequential"),
                dp.release_counts("Taobao segment sizes (shoppers)", sizes, eps, "parallel"),
                dp.release_rates("UCI purchase rate by VisitorType (sessions)", numerators, denominators, eps)]
    errors = []
    for epsilon in dp.EPSILONS:
        for name, counts, composition in (("Taobao funnel (shoppers)", funnel, "sequential"),
                                          ("Taobao segment sizes (shoppers)", sizes, "parallel")):
            errors.append({"table": name, **dp.release_error(counts, epsilon, composition)})
    run.dp = {"epsilon": eps, "releases": [r.as_dict() for r in releases], "errors": errors}
    run.data["uci_online_shoppers"] = uci.SPEC.files[0].sha256
    run.data["taobao_userbehavior_head"] = taobao.SPEC.files[0].sha256


def run_fairness(settings: Settings, parts: Sequence[str] = PARTS, n_boot: int = N_BOOT, seed: int = 0,
                 progress: Callable[[str], None] | None = None) -> FairnessRun:
    """Run the selected ``parts`` on the real data (see :data:`PARTS`)."""
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown part(s) {', '.join(unknown)}; known: {', '.join(PARTS)}")
    min_rows = settings.fairness_min_group_rows
    run = FairnessRun(parameters={"n_boot": n_boot, "seed": seed, "min_group_rows": min_rows,
                                  "dp_epsilon": settings.dp_epsilon, "parts": list(parts)})
    kept: dict[str, Any] = {}
    for part in PARTS:
        if part not in parts:
            continue
        if progress is not None:
            progress(part)
        start = time.perf_counter()
        if part == "classifiers":
            kept = _classifiers(run, settings, n_boot, seed, min_rows)
        elif part == "recommendations":
            _recommendations(run, settings, n_boot, seed, min_rows)
        elif part == "incentive":
            _incentive(run, settings, n_boot, seed, min_rows)
        elif part == "mitigation":
            _mitigation(run, settings, kept, n_boot, seed, min_rows)
        elif part == "dp":
            _dp(run, settings, seed)
        run.timings_s[part] = round(time.perf_counter() - start, 1)
        log.info("fairness part done", part=part, seconds=run.timings_s[part])
    return run


def gap_rows(run: FairnessRun) -> pd.DataFrame:
    """One row per model × group column × gap: the table the report and the bench print."""
    rows = []
    for audit in run.audits:
        for column in audit.columns:
            for name, gap in column.gaps.items():
                rows.append({"model": audit.model, "column": column.column, "gap": name, "value": gap.value,
                             "low": gap.low, "high": gap.high, "excludes_zero": gap.excludes_zero,
                             "groups": len(column.by_group), "too_small": len(column.groups["too_small"])})
    return pd.DataFrame(rows)

