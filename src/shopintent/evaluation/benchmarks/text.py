"""Text benchmark: intents with out-of-scope, slots/NER, sentiment and speed, on the test splits only.

Protocol (every number names its split, seed and data checksum in its detail):

- CLINC150: fit on official train, fit temperature + OOS threshold on official
  validation, refit on train+validation, score on official test (4,500
  in-scope + 1,000 ``oos``). In-scope accuracy counts a rejected in-scope
  query as wrong (Larson et al. 2019). Baselines in the same table: TF-IDF +
  linear SVM, frozen USE + linear head, frozen USE + TF-IDF (the default),
  USE + e5 + TF-IDF.
- Bitext: official train → validation → test, 27 intents.
- SMP2019: stratified 5-fold CV (seed 13) on the ``domain.intent`` label; each
  fold calibrates on 10 % of its training part.
- en→zh transfer (issue 16 item 6): train on CLINC150 English rows of the eight
  intents SMP2019 shares (``recipes.EN_ZH_INTENTS``), choose everything on English
  validation rows, test on SMP2019 Chinese rows of those intents; the default
  ``intent train`` kind beside frozen USE + logistic regression.
- zh e-commerce NER: BiLSTM-CRF + gazetteers, official train/dev/test, seqeval
  entity F1 (exact span match). en slots: the same tagger on Bitext entity spans.
- Sentiment: online_shopping_10_cats fixed stratified 10 % test (seed
  20240601); amazon_alexa_reviews stratified 20 % test (same seed).
- Speed: the default shop-intent model (USE + TF-IDF + SVM, one encoder thread)
  on texts it has never encoded (no cache): batched throughput and single-query
  latency p50/p99; and the full ``parse`` (intent + sentiment + slots).

Every model trained here is saved under ``<state_dir>/bench/text/``
(:func:`bench_dir`), never over the service's defaults in ``<state_dir>/text/models``.
The shop-intent rows score the two models ``shopintent models prepare`` trains
(linear default, fine-tuned candidate) on the recipe's test rows, on Bitext's
test split alone, on CLINC150's OOS test rows and on the real-text test set.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from shopintent.datasets import (
    amazon_alexa_reviews,
    bitext_customer_service,
    clinc150,
    online_shopping_10_cats,
    smp2019_zh_intent,
    zh_ecommerce_ner_ding2019,
)
from shopintent.evaluation.bench import BenchResult, Measurement, model_dir
from shopintent.log import get_logger
from shopintent.settings import Settings
from shopintent.text import defaults, recipes
from shopintent.text.intent import IntentClassifier, data_checksum
from shopintent.text.metrics import intent_scores
from shopintent.text.parse import Parser

log = get_logger(__name__)

#: Feature sets compared on CLINC150 (name -> IntentClassifier keyword arguments).
CLINC_MODELS: dict[str, dict[str, Any]] = {
    "TF-IDF char n-grams + linear SVM (baseline)": {"encoders": ()},
    "frozen USE-multilingual + linear SVM": {"encoders": ("use",), "tfidf_max_features": 0},
    "frozen USE + TF-IDF + linear SVM (default)": {"encoders": ("use",)},
    "frozen USE + e5-small + TF-IDF + linear SVM": {"encoders": ("use", "e5")},
}
LSTM_EPOCHS = 8
#: Most fine-tuning epochs per backbone (the best on validation is kept).
FINETUNE_EPOCHS = {"use": 10, "minilm": 6}
SMP_FINETUNE_EPOCHS = 12
SENTIMENT_FINETUNE_EPOCHS = 2
ZH_SENTIMENT_BEST = "ensemble: TF-IDF linear SVM + fine-tuned USE (zh only)"
SMP_TUNED = "fine-tuned USE-multilingual"
SMP_ENSEMBLE = "ensemble: USE + TF-IDF linear + fine-tuned USE"
#: The ensemble's OOS operating points: the default rule, and a validation recall target.
ENSEMBLE_OPERATING_POINTS: dict[str, float | None] = {
    "threshold maximising in-scope accuracy + OOS recall": None,
}
SPEED_QUERIES = 2000
LATENCY_QUERIES = 300


def _sha(spec) -> str:  # type: ignore[no-untyped-def]
    return ",".join(f.sha256 for f in spec.files)


def _fit(settings: Settings, splits: dict[str, recipes.TextSplit], **kwargs: Any) -> IntentClassifier:
    """An IntentClassifier fitted on train, calibrated on validation (``kwargs``: its parameters)."""
    model = IntentClassifier(cache_dir=settings.state_dir, random_state=recipes.SEED, **kwargs)
    return model.fit(
        splits["train"].texts,
        splits["train"].labels,
        splits["validation"].texts,
        splits["validation"].labels,
    )


def _fit_score(
    settings: Settings, splits: dict[str, recipes.TextSplit], **kwargs: Any
) -> tuple[IntentClassifier, dict[str, float], float]:
    start = time.perf_counter()
    model = _fit(settings, splits, **kwargs)
    scores = _score(model, splits["test"])
    return model, scores, time.perf_counter() - start


def _score(model: Any, test: recipes.TextSplit, proba: np.ndarray | None = None) -> dict[str, float]:
    """intent_scores of a fitted text classifier on a test split (from ``proba`` when already computed)."""
    if proba is None:
        proba = model.predict_proba(test.texts)
    predictions = model.decide_with_confidence(proba)
    return intent_scores(
        test.labels, [p for p, _ in predictions], [c for _, c in predictions], oos_label=model.oos_label
    )


def _closed_set_accuracy(
    classes: np.ndarray, proba: np.ndarray, labels: list[str], oos_label: str = "oos"
) -> float:
    """Argmax over the in-scope classes on the in-scope rows (no rejection).

    Comparable with the "USE + logistic regression ≈ 0.947" reference, which rejects nothing.
    """
    rows = np.flatnonzero(np.array(labels) != oos_label)
    intent_cols = np.flatnonzero(classes != oos_label)
    top = classes[intent_cols[proba[rows][:, intent_cols].argmax(axis=1)]]
    return float(np.mean(top == np.array(labels)[rows]))


def _clinc_rows(
    name: str,
    model: Any,
    test: recipes.TextSplit,
    detail: str,
    seconds: float,
    time_detail: str = "2 CPU threads",
    proba: np.ndarray | None = None,
) -> list[Measurement]:
    """The five CLINC150 rows (closed-set, in-scope, OOS recall, ECE, time) of one model, from one scoring pass."""
    if proba is None:
        proba = model.predict_proba(test.texts)
    scores = _score(model, test, proba)
    return [
        Measurement(
            f"CLINC150 closed-set intent accuracy (no rejection) — {name}",
            _closed_set_accuracy(model.classes_, proba, test.labels),
            "accuracy",
            f"{detail}; the 4,500 in-scope test rows, argmax over the 150 intents",
        ),
        Measurement(
            f"CLINC150 in-scope accuracy — {name}",
            scores["in_scope_accuracy"],
            "accuracy",
            f"{detail}; goal ≥ 0.965; OOS threshold {model.threshold_:.3f} from validation",
        ),
        Measurement(f"CLINC150 OOS recall — {name}", scores["oos_recall"], "recall", f"{detail}; goal ≥ 0.85"),
        Measurement(
            f"CLINC150 ECE — {name}",
            scores["ece"],
            "ECE (15 bins)",
            f"{detail}; temperature {model.temperature_:.3f} fitted on validation",
        ),
        Measurement(f"CLINC150 train+eval time — {name}", seconds, "s", time_detail),
    ]


def bench_clinc_finetuned(settings: Settings, out: list[Measurement]) -> None:
    """Fine-tuned USE and MiniLM, and their ensemble with the linear model, on CLINC150.

    Every member learns from official train only and is calibrated on official
    validation; the ensemble is calibrated on the same validation rows (none of
    its members was refit on them). ONNX int8 export is then checked on
    validation and scored on test.
    """
    from shopintent.text.ensemble import EnsembleClassifier
    from shopintent.text.finetune import FineTunedClassifier

    splits = recipes.clinc_splits(settings)
    train, valid, test = splits["train"], splits["validation"], splits["test"]
    detail = f"CLINC150 test (train/val/test {_sizes(splits)}), seed {recipes.SEED}; no refit on validation"
    fitted: dict[str, tuple[Any, float]] = {}
    for name, model in (
        ("frozen USE + TF-IDF + linear SVM, not refit (ensemble member)", IntentClassifier(
            cache_dir=settings.state_dir, random_state=recipes.SEED, refit=False
        )),
        ("fine-tuned USE-multilingual (torch port)", FineTunedClassifier(
            backbone="use", epochs=FINETUNE_EPOCHS["use"], threads=2, random_state=recipes.SEED
        )),
        ("fine-tuned all-MiniLM-L6-v2", FineTunedClassifier(
            backbone="minilm", epochs=FINETUNE_EPOCHS["minilm"], threads=2, random_state=recipes.SEED
        )),
    ):
        start = time.perf_counter()
        model.fit(train.texts, train.labels, valid.texts, valid.labels)
        fitted[name] = (model, time.perf_counter() - start)
        if isinstance(model, FineTunedClassifier):
            out += _clinc_rows(
                name, model, test, f"{detail}; best epoch {model.best_epoch_} of {model.epochs}", fitted[name][1]
            )
    members = [model for model, _ in fitted.values()]
    member_seconds = sum(seconds for _, seconds in fitted.values())
    for name, target in ENSEMBLE_OPERATING_POINTS.items():
        start = time.perf_counter()
        ensemble = EnsembleClassifier(
            members, prefit=True, oos_recall_target=target, random_state=recipes.SEED
        ).fit(train.texts, train.labels, valid.texts, valid.labels)
        out += _clinc_rows(
            f"ensemble: linear + fine-tuned USE + fine-tuned MiniLM, {name}",
            ensemble,
            test,
            detail,
            member_seconds + time.perf_counter() - start,
        )
    # ONNX Runtime: int8 kept per member only when its validation accuracy stays within 0.5 points
    with tempfile.TemporaryDirectory() as scratch:
        reports = [
            member.export_onnx(Path(scratch) / member.backbone, valid.texts, valid.labels, threads=2)
            for member in members
            if isinstance(member, FineTunedClassifier)
        ]
        ensemble = EnsembleClassifier(members, prefit=True, random_state=recipes.SEED).fit(
            train.texts, train.labels, valid.texts, valid.labels
        )
        kept = ", ".join(f"{Path(r.path).parent.name}: {'int8' if r.int8 else 'fp32'}" for r in reports)
        out += _clinc_rows(
            "ensemble on ONNX Runtime", ensemble, test, f"{detail}; graphs kept: {kept}", member_seconds
        )


def _sizes(splits: dict[str, Any]) -> str:
    return "/".join(f"{len(splits[s]):,}" for s in ("train", "validation", "test"))


def bench_clinc(settings: Settings, out: list[Measurement]) -> None:
    """CLINC150 in-scope accuracy and OOS recall for each feature set."""
    splits = recipes.clinc_splits(settings)
    detail = f"CLINC150 test (train/val/test {_sizes(splits)}), seed {recipes.SEED}"
    for name, kwargs in CLINC_MODELS.items():
        start = time.perf_counter()
        model = _fit(settings, splits, **kwargs)
        proba = model.predict_proba(splits["test"].texts)
        out += _clinc_rows(
            name,
            model,
            splits["test"],
            detail,
            time.perf_counter() - start,
            "includes encoding (cached after first run)",
            proba,
        )


def bench_lstm_clinc(settings: Settings, out: list[Measurement]) -> None:
    """The BiLSTM-from-scratch baseline on CLINC150 (trained on train, calibrated on validation)."""
    from shopintent.text.lstm import LSTMClassifier

    splits = recipes.clinc_splits(settings)
    start = time.perf_counter()
    model = LSTMClassifier(epochs=LSTM_EPOCHS, random_state=recipes.SEED).fit(
        splits["train"].texts,
        splits["train"].labels,
        splits["validation"].texts,
        splits["validation"].labels,
    )
    predictions = model.predict_with_confidence(splits["test"].texts)
    scores = intent_scores(
        splits["test"].labels, [p for p, _ in predictions], [c for _, c in predictions]
    )
    seconds = time.perf_counter() - start
    detail = (
        f"CLINC150 test (train/val/test {_sizes(splits)}), seed {recipes.SEED}; {LSTM_EPOCHS} epochs, "
        f"best validation epoch kept, no refit on validation"
    )
    name = "BiLSTM over words, from scratch (baseline)"
    out += [
        Measurement(
            f"CLINC150 in-scope accuracy — {name}", scores["in_scope_accuracy"], "accuracy", detail
        ),
        Measurement(f"CLINC150 OOS recall — {name}", scores["oos_recall"], "recall", detail),
        Measurement(f"CLINC150 ECE — {name}", scores["ece"], "ECE (15 bins)", detail),
        Measurement(f"CLINC150 train+eval time — {name}", seconds, "s", "1 CPU thread"),
    ]


def bench_bitext(settings: Settings, out: list[Measurement]) -> None:
    """Bitext 27 intents, official splits."""
    splits = recipes.bitext_splits(settings)
    detail = f"Bitext test (train/val/test {_sizes(splits)}), seed {recipes.SEED}; goal ≥ 0.99"
    for name, kwargs in (
        ("TF-IDF + linear SVM", {"encoders": ()}),
        ("USE + TF-IDF + linear SVM", {}),
    ):
        _, scores, _ = _fit_score(settings, splits, **kwargs)
        out.append(Measurement(f"Bitext accuracy — {name}", scores["accuracy"], "accuracy", detail))
        out.append(Measurement(f"Bitext macro-F1 — {name}", scores["macro_f1"], "macro-F1", detail))


def bench_dir(settings: Settings, component: str) -> Path:
    """Where this benchmark saves a model it trains (:func:`bench.model_dir`)."""
    return model_dir(settings, "text", component)


def _real_text_rows(settings: Settings, name: str, model: Any) -> list[Measurement]:
    """Accuracy on the real-text shop-intent test set (zh, en), through the service's parser."""
    from shopintent.evaluation.benchmarks.realintent import score
    from shopintent.text import evalsets

    parser = Parser(intent_model=model)
    out = []
    for language in evalsets.LANGUAGES:
        test = evalsets.real_shop_intent_test(settings, language)
        predicted = [r.intent or evalsets.OOS for r in parser.parse_batch(test.texts)]
        scores = score(test.labels, predicted)
        out.append(Measurement(
            f"{name}: real {language} shopper text accuracy", scores.accuracy, "accuracy",
            f"real-text test set {language}, {scores.rows} rows never trained on (text/evalsets, "
            "LABELLING.md); goal ≥ 0.90; per-label detail: shopintent bench realintent",
        ))
    return out


