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


@dataclass
class RecommendationSubject:
    """Per held-out example: HR@10 hit, the user's activity band and the target's popularity band;
    coverage and ARP of each user band's top-10 lists."""

    model: str
    hits: np.ndarray
    groups: pd.DataFrame
    per_band: dict[str, dict[str, float]]
    split: str
    data: dict[str, str] = field(default_factory=dict)


def recommendation_subject(sequences: list[Any], source: str, data: dict[str, str],
                           k_neighbours: int = 100) -> RecommendationSubject:
    """Session kNN on user sequences, leave-one-out; HR@10 per user activity and item popularity band.

    User band by the length of the user's training history: ``light`` (bottom
    quartile), ``heavy`` (top quartile), ``middle``; the target item's band by
    its training popularity (``head`` items hold the top 20 % of interactions,
    ``mid`` the next 30 %, ``tail`` the rest, ``unseen`` never in training).
    """
    from shopintent.fairness.groups import popularity_bands
    from shopintent.recommend.data import leave_one_out
    from shopintent.recommend.evaluate import evaluate_scores, item_popularity
    from shopintent.recommend.sknn import SessionKNN

    split = leave_one_out(sequences)
    model = SessionKNN(k=k_neighbours).fit(split.train, catalogue=split.catalogue)
    index = model.index_
    popularity = item_popularity([index.encode(s.items) for s in split.train], index.size)
    full = evaluate_scores(model.score, split.test, index, popularity)
    hits = (full.ranks < 10).astype(float)
    length = np.array([len(ex.history) for ex in split.test])
    q1, q3 = np.quantile(length, [0.25, 0.75])
    user_band = np.where(length <= q1, "light", np.where(length > q3, "heavy", "middle"))
    seen = popularity[1:] > 0
    bands = popularity_bands(pd.Series(popularity[1:][seen], index=np.flatnonzero(seen) + 1))
    target_band = [bands.get(index.get(ex.target), "unseen") for ex in split.test]
    per_band = {}
    for band in ("light", "middle", "heavy"):
        rows = [ex for ex, b in zip(split.test, user_band, strict=True) if b == band]
        result = evaluate_scores(model.score, rows, index, popularity)
        per_band[band] = {"examples": len(rows), "hr@10": result.metrics["HR@10"],
                          "coverage@10": result.metrics["coverage@10"], "ARP@10": result.metrics["ARP@10"],
                          "short_head_share@10": result.metrics["short_head_share@10"]}
    return RecommendationSubject(
        model=f"recommendations ({source}, session kNN k={k_neighbours})", hits=hits,
        groups=pd.DataFrame({"user_activity": user_band, "target_popularity": target_band}),
        per_band=per_band,
        split=f"{source} user sequences, leave-one-out (last item held out), full ranking over "
              f"{index.size - 1:,} items; user band by history-length quartiles ({q1:.0f}, {q3:.0f})",
        data=data)


def taobao_recommendations(settings: Settings, k_neighbours: int = 100) -> RecommendationSubject:
    """:func:`recommendation_subject` on the Taobao head's user sequences."""
    from shopintent.datasets import taobao_userbehavior_head as taobao
    from shopintent.recommend.data import sequences_from_events

    events = taobao.load(settings).events
    return recommendation_subject(sequences_from_events(events, by="user"), "Taobao head",
                                  {"taobao_userbehavior_head": taobao.SPEC.files[0].sha256}, k_neighbours)


def amazon_recommendations(settings: Settings, subset: str = "Beauty", k_neighbours: int = 100) -> RecommendationSubject:
    """:func:`recommendation_subject` on an Amazon S3-Rec sub-set (5-core user sequences)."""
    from shopintent.datasets import amazon_seqrec

    sequences = amazon_seqrec.read_sequences(subset, settings)
    return recommendation_subject(list(sequences), f"Amazon {subset}",
                                  {f.path: f.sha256 for f in amazon_seqrec.SPEC.files if subset in f.path},
                                  k_neighbours)


#: Chinese training reviews sampled for the sentiment audit (the English set has 2,210; all are used).
ZH_TRAIN_SAMPLE = 6_000


