"""The service's sklearn-free uplift scorer answers as the fitted policy on real decisions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopintent.intervene import DEFAULT_ACTIONS, DecisionContext, DecisionEngine, read_decisions
from shopintent.intervene.policy import UpliftPolicy, _context_fields
from shopintent.intervene.replay import replay_events
from shopintent.intervene.uplift_scoring import UpliftScorer
from tests.conftest import REAL_DATA_DIR


@pytest.fixture
def real_data(monkeypatch: pytest.MonkeyPatch) -> None:
    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(REAL_DATA_DIR))


def test_a_fitted_policy_loaded_as_the_scorer_gives_the_same_probabilities(tmp_path: Path,
                                                                           real_data: None) -> None:
    from shopintent.samples import taobao_sessions

    engine = DecisionEngine(policy=UpliftPolicy(epsilon=1.0), log_path=tmp_path / "log.jsonl", random_state=0)
    replay_events(taobao_sessions(5000), engine)
    engine.close()
    decisions = read_decisions(tmp_path / "log.jsonl")
    fitted = UpliftPolicy(min_rows=5, epsilon=0.05).fit(decisions)
    assert fitted.coef_, "the replay must give every arm enough rows for learned coefficients"
    scorer = UpliftScorer.load(fitted.save(tmp_path / "policy"))
    assert type(scorer) is UpliftScorer and scorer.version == fitted.version

    contexts = [DecisionContext.from_dict(_context_fields(c)) for c in decisions["context"]]
    assert len(contexts) > 100
    worst = max(float(np.max(np.abs(scorer.probabilities(c, DEFAULT_ACTIONS)
                                     - fitted.probabilities(c, DEFAULT_ACTIONS)))) for c in contexts)
    assert worst <= 1e-9
    # and back: what the scorer's class reads, the estimator reads too (one saved form)
    again = UpliftPolicy.load(tmp_path / "policy")
    assert type(again) is UpliftPolicy and again.coef_ == scorer.coef_


def test_the_default_engine_decides_with_the_scorer(settings) -> None:  # type: ignore[no-untyped-def]
    from shopintent.intervene import load_default_engine

    engine = load_default_engine(settings, random_state=0)
    assert type(engine.policy) is UpliftScorer
    assert not hasattr(engine.policy, "fit")  # deciding never needs the estimator