def _source_rows(settings: Settings, name: str, model: Any) -> list[Measurement]:
    """Bitext test accuracy and CLINC150 OOS recall of a shop-intent model, each on its own rows."""
    bitext = recipes.bitext_splits(settings)["test"]
    said = model.predict(bitext.texts)
    clinc = recipes.clinc_splits(settings)["test"]
    oos = [t for t, label in zip(clinc.texts, clinc.labels, strict=True) if label == recipes.OOS]
    rejected = sum(p == recipes.OOS for p in model.predict(oos))
    return [
        Measurement(
            f"{name}: Bitext test accuracy", float(np.mean(np.array(said) == np.array(bitext.labels))),
            "accuracy", f"Bitext official test, {len(bitext):,} rows (template phrasing shared with "
            "training); a rejected row counts as wrong",
        ),
        Measurement(
            f"{name}: CLINC150 OOS recall", rejected / len(oos), "recall",
            f"CLINC150 official test rows labelled oos ({len(oos):,}), answered oos; goal ≥ 0.90",
        ),
    ]


#: Name prefixes of the two shop-intent models' rows.
SHOP_LINEAR = "shop-intent model, linear USE + TF-IDF"
SHOP_TUNED = "shop-intent model, fine-tuned USE"


def bench_shop_intent(settings: Settings, out: list[Measurement]) -> Any:
    """The shop-intent models of ``models prepare`` (linear default, fine-tuned candidate), trained into ``bench_dir``."""
    splits = recipes.shop_intent_splits(settings)
    detail = (
        f"Bitext test + CLINC mapped/non-shop/oos test + 300 SMP2019 zh (train/val/test {_sizes(splits)}; "
        f"train/val from every source of text/shop_intent_data.py), seed {recipes.SEED}"
    )
    start = time.perf_counter()
    linear = defaults.train_shop_intent_linear(settings)
    linear_seconds = time.perf_counter() - start
    linear.save(bench_dir(settings, "shop_intent"))
    start = time.perf_counter()
    tuned = defaults.train_shop_intent(settings, bench_dir(settings, "shop_intent_finetuned"))
    tuned_seconds = time.perf_counter() - start
    graph = "int8" if (tuned.onnx_report_ or {}).get("int8") else "fp32"
    for name, model, secs in (
        (SHOP_LINEAR, linear, linear_seconds),
        (f"{SHOP_TUNED} (ONNX {graph})", tuned, tuned_seconds),
    ):
        sc = _score(model, splits["test"])
        out += [
            Measurement(f"{name}: validation accuracy", float(model.metrics_["validation_accuracy"]),
                        "accuracy", "the recipe's validation rows (chooses the live default)"),
            Measurement(f"{name}: in-scope accuracy", sc["in_scope_accuracy"], "accuracy", detail),
            Measurement(f"{name}: OOS recall", sc["oos_recall"], "recall", detail),
            Measurement(f"{name}: ECE", sc["ece"], "ECE (15 bins)", detail),
            *_source_rows(settings, name, model),
            *_real_text_rows(settings, name, model),
            Measurement(f"{name}: train time", secs, "s", "includes encoding (cached after first run)"),
        ]
    return tuned, linear