def zh_en_sentiment(settings: Settings, seed: int = 0) -> Subject:
    """Negative-review detection for Chinese and English text with one TF-IDF model; held-out test splits.

    The text package's sentiment splits (``text/recipes.py``: online_shopping_10_cats
    and amazon_alexa_reviews, their own stratified test sets); the classifier
    (:class:`~shopintent.text.intent.IntentClassifier`, character n-grams, logistic
    head, C fixed at 1) learns from a sample of the Chinese training reviews and all
    English ones. Decision = predicted ``negative`` (what routes a review to service);
    group = language.
    """
    import random

    from shopintent.datasets import amazon_alexa_reviews, online_shopping_10_cats
    from shopintent.text.intent import IntentClassifier
    from shopintent.text.recipes import en_sentiment_splits, zh_sentiment_splits

    zh, en = zh_sentiment_splits(settings), en_sentiment_splits(settings)
    rng = random.Random(seed)
    rows = rng.sample(range(len(zh["train"])), min(ZH_TRAIN_SAMPLE, len(zh["train"])))
    valid = rng.sample(range(len(zh["validation"])), min(ZH_TRAIN_SAMPLE // 6, len(zh["validation"])))
    model = IntentClassifier(encoders=(), tfidf_max_features=30_000, head="logreg", C=1.0, random_state=seed).fit(
        [zh["train"].texts[i] for i in rows] + en["train"].texts,
        [zh["train"].labels[i] for i in rows] + en["train"].labels,
        [zh["validation"].texts[i] for i in valid] + en["validation"].texts,
        [zh["validation"].labels[i] for i in valid] + en["validation"].labels)
    texts = zh["test"].texts + en["test"].texts
    labels = np.array(zh["test"].labels + en["test"].labels)
    proba = model.predict_proba(texts)[:, list(model.classes_).index("negative")]
    predicted = np.array(model.predict(texts))
    return Subject(model="negative-review detection (zh + en, TF-IDF logistic)",
                   y_true=(labels == "negative").astype(int), y_pred=(predicted == "negative").astype(int),
                   y_score=proba,
                   groups=pd.DataFrame({"language": ["zh"] * len(zh["test"]) + ["en"] * len(en["test"])}),
                   split=f"text sentiment test splits (zh {len(zh['test']):,}, en {len(en['test']):,} reviews); "
                         f"trained on {len(rows):,} sampled zh + {len(en['train']):,} en training reviews, seed {seed}",
                   data={"online_shopping_10_cats": online_shopping_10_cats.SPEC.files[0].sha256,
                         "amazon_alexa_reviews": amazon_alexa_reviews.SPEC.files[0].sha256})


@dataclass
class TextIntentSubject:
    """A text intent model's held-out predictions on Chinese and English rows of the same intents."""

    model: str
    correct: np.ndarray
    groups: pd.DataFrame
    macro_f1: dict[str, float]
    split: str
    data: dict[str, str] = field(default_factory=dict)


#: Most Chinese test / training rows per intent (SMP2019 rows of an intent are shuffled, seeded, and halved).
ZH_INTENT_TEST_PER_INTENT = 100
ZH_INTENT_TRAIN_PER_INTENT = 50


def _zh_intent_rows(settings: Settings, seed: int) -> tuple[list[str], list[str], list[str], list[str]]:
    """SMP2019 rows of the shared intents, relabelled with the CLINC name: (test texts, labels, train texts, labels).

    Each intent's rows are shuffled (``seed``); the first half (at most
    ``ZH_INTENT_TEST_PER_INTENT``) is test, the rest (at most ``ZH_INTENT_TRAIN_PER_INTENT``)
    is what the bilingual model may train on, so both models meet the same test rows and no
    test text is trained on (texts are deduplicated across the halves).
    """
    from shopintent.text import recipes

    smp = recipes.smp_frame(settings)
    rng = np.random.default_rng(seed)
    test_x: list[str] = []
    test_y: list[str] = []
    train_x: list[str] = []
    train_y: list[str] = []
    for clinc_label, smp_label in recipes.EN_ZH_INTENTS.items():
        rows = list(dict.fromkeys(smp.loc[smp["label"] == smp_label, "text"].astype(str)))
        rows = [rows[i] for i in rng.permutation(len(rows))]
        half = (len(rows) + 1) // 2
        test, rest = rows[:half][:ZH_INTENT_TEST_PER_INTENT], rows[half:][:ZH_INTENT_TRAIN_PER_INTENT]
        test_x += test
        test_y += [clinc_label] * len(test)
        train_x += rest
        train_y += [clinc_label] * len(rest)
    return test_x, test_y, train_x, train_y


def zh_en_intents(settings: Settings, seed: int = 0) -> list[TextIntentSubject]:
    """The default ``intent train`` model (USE + TF-IDF + SVM, C chosen on validation) on zh vs en rows,
    trained twice on rows loaded once: English only, then bilingual.

    Rows: the eight intents CLINC150 (en) and SMP2019 (zh) share
    (``text.recipes.EN_ZH_INTENTS``), written independently in each language (neither side
    is a translation). English: ``recipes.en_zh_transfer_splits`` (CLINC150 official train,
    validation and test rows of those intents). Chinese: :func:`_zh_intent_rows`.
    English only: a shop whose labelled queries are English, serving Chinese shoppers too (the
    kind routes the unseen language to its encoder head). Bilingual: the same English rows plus
    the Chinese training half. C is chosen on the English validation rows in both. Group =
    language; per row: predicted intent correct or not.
    """
    from shopintent.text import recipes

    splits = recipes.en_zh_transfer_splits(settings)
    zh = _zh_intent_rows(settings, seed)
    return [_zh_en_intent_subject(settings, splits, zh, bilingual, seed) for bilingual in (False, True)]


def _zh_en_intent_subject(settings: Settings, splits: dict[str, Any],
                          zh: tuple[list[str], list[str], list[str], list[str]], bilingual: bool,
                          seed: int) -> TextIntentSubject:
    from sklearn.metrics import f1_score

    from shopintent.datasets import clinc150, smp2019_zh_intent
    from shopintent.text import recipes
    from shopintent.text.intent import IntentClassifier

    train, valid, en = splits["train"], splits["validation"], splits["test_en"]
    zh_x, zh_y, zh_train_x, zh_train_y = zh
    train_texts = train.texts + (zh_train_x if bilingual else [])
    train_labels = train.labels + (zh_train_y if bilingual else [])
    model = IntentClassifier(cache_dir=settings.state_dir, random_state=seed, C=None).fit(
        train_texts, train_labels, valid.texts, valid.labels)
    texts, truth = zh_x + en.texts, np.array(zh_y + en.labels)
    said = np.array(model.predict(texts))
    language = np.array(["zh"] * len(zh_x) + ["en"] * len(en))
    macro = {lang: float(f1_score(truth[language == lang], said[language == lang], average="macro",
                                  labels=sorted(set(truth[language == lang]))))
             for lang in ("zh", "en")}
    trained = f"{len(train)} CLINC150 en train rows" + (
        f" + {len(zh_train_x)} SMP2019 zh rows (the training halves)" if bilingual else " (English only)")
    name = "text intents (8 shared intents, " + ("en + zh training" if bilingual else "en-only training") + ")"
    return TextIntentSubject(
        model=name, correct=(said == truth).astype(float), groups=pd.DataFrame({"language": language}),
        macro_f1=macro,
        split=(f"default `intent train` kind (USE + TF-IDF + SVM; C = {model.C_:g} chosen on {len(valid)} en "
               f"validation rows); trained on {trained}; test: {len(en)} CLINC150 official en test rows and "
               f"{len(zh_x)} SMP2019 zh rows (each intent's test half, ≤ {ZH_INTENT_TEST_PER_INTENT}, seed {seed}) "
               f"of {len(recipes.EN_ZH_INTENTS)} intents (recipes.EN_ZH_INTENTS)"),
        data={"clinc150": clinc150.SPEC.files[0].sha256, "smp2019_zh_intent": smp2019_zh_intent.SPEC.files[0].sha256})
