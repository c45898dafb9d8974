"""The models that act on shoppers, trained on real training splits and scored on held-out rows.

Each function returns a :class:`Subject`: held-out labels, decisions and
scores of one model through its public API, with the group columns the data
carries for the same rows, the split, the seed and the data checksum. The
audit (:mod:`shopintent.fairness.audit`) only reads subjects, so a new model
to audit is a new function here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from shopintent.log import get_logger
from shopintent.settings import Settings

log = get_logger(__name__)
#: Share of rows held out for every audit (stratified, seed below).
TEST_SIZE = 0.3
#: Most frequent TalkingData device / os codes kept as their own group; the rest pooled as ``other``.
TOP_CODES = 8


@dataclass
class Subject:
    """One model's held-out decisions with the group labels of the same rows."""

    model: str
    y_true: np.ndarray
    y_pred: np.ndarray
    y_score: np.ndarray
    groups: pd.DataFrame
    split: str
    data: dict[str, str] = field(default_factory=dict)
    #: What the mitigation step needs (fitted model, rows), not reported.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


def uci_purchase(settings: Settings, seed: int = 0, kind: str = "lightgbm") -> Subject:
    """Purchase intent on UCI sessions (no ``page_values``: it leaks the label), 70/30 stratified."""
    from shopintent.behaviour.session_purchase import SessionPurchaseModel
    from shopintent.behaviour.uci import uci_features
    from shopintent.datasets import uci_online_shoppers as uci

    table = uci.load(settings)
    X, y = uci_features(table, page_values=False)
    train, test = train_test_split(np.arange(len(y)), test_size=TEST_SIZE, stratify=y, random_state=seed)
    model = SessionPurchaseModel(kind=kind, random_state=seed).fit(X.iloc[train], y[train])
    p = model.predict_proba(X.iloc[test])[:, 1]
    groups = pd.DataFrame({
        "VisitorType": table["visitor_type"].astype(str).to_numpy()[test],
        "Region": table["region"].astype(str).to_numpy()[test],
        "Browser": table["browser"].astype(str).to_numpy()[test],
        "OperatingSystems": table["operating_systems"].astype(str).to_numpy()[test],
    })
    return Subject(model=f"purchase intent (UCI, {kind})", y_true=y[test], y_pred=(p >= model.threshold_).astype(int),
                   y_score=p, groups=groups,
                   split=f"UCI online shoppers, stratified {int((1 - TEST_SIZE) * 100)}/{int(TEST_SIZE * 100)} "
                         f"split seed {seed}; decision = calibrated P(purchase) ≥ the model's F1 threshold",
                   data={"uci_online_shoppers": uci.SPEC.files[0].sha256},
                   extra={"model": model, "X": X, "y": y, "train": train, "test": test, "table": table})


def dmc_fraud(settings: Settings, seed: int = 0) -> Subject:
    """Fraud verdicts on DMC 2019 self-checkout transactions (cost threshold), 70/30 stratified."""
    from shopintent.datasets import dmc2019_selfcheckout_fraud as dmc
    from shopintent.risk.fraud import FraudModel

    table = dmc.load(settings)
    X, y = table[list(dmc.FEATURES)], table[dmc.LABEL].to_numpy().astype(int)
    train, test = train_test_split(np.arange(len(y)), test_size=TEST_SIZE, stratify=y, random_state=seed)
    model = FraudModel(kind="logistic", cost=dmc.COST_MATRIX, random_state=seed).fit(X.iloc[train], y[train])
    p = model.predict_proba(X.iloc[test])[:, 1]
    return Subject(model="fraud verdict (DMC 2019, logistic)", y_true=y[test],
                   y_pred=(p >= model.threshold_).astype(int), y_score=p,
                   groups=pd.DataFrame({"trustLevel": X["trustLevel"].astype(str).to_numpy()[test]}),
                   split=f"DMC 2019 train.csv, stratified 70/30 split seed {seed}; decision = flag when "
                         "P(fraud) ≥ the profit-maximising threshold of the cost matrix (+5/−25/−5/0)",
                   data={"dmc2019_selfcheckout_fraud": dmc.SPEC.files[0].sha256})


def talkingdata_clicks(settings: Settings, seed: int = 0) -> Subject:
    """Click-fraud review flags on the TalkingData sample: train on earlier days, flag the last day.

    Risk = 1 − P(download); a click is flagged for review above the score that
    flags 5 % of training clicks (the live scorer's ``click_thresholds``).
    ``y_true`` = the click did *not* lead to a download.
    """
    from shopintent.datasets import talkingdata_adtracking_sample as td
    from shopintent.fairness.groups import top_values
    from shopintent.risk.click_features import FEATURE_NAMES, click_features
    from shopintent.risk.clicks import TIME, click_model, time_split
    from shopintent.risk.scorer import click_thresholds

    clicks = td.load(settings)
    frame = click_features(clicks, TIME, 600.0)
    y = clicks[td.LABEL].to_numpy().astype(int)
    split = time_split(clicks[TIME])
    columns = list(FEATURE_NAMES)
    model = click_model(seed).fit(frame.loc[split.train, columns], y[split.train])
    risk_train = 1.0 - model.predict_proba(frame.loc[split.train, columns])[:, 1]
    risk = 1.0 - model.predict_proba(frame.loc[split.test, columns])[:, 1]
    review = click_thresholds(risk_train).review
    test = clicks.loc[split.test]
    groups = pd.DataFrame({"device": top_values(test["device"].astype(str), TOP_CODES).to_numpy(),
                           "os": top_values(test["os"].astype(str), TOP_CODES).to_numpy()})
    return Subject(model="click review flag (TalkingData, LightGBM)", y_true=1 - y[split.test],
                   y_pred=(risk >= review).astype(int), y_score=risk, groups=groups,
                   split=f"TalkingData sample: train {', '.join(split.train_days)}, test {split.test_day}; "
                         f"flag = risk ≥ the score flagging 5 % of training clicks; device/os: the "
                         f"{TOP_CODES} most frequent codes of the test day, the rest pooled as 'other'",
                   data={"talkingdata_adtracking_sample": td.SPEC.files[0].sha256})