#: Name prefix of the en->zh transfer rows (issue 16 item 6).
TRANSFER = "en→zh transfer"
#: The contenders of the transfer rows: the default ``intent train`` kind and the plain-encoder baselines.
TRANSFER_DEFAULT = "default `intent train` (USE + TF-IDF + SVM, C and TF-IDF chosen on en validation, unseen language → encoder head)"
TRANSFER_BEFORE = "USE + TF-IDF + SVM, C = 1, no language routing (the default before)"
TRANSFER_LOGREG = "frozen USE + logistic regression, C chosen on en validation"
TRANSFER_LOGREG_1 = "frozen USE + logistic regression, C = 1 (scikit-learn default)"
#: C values the logistic-regression baseline may choose from (wider than ``C_GRID``: the baseline gets every chance).
TRANSFER_LOGREG_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def _logreg_baseline(settings: Settings, splits: dict[str, recipes.TextSplit], C: float | None) -> tuple[Any, float]:
    """Frozen USE embeddings + scikit-learn logistic regression, as a new user would build it.

    ``C=None``: each value of ``TRANSFER_LOGREG_GRID`` is fitted on train and scored on the
    (English) validation rows; the best accuracy wins, ties go to the lower validation
    log-loss. The chosen (or given) C is then refitted on train + validation: the same rows
    the default kind ends up trained on. Returns the fitted head and its C.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    train, valid = splits["train"], splits["validation"]
    train_x, valid_x = _use_embed(settings, train.texts), _use_embed(settings, valid.texts)
    if C is None:
        scored = []
        for value in TRANSFER_LOGREG_GRID:
            head = LogisticRegression(C=value, max_iter=2000, random_state=recipes.SEED).fit(train_x, train.labels)
            accuracy = float(np.mean(head.predict(valid_x) == np.array(valid.labels)))
            scored.append((-accuracy, log_loss(valid.labels, head.predict_proba(valid_x), labels=head.classes_), value))
        C = min(scored)[2]
    head = LogisticRegression(C=C, max_iter=2000, random_state=recipes.SEED)
    head.fit(np.vstack([train_x, valid_x]), train.labels + valid.labels)
    return head, float(C)


def _use_embed(settings: Settings, texts: list[str]) -> np.ndarray:
    """USE-multilingual embeddings of cleaned ``texts`` (the path the default kind's features take)."""
    from shopintent.text.clean import clean_text
    from shopintent.text.encoders import get_encoder

    return get_encoder("use", settings.state_dir).encode([clean_text(t) for t in texts])


def bench_en_zh_transfer(settings: Settings, out: list[Measurement]) -> None:
    """Train on English rows only, test on Chinese rows of the same intents (and on English test rows).

    Rows: ``recipes.en_zh_transfer_splits`` — CLINC150 (en) train / validation / test of the eight
    intents SMP2019 (zh) shares with it (``recipes.EN_ZH_INTENTS``), and the SMP2019 rows of those
    intents relabelled with the CLINC name. Every model below sees the same 400 train + 160
    validation English rows; nothing Chinese is used to fit or to choose anything.
    """
    from sklearn.metrics import f1_score as macro_f1

    splits = recipes.en_zh_transfer_splits(settings)
    zh, en = splits["test_zh"], splits["test_en"]
    detail = (
        f"train on CLINC150 en: first {recipes.EN_ZH_TRAIN_PER_INTENT} official-train rows of each of "
        f"{len(recipes.EN_ZH_INTENTS)} intents ({len(splits['train'])}) + official validation "
        f"({len(splits['validation'])}, chooses C / TF-IDF / temperature; refit on both); test on "
        f"{len(zh)} SMP2019 zh rows of the same intents (recipes.EN_ZH_INTENTS mapping, ≤ "
        f"{recipes.EN_ZH_TEST_PER_INTENT} per intent, seed {recipes.SEED}) and on the {len(en)} CLINC150 "
        "official en test rows of those intents. Re-run alone: "
        "`python -m shopintent.evaluation.benchmarks.text en_zh_transfer`"
    )
    predictions: dict[str, tuple[list[str], list[str], str]] = {}
    for name, C, route in ((TRANSFER_DEFAULT, None, True), (TRANSFER_BEFORE, 1.0, False)):
        model = IntentClassifier(
            cache_dir=settings.state_dir, random_state=recipes.SEED, C=C, route_unseen_languages=route
        ).fit(splits["train"].texts, splits["train"].labels, splits["validation"].texts, splits["validation"].labels)
        model.save(bench_dir(settings, "en_zh_transfer" if route else "en_zh_transfer_before"))
        chosen = (f"C = {model.C_:g}, TF-IDF {'on' if model.tfidf_used_ else 'off'}, encoder-head C = "
                  f"{model.encoder_C_:g}, routed to the encoder head: {', '.join(model.encoder_route_) or 'none'}")
        predictions[name] = (model.predict(zh.texts), model.predict(en.texts), chosen)
    for name, C in ((TRANSFER_LOGREG, None), (TRANSFER_LOGREG_1, 1.0)):
        head, chosen_c = _logreg_baseline(settings, splits, C)
        predictions[name] = (list(head.predict(_use_embed(settings, zh.texts))),
                             list(head.predict(_use_embed(settings, en.texts))), f"C = {chosen_c:g}")
    for name, (said_zh, said_en, chosen) in predictions.items():
        out += [
            Measurement(f"{TRANSFER} zh accuracy — {name}", float(np.mean(np.array(said_zh) == np.array(zh.labels))),
                        "accuracy", f"{detail}; {chosen}"),
            Measurement(f"{TRANSFER} zh macro-F1 — {name}",
                        float(macro_f1(zh.labels, said_zh, average="macro", labels=sorted(set(zh.labels)))),
                        "macro-F1", detail),
            Measurement(f"{TRANSFER} en test accuracy — {name}",
                        float(np.mean(np.array(said_en) == np.array(en.labels))), "accuracy", detail),
        ]
    out.append(_paired_difference(zh.labels, predictions[TRANSFER_DEFAULT][0], predictions[TRANSFER_LOGREG][0]))
    _transfer_sizes(settings, out)


#: English training rows per intent of the size sweep (the main rows use ``recipes.EN_ZH_TRAIN_PER_INTENT``).
TRANSFER_SIZES = (25, 100)


def _transfer_sizes(settings: Settings, out: list[Measurement]) -> None:
    """The default kind and the validation-tuned logistic regression at other English training sizes.

    Why: one size can flatter either model by a few rows; the same comparison at half and
    double the rows shows whether "does not lose" holds or is a tie that goes either way.
    """
    for per_intent in TRANSFER_SIZES:
        splits = recipes.en_zh_transfer_splits(settings, per_intent)
        zh = splits["test_zh"]
        truth = np.array(zh.labels)
        model = IntentClassifier(cache_dir=settings.state_dir, random_state=recipes.SEED, C=None).fit(
            splits["train"].texts, splits["train"].labels, splits["validation"].texts, splits["validation"].labels
        )
        head, chosen_c = _logreg_baseline(settings, splits, None)
        detail = (f"{per_intent} CLINC150 en train rows per intent ({len(splits['train'])}) + the same "
                  f"{len(splits['validation'])} en validation rows; the same {len(zh)} SMP2019 zh test rows")
        for name, said, chosen in (
            (TRANSFER_DEFAULT, model.predict(zh.texts), f"C = {model.C_:g}, encoder-head C = {model.encoder_C_:g}"),
            (TRANSFER_LOGREG, head.predict(_use_embed(settings, zh.texts)), f"C = {chosen_c:g}"),
        ):
            out.append(Measurement(
                f"{TRANSFER} zh accuracy, {per_intent} en rows per intent — {name}",
                float(np.mean(np.array(said) == truth)), "accuracy", f"{detail}; {chosen}",
            ))


#: Resamples of the paired bootstrap of the transfer rows' accuracy difference.
TRANSFER_BOOTSTRAP = 2000


def _paired_difference(labels: list[str], said_a: list[str], said_b: list[str]) -> Measurement:
    """Accuracy of the default kind minus the logistic-regression baseline's, on the same zh rows,
    with a paired bootstrap 95 % interval (rows resampled together; scipy, BCa, seed ``SEED``)."""
    from scipy.stats import bootstrap

    truth = np.array(labels)
    delta = (np.array(said_a) == truth).astype(float) - (np.array(said_b) == truth).astype(float)
    interval = bootstrap(
        (delta,), np.mean, n_resamples=TRANSFER_BOOTSTRAP, confidence_level=0.95,
        random_state=np.random.default_rng(recipes.SEED),
    ).confidence_interval
    return Measurement(
        f"{TRANSFER} zh accuracy difference — default `intent train` minus {TRANSFER_LOGREG}",
        float(delta.mean()), "accuracy points (fraction)",
        f"same {len(truth)} SMP2019 zh rows; paired bootstrap 95 % interval [{interval.low:.4f}, "
        f"{interval.high:.4f}] ({TRANSFER_BOOTSTRAP} resamples, BCa, seed {recipes.SEED}); "
        f"rows only the default gets right {int((delta > 0).sum())}, only the baseline {int((delta < 0).sum())}",
    )


def _smp_models(settings: Settings) -> dict[str, Any]:
    """SMP2019 contenders: name -> factory of an unfitted classifier (no ``oos`` in this data)."""
    from shopintent.text.finetune import FineTunedClassifier
    from shopintent.text.lstm import LSTMClassifier

    def linear(**kwargs: Any) -> IntentClassifier:
        return IntentClassifier(
            cache_dir=settings.state_dir, random_state=recipes.SEED, oos_label="__none__", **kwargs
        )

    def tuned() -> FineTunedClassifier:
        return FineTunedClassifier(
            backbone="use", epochs=SMP_FINETUNE_EPOCHS, patience=4, threads=2,
            oos_label="__none__", random_state=recipes.SEED,
        )

    return {
        "TF-IDF + linear SVM": lambda: linear(encoders=()),
        "USE + TF-IDF + linear SVM": linear,
        "BiLSTM over jieba words (baseline)": lambda: LSTMClassifier(
            epochs=LSTM_EPOCHS * 2, oos_label="__none__", random_state=recipes.SEED
        ),
        SMP_TUNED: tuned,
    }


def bench_smp(settings: Settings, out: list[Measurement]) -> None:
    """SMP2019 5-fold CV on domain.intent.

    The linear models hold out 10 % of each fold's training part for
    calibration and then refit on all of it; the LSTM, the fine-tuned model
    and the ensemble keep their best epoch / calibration on that same 10 %
    (shuffled, seed 13) and do not refit. The ensemble combines the fold's
    fine-tuned model with a linear model fitted on the 90 % part.
    """
    from shopintent.text.ensemble import EnsembleClassifier

    frame = recipes.smp_frame(settings)
    texts, labels = frame["text"].tolist(), frame["label"].tolist()
    folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=recipes.SEED).split(texts, labels))
    factories = _smp_models(settings)
    accuracies: dict[str, list[float]] = {name: [] for name in [*factories, SMP_ENSEMBLE]}
    for train_idx, test_idx in folds:
        train_idx = np.random.default_rng(recipes.SEED).permutation(train_idx)
        train_texts = [texts[i] for i in train_idx]
        train_labels = [labels[i] for i in train_idx]
        cut = int(len(train_texts) * 0.9)
        split = (train_texts[:cut], train_labels[:cut], train_texts[cut:], train_labels[cut:])
        test_texts = [texts[i] for i in test_idx]
        fitted = {}
        for name, factory in factories.items():
            model = factory()
            if isinstance(model, IntentClassifier):
                model.fit(train_texts, train_labels)
            else:
                model.fit(*split)
            fitted[name] = model
        member = factories["USE + TF-IDF + linear SVM"]()
        member.refit = False
        member.fit(*split)
        fitted[SMP_ENSEMBLE] = EnsembleClassifier(
            [member, fitted[SMP_TUNED]], prefit=True, oos_label="__none__", random_state=recipes.SEED
        ).fit(*split)
        for name, model in fitted.items():
            predicted = [p for p, _ in model.predict_with_confidence(test_texts)]
            accuracies[name].append(
                float(np.mean([p == labels[i] for p, i in zip(predicted, test_idx, strict=True)]))
            )
    for name, values in accuracies.items():
        out.append(
            Measurement(
                f"SMP2019 domain+intent accuracy — {name}",
                statistics.mean(values),
                "accuracy",
                f"5-fold stratified CV, seed {recipes.SEED}, {len(texts):,} rows, {len(set(labels))} labels; "
                f"fold std {statistics.pstdev(values):.4f}; goal ≥ 0.95",
            )
        )


