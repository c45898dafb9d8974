"""Fairness audits on real held-out data: fairlearn's numbers, intervals, and bad input."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from shopintent.fairness import subjects
from shopintent.fairness.audit import audit_classifier, audit_means
from shopintent.fairness.groups import (
    NoGroupLargeEnough,
    UnknownGroupColumn,
    check_groups,
    deciles,
    group_column,
    popularity_bands,
)
from shopintent.settings import Settings


@pytest.fixture(scope="module")
def dmc(session_settings: Settings) -> subjects.Subject:
    return subjects.dmc_fraud(session_settings, seed=0)


def test_fraud_audit_by_trust_level_reports_fairlearns_gaps_with_intervals(dmc: subjects.Subject) -> None:
    audit = audit_classifier(dmc.model, dmc.y_true, dmc.y_pred, dmc.groups, dmc.y_score, n_boot=100)
    column = audit.columns[0]
    assert column.column == "trustLevel" and len(dmc.y_true) == 564  # 30 % of 1,879 held out
    labels = dmc.groups["trustLevel"].to_numpy()
    dp = column.gaps["demographic_parity_difference"]
    assert dp.value == pytest.approx(demographic_parity_difference(dmc.y_true, dmc.y_pred, sensitive_features=labels))
    assert dp.low <= dp.value <= dp.high
    # Only trust levels 1 and 2 hold fraud in the held-out rows: the odds are compared between them alone.
    both = column.groups["equalized_odds_groups"]
    assert sorted(both) == ["1", "2"]
    rows = np.isin(labels, both)
    assert column.gaps["equalized_odds_difference"].value == pytest.approx(
        equalized_odds_difference(dmc.y_true[rows], dmc.y_pred[rows], sensitive_features=labels[rows]))
    # Per-group selection rates equal the plain group means, each inside its own interval.
    by_hand = pd.Series(dmc.y_pred).groupby(labels).mean()
    for group, interval in column.intervals["selection_rate"].items():
        assert interval.value == pytest.approx(by_hand[group]) and interval.low <= interval.value <= interval.high
    assert column.by_group.loc["5", "selection_rate"] == 0.0  # no high-trust customer is flagged


def test_purchase_intent_audit_finds_the_visitor_type_gap_and_names_the_small_group(
        session_settings: Settings) -> None:
    uci = subjects.uci_purchase(session_settings, seed=0, kind="logistic")
    audit = audit_classifier(uci.model, uci.y_true, uci.y_pred, uci.groups[["VisitorType", "Browser"]], uci.y_score,
                             n_boot=100)
    visitor, browser = audit.columns
    assert visitor.groups["too_small"] == {"Other": 27}  # reported, not dropped silently
    assert set(visitor.by_group.index) == {"Returning_Visitor", "New_Visitor"}
    rates = visitor.by_group["selection_rate"]
    assert rates["New_Visitor"] > rates["Returning_Visitor"]
    assert visitor.gaps["demographic_parity_difference"].excludes_zero
    assert browser.groups["too_small"] and all(n < 30 for n in browser.groups["too_small"].values())
    assert "left out of the gaps" in browser.groups["note"]


def test_audit_means_compares_a_per_row_quantity_between_groups() -> None:
    values = np.r_[np.ones(50), np.zeros(50), np.ones(10), np.zeros(90)]
    groups = pd.DataFrame({"band": ["a"] * 100 + ["b"] * 100})
    audit = audit_means("toy", {"hit": values}, groups, n_boot=200)
    gap = audit.columns[0].gaps["hit_difference"]
    assert gap.value == pytest.approx(0.4) and gap.excludes_zero


def test_unknown_group_column_and_groups_all_too_small_raise_clear_errors(dmc: subjects.Subject) -> None:
    table = pd.DataFrame({"trustLevel": [1, 2, 3]})
    with pytest.raises(UnknownGroupColumn, match="'Region' is not in the data; columns are: trustLevel"):
        group_column(table, "Region")
    with pytest.raises(NoGroupLargeEnough, match="no group has 30 rows"):
        check_groups(pd.Series(["a", "b", "b"], name="g"))
    with pytest.raises(ValueError, match="`y_pred` has 3 rows; `y_true` has 564"):
        audit_classifier("m", dmc.y_true, [0, 1, 0], dmc.groups)


def test_derived_groups_deciles_and_popularity_bands() -> None:
    d = deciles(pd.Series(np.arange(100)))
    assert d.value_counts().to_dict() == {f"d{k:02d}": 10 for k in range(1, 11)}
    bands = popularity_bands(pd.Series([10, 20, 20, 10, 20, 20], index=list("abcdef")))
    assert bands.to_dict() == {"b": "head", "c": "mid", "e": "mid", "f": "tail", "a": "tail", "d": "tail"}


def test_zh_intent_rows_halve_each_shared_intent_without_a_text_in_both_halves(session_settings: Settings) -> None:
    from shopintent.fairness.subjects import _zh_intent_rows
    from shopintent.text.recipes import EN_ZH_INTENTS

    test_x, test_y, train_x, train_y = _zh_intent_rows(session_settings, seed=0)
    assert not set(test_x) & set(train_x)  # the bilingual model never trains on a test text
    assert set(test_y) == set(EN_ZH_INTENTS) and set(train_y) <= set(EN_ZH_INTENTS)
    for intent in EN_ZH_INTENTS:  # the test half is the larger one (capped), so both models meet every intent
        assert test_y.count(intent) >= min(train_y.count(intent), 1)
    assert _zh_intent_rows(session_settings, seed=0)[0] == test_x  # seeded: the same rows every run


def test_report_writes_the_audits_tables_and_plot_as_one_html_file(dmc: subjects.Subject, tmp_path: Path) -> None:
    from shopintent.fairness.report import write_report
    from shopintent.fairness.run import FairnessRun

    audit = audit_classifier(dmc.model, dmc.y_true, dmc.y_pred, dmc.groups, dmc.y_score, n_boot=20)
    path = write_report(FairnessRun(audits=[audit], data={"dmc": "sha"}), tmp_path / "reports" / "fairness.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and html.escape(audit.model) in page
    assert "<h4>trustLevel</h4>" in page and "demographic_parity_difference" in page
    assert page.count('<img alt="selection_rate" src="data:image/png;base64,') == 1  # the plot, embedded


def test_auc_interval_holds_sklearns_auc_and_ignores_the_rows_order(dmc: subjects.Subject) -> None:
    """On real held-out fraud scores: the value is sklearn's AUC, the interval brackets it, and the
    same rows in another order (as another pseudonym key would give) draw the very same interval."""
    from sklearn.metrics import roc_auc_score

    from shopintent.fairness.bootstrap import auc_interval

    y, score = np.asarray(dmc.y_true), np.asarray(dmc.y_score)
    interval = auc_interval(y, score, n_boot=300, seed=0)
    assert interval.value == pytest.approx(roc_auc_score(y, score))
    assert interval.low < interval.value < interval.high
    order = np.random.default_rng(7).permutation(len(y))
    assert auc_interval(y[order], score[order], n_boot=300, seed=0) == interval
    with pytest.raises(ValueError, match="both classes"):
        auc_interval(np.zeros(5), np.arange(5.0))
