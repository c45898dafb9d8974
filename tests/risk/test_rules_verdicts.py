"""The shop's rule file, verdicts with cost-tied actions, and scorers that reject malformed events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopintent.datasets import dmc2019_selfcheckout_fraud as dmc
from shopintent.risk.costs import CostMatrix
from shopintent.risk.fraud import FraudModel
from shopintent.risk.rules import evaluate_rules, load_rules, parse_rules
from shopintent.risk.scorer import TransactionScorer
from shopintent.risk.verdict import ActionThresholds, risk_verdict

RULES = """
[[rule]]
name = "blocked ip"
kind = "block_list"
field = "ip"
values = [5348, "5314"]
action = "block"

[[rule]]
name = "ip click burst"
kind = "velocity"
field = "ip_n1m"
max = 30
action = "hold"

[[rule]]
name = "low trust, big basket"
kind = "amount"
field = "grandTotal"
max = 90
action = "review"
"""


def test_rule_file_fires_block_lists_velocity_and_amounts(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    rules = load_rules(path)
    assert [r.kind for r in rules] == ["block_list", "velocity", "amount"]
    hits = evaluate_rules(rules, {"ip": "5348", "ip_n1m": 31.0, "grandTotal": 12.0})
    assert [(h.rule, h.action) for h in hits] == [("blocked ip", "block"), ("ip click burst", "hold")]
    assert hits[0].reason == "rule blocked ip: ip 5348 is listed"
    # a rule on a field the event lacks does not fire (transaction rules never block clicks)
    assert evaluate_rules(rules, {"ip": 1, "ip_n1m": float("nan")}) == []


@pytest.mark.parametrize(("text", "message"), [
    ('[[rule]]\nname="a"\nkind="speed"\nfield="x"\nmax=1\naction="hold"', r"rule 1 \('a'\): `kind` 'speed'"),
    ('[[rule]]\nname="a"\nkind="velocity"\nfield="x"\naction="hold"', "a velocity rule needs `max`"),
    ('[[rule]]\nname="a"\nkind="amount"\nfield="x"\nmax="lots"\naction="hold"', "`max` 'lots' is not a finite"),
    ('[[rule]]\nname="a"\nkind="block_list"\nfield="x"\nvalues=[]\naction="hold"', "non-empty `values`"),
    ('[[rule]]\nkind="amount"\nfield="x"\nmax=1\naction="hold"', "rule 1: `name` is missing"),
    ('[[rule]]\nname="a"\nkind="amount"\nfield="x"\nmax=1\naction="ban"', "`action` 'ban' is not one of"),
    ("[[rule]\nname=", "not valid TOML"),
])
def test_a_wrong_rule_is_refused_naming_the_rule_and_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rules(text)


def test_actions_follow_the_cost_matrix_and_a_rule_can_only_raise_them() -> None:
    cost = CostMatrix(5, -25, -5, 0)
    thresholds = ActionThresholds.from_cost(cost)
    assert thresholds.hold == pytest.approx(cost.break_even)  # no model threshold: break-even
    assert thresholds.review == pytest.approx(0.1)  # a review costing 1 pays once p·(5 − −5) ≥ 1
    assert [thresholds.action(p) for p in (0.05, 0.2, 0.8, 0.99)] == ["allow", "review", "hold", "block"]
    hits = evaluate_rules(parse_rules(RULES), {"ip": 5348})
    verdict = risk_verdict(0.01, thresholds, {"ip_n1m": 0.4, "app": -1.0}, hits, {"ip_n1m": 3.0})
    assert verdict.action == "block"
    assert verdict.reasons == ["rule blocked ip: ip 5348 is listed", "ip_n1m=3 raises risk (+0.40 log-odds)"]


def test_scoring_a_batch_rejects_malformed_transactions_and_scores_the_rest(dmc_table: pd.DataFrame) -> None:
    X, y = dmc_table[list(dmc.FEATURES)], dmc_table[dmc.LABEL]
    model = FraudModel(kind="logistic", cost=dmc.COST_MATRIX).fit(X.iloc[:1500], y.iloc[:1500])
    scorer = TransactionScorer(model, parse_rules(RULES))
    good = X.iloc[1500:1510].to_dict("records")
    batch = [good[0], {**good[1], "grandTotal": "12,50"}, "not a record", {**good[2], "trustLevel": None},
             {**good[3], "valuePerSecond": float("inf")}, *good[4:]]
    verdicts, rejected = scorer.score_batch(batch)
    assert [(r.index, r.reason) for r in rejected] == [
        (1, "`grandTotal` '12,50' is not a number"), (2, "expected an object of fields, got str"),
        (3, "`trustLevel` is missing"), (4, "`valuePerSecond` inf is not a finite number")]
    assert [i for i, _ in verdicts] == [0, 5, 6, 7, 8, 9, 10]
    scores = np.array([v.score for _, v in verdicts])
    assert ((scores > 0) & (scores < 1)).all()
    flagged = next(v for _, v in scorer.score_batch([{**good[0], "grandTotal": 99.0}])[0])
    assert flagged.action in ("review", "hold", "block") and flagged.rules == ["low trust, big basket"]