def _texts_checksum(texts: list[str]) -> str:
    return data_checksum(texts, [""] * len(texts))


def bench_ner(settings: Settings, out: list[Measurement]) -> None:
    """zh e-commerce NER (Ding et al.) and en Bitext slots with the BiLSTM-CRF tagger."""
    splits, _ = recipes.zh_ner_splits(settings)
    start = time.perf_counter()
    tagger = defaults.train_ner_zh(settings)
    seconds = time.perf_counter() - start
    scores = tagger.score(splits["test"].texts, splits["test"].spans)
    tagger.save(bench_dir(settings, "ner_zh"), data_checksum=_texts_checksum(splits["train"].texts))
    detail = (
        f"Ding et al. 2019 official test ({_sizes(splits)} sentences), seqeval exact-span entity F1, "
        f"seed {recipes.SEED}; {len(tagger.history_)} epochs, best dev F1 {tagger.best_dev_f1_:.4f}"
    )
    out += [
        Measurement(
            "zh e-commerce NER entity F1 (BiLSTM-CRF + gazetteers)", scores["f1"], "F1", detail
        ),
        Measurement("zh e-commerce NER precision", scores["precision"], "precision", detail),
        Measurement("zh e-commerce NER recall", scores["recall"], "recall", detail),
        Measurement("zh e-commerce NER train time", seconds, "s", "1 CPU thread"),
    ]
    en = recipes.en_slot_splits(settings)
    en_tagger = defaults.train_slots_en(settings)
    en_scores = en_tagger.score(en["test"].texts, en["test"].spans)
    en_tagger.save(bench_dir(settings, "slots_en"), data_checksum=_texts_checksum(en["train"].texts))
    out.append(
        Measurement(
            "Bitext entity-span F1 (BiLSTM-CRF, word tokens)",
            en_scores["f1"],
            "F1",
            f"Bitext official test ({_sizes(en)}), seqeval exact span, seed {recipes.SEED}",
        )
    )


