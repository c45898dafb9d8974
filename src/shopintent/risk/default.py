"""The default risk models the service runs, trained once by ``shopintent models prepare``.

Two models and a rule file:

* **sessions**: the :class:`~shopintent.risk.anomaly.AnomalyDetector` fit on
  the Taobao log's sessions before 2017-12-03 (China time), the training days
  (the last day is what replays and the intervention benchmark test on), kept
  as a :class:`~shopintent.risk.session_scorer.SessionRiskScorer`;
* **transactions**: the DMC 2019 :class:`~shopintent.risk.fraud.FraudModel`
  (LightGBM, calibrated) with the official cost matrix, its hold threshold
  chosen on inner folds, loaded as a :class:`~shopintent.risk.fraud_scoring.FraudScorer`
  (the same scores without importing LightGBM or scikit-learn);
* **rules**: ``Settings.risk_rules_path``, else the package's
  ``default_rules.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from shopintent.log import get_logger
from shopintent.persist import has_manifest
from shopintent.risk.rules import Rule, load_rules
from shopintent.risk.scorer import TransactionScorer
from shopintent.risk.session_scorer import SessionRiskScorer
from shopintent.settings import Settings

log = get_logger(__name__)

#: The first day the default session detector never saw (China time), as in the intervention replay.
TRAIN_BEFORE = pd.Timestamp("2017-12-03", tz="Asia/Shanghai")
DEFAULT_RULES = Path(__file__).with_name("default_rules.toml")


def default_model_dir(settings: Settings) -> Path:
    """Where the default risk models live (``sessions/`` and ``transactions/``)."""
    return Path(settings.state_dir) / "risk" / "default"


def model_folders(settings: Settings) -> tuple[Path, Path]:
    """The session detector's and the transaction model's folders."""
    root = default_model_dir(settings)
    return root / "sessions", root / "transactions"


def rules_path(settings: Settings) -> Path:
    """The rule file the service runs: the shop's when set, else the shipped default."""
    return Path(settings.risk_rules_path) if settings.risk_rules_path else DEFAULT_RULES


@dataclass
class DefaultRisk:
    """What the service scores with: sessions, transactions (with the rules), and where rules came from."""

    sessions: SessionRiskScorer
    transactions: TransactionScorer
    rules: list[Rule]
    rules_source: Path


def train_default_models(settings: Settings) -> None:
    """Fit and save both default models (about 10 s on 2 cores)."""
    from shopintent.datasets import dmc2019_selfcheckout_fraud as dmc
    from shopintent.datasets import taobao_userbehavior_head as taobao
    from shopintent.risk.anomaly import AnomalyDetector, session_features
    from shopintent.risk.fraud import FraudModel

    sessions_dir, transactions_dir = model_folders(settings)
    events = taobao.load(settings).events
    train = events[events["timestamp"] < TRAIN_BEFORE]
    X = session_features(train, settings.session_gap_minutes)
    detector = AnomalyDetector(random_state=0).fit(X)
    SessionRiskScorer.from_detector(detector, X).save(
        sessions_dir, metrics={"train_sessions": len(X), "train_events": len(train),
                               "train_before": str(TRAIN_BEFORE)})
    log.info("default session risk model trained", sessions=len(X))
    table = dmc.load(settings)
    Xt, y = table[list(dmc.FEATURES)], table[dmc.LABEL].to_numpy()
    model = FraudModel(kind="lightgbm", cost=dmc.COST_MATRIX).fit(Xt, y)
    model.save(transactions_dir, metrics={"train_rows": len(Xt), "fraud": int(y.sum()),
                                          "oof_profit_per_1000": model.oof_profit_per_1000_})
    log.info("default transaction risk model trained", rows=len(Xt), threshold=model.threshold_)


def load_default_risk(settings: Settings, train_missing: bool = True) -> DefaultRisk:
    """The default risk models and rules; trained first when missing and ``train_missing``.

    With ``train_missing`` (``models prepare``), a session model saved in the older per-tree
    layout is also rewritten in the packed one; the service (``train_missing=False``) only reads.
    """
    from shopintent.inference.trees import arrays_have_counts, write_tree_arrays
    from shopintent.persist import write_manifest
    from shopintent.risk.fraud_scoring import FraudScorer

    folders = model_folders(settings)
    if not all(has_manifest(f) for f in folders):
        if not train_missing:
            raise FileNotFoundError(f"default risk models are not prepared in {default_model_dir(settings)}")
        train_default_models(settings)
    source = rules_path(settings)
    rules = load_rules(source)
    sessions = SessionRiskScorer.load(folders[0])
    if train_missing and not sessions.packed_on_disk:
        # `models prepare` rewrites an older per-tree save packed (same arrays, same scores, no
        # re-training), so the service's next start reads six arrays instead of 1,000
        sessions.save(folders[0], metrics=sessions.metrics)
        log.info("default session risk model rewritten in the packed layout", path=str(folders[0]))
    booster = folders[1] / "booster.txt"
    if train_missing and booster.is_file() and not arrays_have_counts(booster):
        # likewise the transaction booster's NumPy form (same trees, with the node counts its
        # reason codes need): the service then scores and explains it without LightGBM
        # (risk.fraud_scoring)
        if write_tree_arrays(booster) is not None:
            write_manifest(folders[1])
            log.info("transaction booster's NumPy form written", path=str(folders[1]))
    return DefaultRisk(sessions=sessions,
                       transactions=TransactionScorer(FraudScorer.load(folders[1]), rules),
                       rules=rules, rules_source=source)