def bench_sentiment(settings: Settings, out: list[Measurement]) -> None:
    """zh (online_shopping_10_cats) and en (Alexa) review sentiment: one multilingual model, scored per language."""
    from shopintent.text.ensemble import EnsembleClassifier
    from shopintent.text.finetune import FineTunedClassifier

    zh = recipes.zh_sentiment_splits(settings)
    en = recipes.en_sentiment_splits(settings)
    zh_detail = (
        f"online_shopping_10_cats fixed stratified 10% test (train/val/test {_sizes(zh)}), "
        f"split seed {recipes.SENTIMENT_SPLIT_SEED}; goal ≥ 0.95"
    )
    tfidf = _fit(settings, zh, oos_label="__none__", encoders=(), refit=False)
    tuned = FineTunedClassifier(
        backbone="use", epochs=SENTIMENT_FINETUNE_EPOCHS, threads=2, oos_label="__none__",
        random_state=recipes.SEED,
    ).fit(zh["train"].texts, zh["train"].labels, zh["validation"].texts, zh["validation"].labels)
    ensemble = EnsembleClassifier(
        [tfidf, tuned], prefit=True, oos_label="__none__", random_state=recipes.SEED
    ).fit(zh["train"].texts, zh["train"].labels, zh["validation"].texts, zh["validation"].labels)
    for name, model in (
        ("TF-IDF + linear SVM (zh only)", tfidf),
        (f"fine-tuned USE-multilingual (zh only, {tuned.best_epoch_} epochs)", tuned),
        (ZH_SENTIMENT_BEST, ensemble),
    ):
        out.append(
            Measurement(
                f"zh review sentiment accuracy — {name}",
                _score(model, zh["test"])["accuracy"],
                "accuracy",
                f"{zh_detail}; no refit on validation",
            )
        )


SENTIMENT_DEFAULT = "the default: 3-way positive/negative/neutral + unsure, USE + TF-IDF + linear SVM, zh+en"


def bench_sentiment_default(settings: Settings, out: list[Measurement]) -> None:
    """The default sentiment model (3-way with ``unsure``) on the review test splits; neutral: ``bench sentiment``."""
    zh = recipes.zh_sentiment_splits(settings)
    en = recipes.en_sentiment_splits(settings)
    zh_detail = (
        f"online_shopping_10_cats fixed stratified 10% test (train/val/test {_sizes(zh)}), "
        f"split seed {recipes.SENTIMENT_SPLIT_SEED}; goal ≥ 0.95; a review answered neutral or "
        "unsure counts as wrong"
    )
    start = time.perf_counter()
    model = defaults.train_sentiment(settings, zh_rows=None)
    seconds = time.perf_counter() - start
    model.save(bench_dir(settings, "sentiment"))
    name = SENTIMENT_DEFAULT
    zh_scores = intent_scores(zh["test"].labels, model.predict(zh["test"].texts))
    out.append(
        Measurement(
            f"zh review sentiment accuracy — {name}", zh_scores["accuracy"], "accuracy", zh_detail
        )
    )
    en_detail = (
        f"amazon_alexa_reviews stratified 20% test (train/val/test {_sizes(en)}), split seed "
        f"{recipes.SENTIMENT_SPLIT_SEED}; 92% positive, so macro-F1 is the informative number; "
        "neutral or unsure counts as wrong"
    )
    en_pred = model.predict_with_confidence(en["test"].texts)
    en_scores = intent_scores(en["test"].labels, [p for p, _ in en_pred], [c for _, c in en_pred])
    out += [
        Measurement(
            f"en review sentiment accuracy — {name}", en_scores["accuracy"], "accuracy", en_detail
        ),
        Measurement(
            f"en review sentiment macro-F1 — {name}",
            float(f1_score(en["test"].labels, [p for p, _ in en_pred],
                           labels=["positive", "negative"], average="macro")),
            "macro-F1",
            f"{en_detail}; averaged over the two review labels (a neutral or unsure answer is a "
            "miss of its review label)",
        ),
        Measurement(
            "sentiment model train time (3-way, zh+en)",
            seconds,
            "s",
            "includes encoding (cached after first run)",
        ),
    ]


def _unseen_queries(settings: Settings, n: int) -> list[str]:
    # Speed must include encoding: texts are made unique so no cache can answer them.
    frame = clinc150.load(settings).frame()
    texts = frame[frame["split"] == "test"]["text"].tolist()
    return [f"{texts[i % len(texts)]} #{i}" for i in range(n)]


def _throughput(model: Any, texts: list[str]) -> float:
    model.predict_with_confidence(["warm up"], persist=False)
    start = time.perf_counter()
    for k in range(0, len(texts), 256):
        model.predict_with_confidence(texts[k : k + 256], persist=False)
    return len(texts) / (time.perf_counter() - start)


def _latencies(model: Any, texts: list[str]) -> list[float]:
    out = []
    for text in texts:
        t0 = time.perf_counter()
        model.predict_with_confidence([text], persist=False)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _bench_model(settings: Settings, component: str) -> Any:
    """A model this benchmark saved in :func:`bench_dir` (``None`` when that section did not run)."""
    from shopintent.text.ensemble import load_text_classifier
    from shopintent.text.tagger import SlotTagger

    path = bench_dir(settings, component)
    if not (path / "model.json").is_file():
        return None
    if component in ("ner_zh", "slots_en"):
        return SlotTagger.load(path)
    return load_text_classifier(path, cache_dir=settings.state_dir)


def bench_speed(settings: Settings, model: Any, linear: IntentClassifier, out: list[Measurement]) -> None:
    """Throughput and latency of the default intent model (and the linear one), and of the full parse."""
    queries = _unseen_queries(settings, SPEED_QUERIES * 2 + 2 * LATENCY_QUERIES)
    batch_texts, linear_texts = queries[:SPEED_QUERIES], queries[SPEED_QUERIES : 2 * SPEED_QUERIES]
    latency_texts = queries[2 * SPEED_QUERIES : 2 * SPEED_QUERIES + LATENCY_QUERIES]
    parse_texts = queries[2 * SPEED_QUERIES + LATENCY_QUERIES :]
    model.set_threads(2)
    throughput = _throughput(model, batch_texts)
    model.set_threads(1)
    latencies = _latencies(model, latency_texts)
    linear_throughput = _throughput(linear, linear_texts)
    parser = Parser(
        intent_model=model,
        sentiment_model=_bench_model(settings, "sentiment"),
        zh_tagger=_bench_model(settings, "ner_zh"),
        en_tagger=_bench_model(settings, "slots_en"),
    )
    parse_latencies = []
    for text in parse_texts:
        t0 = time.perf_counter()
        parser.parse(text)
        parse_latencies.append((time.perf_counter() - t0) * 1000)
    graph = "int8" if (model.onnx_report_ or {}).get("int8") else "fp32"
    detail = f"shop-intent model, fine-tuned USE (ONNX Runtime {graph}); unique CLINC test queries (never cached), same run"
    out += [
        Measurement(
            "intent throughput, batched",
            throughput,
            "queries/s",
            f"{detail}; batches of 256, 2 threads (the machine's 2 cores); goal ≥ 2,000",
        ),
        Measurement(
            "intent latency p50, single query",
            float(np.percentile(latencies, 50)),
            "ms",
            f"{detail}; {LATENCY_QUERIES} queries one at a time, 1 thread; goal ≤ 3 ms",
        ),
        Measurement(
            "intent latency p99, single query",
            float(np.percentile(latencies, 99)),
            "ms",
            f"{detail}; {LATENCY_QUERIES} queries, 1 thread; goal ≤ 10 ms",
        ),
        Measurement(
            "intent throughput, batched — linear USE + TF-IDF model",
            linear_throughput,
            "queries/s",
            "numpy USE with 1 thread + TF-IDF + SVM, batches of 256, same queries kind",
        ),
        Measurement(
            "parse() latency p50 (intent + sentiment + rules + en tagger)",
            float(np.percentile(parse_latencies, 50)),
            "ms",
            f"{LATENCY_QUERIES} English queries",
        ),
        Measurement(
            "parse() latency p99",
            float(np.percentile(parse_latencies, 99)),
            "ms",
            f"{LATENCY_QUERIES} English queries",
        ),
    ]


def run(settings: Settings) -> BenchResult:
    """Run every text benchmark row; see the module docstring for the protocol."""
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    out: list[Measurement] = []
    bench_clinc(settings, out)
    bench_lstm_clinc(settings, out)
    bench_clinc_finetuned(settings, out)
    bench_bitext(settings, out)
    model, linear = bench_shop_intent(settings, out)
    bench_smp(settings, out)
    bench_en_zh_transfer(settings, out)
    bench_ner(settings, out)
    bench_sentiment(settings, out)
    bench_sentiment_default(settings, out)
    bench_speed(settings, model, linear, out)
    total = time.perf_counter() - started
    return BenchResult(
        area="text",
        measurements=out,
        data={
            "clinc150": _sha(clinc150.SPEC),
            "bitext_customer_service": _sha(bitext_customer_service.SPEC),
            "smp2019_zh_intent": _sha(smp2019_zh_intent.SPEC),
            "zh_ecommerce_ner_ding2019": _sha(zh_ecommerce_ner_ding2019.SPEC),
            "online_shopping_10_cats": _sha(online_shopping_10_cats.SPEC),
            "amazon_alexa_reviews": _sha(amazon_alexa_reviews.SPEC),
        },
        parameters={
            "seed": recipes.SEED,
            "sentiment_split_seed": recipes.SENTIMENT_SPLIT_SEED,
            "head": "LinearSVC(C=1)",
            "tfidf": "char_wb 1-4, sublinear, min_df 2, 200k",
            "encoder_threads": 1,
            "finetune_epochs": FINETUNE_EPOCHS,
            "finetune": "AdamW, batch 32, lr 3e-4 (use) / 1e-4 (minilm), head lr 3e-3, warm-up 6 % + linear decay, "
            "best validation epoch kept, 2 threads",
            "runtime_s": round(total, 1),
        },
        notes=_notes(out),
    )


CLINC_BEST = "ensemble: linear + fine-tuned USE + fine-tuned MiniLM, threshold maximising in-scope accuracy + OOS recall"


def _notes(out: list[Measurement]) -> str:
    by_name = {m.name: m.value for m in out}
    lines = ["Goals not met in this run are listed here, honestly:"]
    checks = [
        (f"CLINC150 in-scope accuracy — {CLINC_BEST}", 0.965, "≥"),
        (f"CLINC150 OOS recall — {CLINC_BEST}", 0.85, "≥"),
        ("Bitext accuracy — USE + TF-IDF + linear SVM", 0.99, "≥"),
        (f"SMP2019 domain+intent accuracy — {SMP_ENSEMBLE}", 0.95, "≥"),
        (f"zh review sentiment accuracy — {ZH_SENTIMENT_BEST}", 0.95, "≥"),
        ("intent throughput, batched", 2000, "≥"),
        ("intent latency p50, single query", 3.0, "≤"),
        ("intent latency p99, single query", 10.0, "≤"),
    ]
    for name, goal, op in checks:
        value = by_name.get(name)
        if value is None:
            continue
        met = value >= goal if op == "≥" else value <= goal
        if not met:
            lines.append(f"- {name}: {value:.4g} (goal {op} {goal})")
    for name, value in by_name.items():
        shop = name.startswith((SHOP_LINEAR, SHOP_TUNED))
        if shop and name.endswith(("shopper text accuracy", "CLINC150 OOS recall")) and value < 0.90:
            lines.append(f"- {name}: {value:.4g} (goal ≥ 0.9)")
    if len(lines) == 1:
        lines.append("- none")
    tuned = {k.split(": ")[-1]: v for k, v in by_name.items() if k.startswith(SHOP_TUNED)}
    linear = {k.split(": ")[-1]: v for k, v in by_name.items() if k.startswith(SHOP_LINEAR)}
    if tuned and linear:
        live = "fine-tuned" if tuned["validation accuracy"] > linear["validation accuracy"] else "linear"
        lines.append(
            f"Live shop-intent default by the validation rule (`models prepare`): the {live} model "
            f"(validation accuracy linear {linear['validation accuracy']:.4f}, fine-tuned "
            f"{tuned['validation accuracy']:.4f}). Real shopper text, zh / en: linear "
            f"{linear.get('real zh shopper text accuracy', float('nan')):.4f} / "
            f"{linear.get('real en shopper text accuracy', float('nan')):.4f}, fine-tuned "
            f"{tuned.get('real zh shopper text accuracy', float('nan')):.4f} / "
            f"{tuned.get('real en shopper text accuracy', float('nan')):.4f}."
        )
    lines.append(
        "Encoder choice, by measurement: USE-multilingual for Chinese and mixed text (the only zh-capable "
        "encoder that fine-tunes offline, through its torch port; e5-small added little on SMP2019 at ~10x "
        "the encoding cost); for English, compare the fine-tuned MiniLM and USE rows and their ensemble "
        "above. See docs/text.md."
    )
    return "\n".join(lines)


#: Sections that can be re-run alone, and the name prefixes of the rows each one owns.
SECTIONS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "en_zh_transfer": (bench_en_zh_transfer, (TRANSFER,)),
    "shop_intent": (bench_shop_intent, (SHOP_LINEAR, SHOP_TUNED, "default shop-intent model")),
    "sentiment_default": (
        bench_sentiment_default,
        ("zh review sentiment accuracy — USE + TF-IDF + linear SVM (one zh+en model",
         "en review sentiment", "sentiment model train time", f"zh review sentiment accuracy — {SENTIMENT_DEFAULT}"),
    ),
}


def refresh(settings: Settings, results_file: Path, sections: list[str]) -> dict[str, Any]:
    """Re-run some sections and replace their rows in an existing ``text.json`` (the rest kept as measured).

    Why: the full run takes most of an hour on 2 cores; when only the
    shop-intent or sentiment recipe changed, its rows are re-measured alone.
    The record lists every refresh (sections, time, command) beside the
    original ``created_at``, so each row's run can be told apart.
    """
    import json
    from dataclasses import asdict
    from datetime import UTC, datetime

    record = json.loads(results_file.read_text())
    for section in sections:
        if section not in SECTIONS:
            raise KeyError(f"unknown section {section!r}; choose from {', '.join(SECTIONS)}")
        runner, prefixes = SECTIONS[section]
        fresh: list[Measurement] = []
        started = time.perf_counter()
        runner(settings, fresh)
        kept = [m for m in record["measurements"] if not m["name"].startswith(prefixes)]
        record["measurements"] = kept + [asdict(m) for m in fresh]
        record["parameters"].setdefault("refreshed", []).append({
            "section": section,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "runtime_s": round(time.perf_counter() - started, 1),
            "command": f"python -m shopintent.evaluation.benchmarks.text {section}",
        })
        record["notes"] = _notes([Measurement(**m) for m in record["measurements"]])
        # written after every section, so a long later section cannot lose an earlier one's rows
        results_file.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return record


if __name__ == "__main__":  # pragma: no cover - the refresh entry point for benchmark maintainers
    import sys

    from shopintent.settings import get_settings

    settings = get_settings()
    refresh(settings, settings.results_dir / "text.json", sys.argv[1:])
