"""Tables of measured numbers in ``docs/*.md``, rendered from ``benchmarks/results/*.json``.

Why: numbers copied by hand into the docs drift from the runs that produced
them (an earlier run's throughput, a test count that grew). Like
``BENCHMARKS.md``, each table of results in the docs is generated: a page
holds a marked block ::

    <!-- results:intervene.ope -->
    … generated table …
    <!-- /results -->

and :data:`TABLES` says which measurements fill block ``intervene.ope``.
:func:`render_page` refills every block of a page from the results files;
``tests/test_docs.py`` fails when a committed page differs from its
rendering (a stale block) and when a number in any other docs table is
held by no results file. Regenerate with
``python -m shopintent.evaluation.docs_render`` (after ``shopintent bench AREA``).

>>> from shopintent.settings import Settings
>>> print(render_table("behaviour.uci", Settings().results_dir).splitlines()[2])
| LightGBM | yes | 0.9356 ± 0.0055 | 0.7536 ± 0.0194 | 0.6805 ± 0.0140 | 0.0150 ± 0.0047 |
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopintent.evaluation.results import read_results
from shopintent.log import get_logger

log = get_logger(__name__)

#: A marked block: its key and the generated text between the markers.
BLOCK = re.compile(r"<!-- results:(?P<key>[\w.-]+) -->\n(?P<body>.*?)<!-- /results -->", re.S)

#: A hyphen used as a minus sign, printed as the typographic minus the docs use.
MINUS = re.compile(r"-(?=\d)")


class RenderError(LookupError):
    """A block whose table or measurement does not exist (renamed in a benchmark, or not run)."""


@dataclass(frozen=True)
class Value:
    """A measurement's value, formatted (``fmt`` as for :func:`format`; ``,.0f`` for counts)."""

    name: str
    fmt: str = ".4f"


@dataclass(frozen=True)
class Detail:
    """A part of a measurement's detail text (its first regex group): an interval, a base rate."""

    name: str
    pattern: str


Part = str | Value | Detail
#: A cell: text and numbers from the results file, joined.
Cell = Part | tuple[Part, ...]


@dataclass(frozen=True)
class Table:
    """One generated table: its area's results file, header and rows of cells."""

    area: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _sd(name: str, fmt: str = ".4f") -> tuple[Part, ...]:
    return (Value(name, fmt), " ± ", Detail(name, r"± ([\d.]+) \(sd over folds\)"))


def _uci_rows() -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for pages in ("with", "without"):
        for model, shown in (("lightgbm", "LightGBM"), ("mlp", "MLP (64-32)"), ("logistic", "logistic")):
            rows.append((shown, "yes" if pages == "with" else "no",
                         *(_sd(f"UCI {model} {metric} ({pages} PageValues)")
                           for metric in ("roc_auc", "pr_auc", "f1", "ece"))))
    return tuple(rows)


def _taobao_rows() -> tuple[tuple[Cell, ...], ...]:
    labels = (("purchase", "purchase"), ("abandon", "abandon (24 h)"), ("next_view", "next: view"),
              ("next_add_to_cart", "next: add_to_cart"), ("next_favourite", "next: favourite"),
              ("next_purchase", "next: purchase"))
    rows = []
    for label, shown in labels:
        roc = f"y_{label} ROC-AUC (k ≤ 20)"
        diff = f"Taobao GRU (without ids) − LightGBM y_{label} ROC-AUC, k ≤ 5"
        rows.append((shown, Detail(f"Taobao LightGBM y_{label} PR-AUC (k ≤ 20)", r"base rate ([\d.]+)"),
                     Value(f"Taobao LightGBM {roc}"), Value(f"Taobao GRU (with ids) {roc}"),
                     Value(f"Taobao GRU (without ids) {roc}"),
                     (Value(diff, "+.3f"), " ", Detail(diff, r"bootstrap (\[[^\]]+\])"))))
    return tuple(rows)


def _cdnow_rows() -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for model, shown in (("BG/NBD", "BG/NBD (lifetimes)"), ("LightGBM Poisson", "LightGBM, Poisson"),
                         ("LightGBM L1", "LightGBM, L1")):
        rows.append((shown, _sd(f"CDNOW {model} per-customer MAE"), _sd(f"CDNOW {model} per-customer RMSE"),
                     Value(f"CDNOW {model} predicted total", ",.0f")))
    rows.append(("all zero", _sd("CDNOW all-zero baseline per-customer MAE"),
                 _sd("CDNOW all-zero baseline per-customer RMSE"), "0"))
    rows.append(("actual", "", "", Value("CDNOW holdout purchase days, actual total", ",.0f")))
    return tuple(rows)


def _transfer_rows() -> tuple[tuple[Cell, ...], ...]:
    """bench text's en→zh transfer rows: the default ``intent train`` kind, the former default, USE + LR."""
    models = (("default `intent train` (USE + TF-IDF + SVM, C and TF-IDF chosen on en validation, unseen language "
               "→ encoder head)", "default `intent train`: USE + TF-IDF + SVM, zh → encoder head"),
              ("USE + TF-IDF + SVM, C = 1, no language routing (the default before)", "the default before: C = 1, no routing"),
              ("frozen USE + logistic regression, C chosen on en validation", "frozen USE + logistic regression"),
              ("frozen USE + logistic regression, C = 1 (scikit-learn default)", "frozen USE + logistic regression, C = 1"))
    return tuple((shown, Value(f"en→zh transfer zh accuracy — {name}"), Value(f"en→zh transfer zh macro-F1 — {name}"),
                  Value(f"en→zh transfer en test accuracy — {name}"),
                  Detail(f"en→zh transfer zh accuracy — {name}", r"`; (C = [^;]*)$"))
                 for name, shown in models)


def _transfer_size_rows() -> tuple[tuple[Cell, ...], ...]:
    """The en→zh comparison at 25, 50 (the main rows) and 100 English training rows per intent."""
    default = ("default `intent train` (USE + TF-IDF + SVM, C and TF-IDF chosen on en validation, unseen language "
               "→ encoder head)")
    logreg = "frozen USE + logistic regression, C chosen on en validation"

    def name(model: str, size: str) -> str:
        return f"en→zh transfer zh accuracy{size} — {model}"

    rows = []
    for per_intent, size in (("25", ", 25 en rows per intent"), ("50", ""), ("100", ", 100 en rows per intent")):
        rows.append((per_intent, Value(name(default, size)), Value(name(logreg, size))))
    return tuple(rows)


#: The recommenders in the order the recommend benchmark names them.
RECOMMENDERS = ("popularity (global)", "popularity (recent)", "V-SKNN", "ALS (implicit)", "content-based",
                "SASRec (full CE + attributes)", "hybrid (blend learned on valid)")


def _recommend_rows() -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for data in ("Beauty", "Sports_and_Outdoors", "Diginetica sessions", "Taobao sessions"):
        for model in RECOMMENDERS:
            rows.append((data if model == RECOMMENDERS[0] else "", model,
                         *(Value(f"{data} · {model} · {metric}") for metric in ("HR@10", "NDCG@10", "coverage@10"))))
    return tuple(rows)


def _ope_rows() -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for key, shown in (("dm", "DM"), ("ips", "IPS"), ("snips", "SNIPS"), ("dr", "DR"),
                       ("switch_dr", "switch-DR (τ=5)"), ("clipped_ips", "clipped IPS (λ=5)")):
        name = f"OPE {key} (empirical BTS distribution): BTS value"
        rows.append((shown, Value(name, ".5f"), Detail(name, r"seed 0; 95% CI (\[[^\]]+\])"),
                     Detail(name, r"rel\. error ([\d.]+)"),
                     Detail(name, r"estimate − on-policy 95% CI (\[[^\]]+\] \(\w+ 0\))")))
    return tuple(rows)


def _serve_rows() -> tuple[tuple[Cell, ...], ...]:
    def ms(name: str) -> Value:
        return Value(name, ",.1f")  # one decimal: 20.3 ms must not read as 20

    at = "event in → decision out {} at {} events/s{}"
    return (
        ("service start with cached models (to `/readyz` with all four models loaded)", "≤ 3 s (issue 14)",
         (Value("service start to ready (cached models)", ".1f"), " s")),
        ("acknowledged events lost across kill -9", "0",
         (Value("kill -9: acknowledged events lost", ".0f"), " lost, ",
          Value("kill -9: events stored more than once", ".0f"), " stored twice after a full re-send")),
        ("restart after kill -9 to healthy", "–", (Value("kill -9: restart to healthy", ".1f"), " s")),
        ("HTTP ingest, batched (500/request, 4 in flight, with state + cart decisions)", "≥ 20,000 ev/s (issue 14)",
         (Value("HTTP ingest, batched", ",.0f"), " ev/s")),
        ("HTTP ingest, one event per request (16 in flight)", "–",
         (Value("HTTP ingest, one event per request", ",.0f"), " ev/s")),
        ("`/v1/intent` (micro-batched, 16 in flight)", "≥ 1,000 req/s, p99 ≤ 15 ms",
         (Value("/v1/intent throughput", ",.0f"), " req/s, p50 ", ms("/v1/intent latency p50"),
          " ms, p99 ", ms("/v1/intent latency p99"), " ms")),
        ("`/v1/intent` at 1,000 req/s offered (open loop)", "p99 ≤ 15 ms",
         ("p50 ", ms("/v1/intent latency p50 at 1,000 requests/s (open loop)"), " ms, p99 ",
          ms("/v1/intent latency p99 at 1,000 requests/s (open loop)"), " ms")),
        ("event in → decision out at 250 ev/s offered", "–",
         ("p50 ", ms(at.format("p50", 250, "")), " ms, p99 ", ms(at.format("p99", 250, "")), " ms")),
        ("the same, `--no-shopper-history`, same run and events", "–",
         ("p50 ", ms(at.format("p50", 250, " (no shopper history, for comparison)")), " ms, p99 ",
          ms(at.format("p99", 250, " (no shopper history, for comparison)")), " ms")),
        ("event in → decision out at 1,000 ev/s offered", "p99 ≤ 20 ms",
         ("p50 ", ms(at.format("p50", "1,000", "")), " ms, p99 ", ms(at.format("p99", "1,000", "")), " ms")),
        ("ingest path, one write group of 1 / 50 events (library call, no HTTP)", "–",
         (Value("ingest path, one write group of 1 event (median)", ".1f"), " ms / ",
          Value("ingest path, one write group of 50 events (median)", ".1f"), " ms")),
    )


#: CLINC150 models as ``bench text`` names them → how the docs show them ("{}" is filled from the
#: in-scope measurement's detail: the best epoch, the ONNX graphs kept).
CLINC_MODELS = (("TF-IDF char n-grams + linear SVM (baseline)", "TF-IDF char n-grams + linear SVM (baseline)", None),
                ("BiLSTM over words, from scratch (baseline)", "BiLSTM over words, from scratch (baseline)", None),
                ("frozen USE-multilingual + linear SVM", "frozen USE-multilingual + linear SVM", None),
                ("frozen USE + TF-IDF + linear SVM (default)", "frozen USE + TF-IDF + linear SVM", None),
                ("frozen USE + e5-small + TF-IDF + linear SVM", "frozen USE + e5-small + TF-IDF + linear SVM", None),
                ("fine-tuned USE-multilingual (torch port)", "fine-tuned USE-multilingual (torch port, {})",
                 r"(best epoch \d+ of \d+)"),
                ("fine-tuned all-MiniLM-L6-v2", "fine-tuned all-MiniLM-L6-v2 ({})", r"(best epoch \d+ of \d+)"),
                ("ensemble: linear + fine-tuned USE + fine-tuned MiniLM, threshold maximising in-scope accuracy "
                 "+ OOS recall", "**ensemble: linear + fine-tuned USE + fine-tuned MiniLM**", None),
                ("ensemble on ONNX Runtime", "the same ensemble on ONNX Runtime (graphs kept: {})",
                 r"graphs kept: ([^;]+)"))


def _clinc_rows() -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for model, shown, pattern in CLINC_MODELS:
        def name(metric: str, model: str = model) -> str:
            return f"CLINC150 {metric} — {model}"

        head, _, tail = shown.partition("{}")
        label: Cell = (head, Detail(name("in-scope accuracy"), pattern), tail) if pattern else shown
        # The BiLSTM benchmark scores with rejection only.
        closed: Cell = "" if model.startswith("BiLSTM") else Value(name("closed-set intent accuracy (no rejection)"))
        in_scope: Cell = Value(name("in-scope accuracy"))
        if shown.startswith("**"):
            in_scope = ("**", Value(name("in-scope accuracy")), "**")
        rows.append((label, closed, in_scope, Value(name("OOS recall")), Value(name("ECE")),
                     Value(name("train+eval time"), ",.0f")))
    return tuple(rows)


def _text_rows() -> tuple[tuple[Cell, ...], ...]:
    def shop(model: str, metric: str) -> Value:
        return Value(f"shop-intent model, {model}: {metric}")

    linear, tuned = "linear USE + TF-IDF", "fine-tuned USE (ONNX int8)"
    smp = "SMP2019 domain+intent accuracy — {}"
    default3 = "the default: 3-way positive/negative/neutral + unsure, USE + TF-IDF + linear SVM, zh+en"
    zh3 = "zh review sentiment accuracy — {}"
    en3 = "en review sentiment {} — " + default3
    split = r"\(train/val/test ([\d,/]+)"
    return (
        ("Bitext 27 intents", ("official splits ", Detail("Bitext accuracy — TF-IDF + linear SVM", split)),
         ("accuracy ", Value("Bitext accuracy — USE + TF-IDF + linear SVM"), " (TF-IDF alone ",
          Value("Bitext accuracy — TF-IDF + linear SVM"), ")"), "≥ 0.99"),
        ("shop intents (issue 12 recipe: eight sources, `product_question`)",
         ("recipe test (train/val/test ", Detail(f"shop-intent model, {linear}: in-scope accuracy", split),
          "): Bitext test + CLINC mapped / non-shop / `oos` + 300 zh SMP; Bitext test alone; CLINC150 `oos` "
          "test rows (1,000); real-text set (330 zh, 330 en). Re-run alone: "
          "`python -m shopintent.evaluation.benchmarks.text shop_intent`"),
         (f"{linear} (the fast default): in-scope ", shop(linear, "in-scope accuracy"), ", OOS recall ",
          shop(linear, "OOS recall"), ", ECE ", shop(linear, "ECE"), "; Bitext test ",
          shop(linear, "Bitext test accuracy"), "; CLINC OOS recall ", shop(linear, "CLINC150 OOS recall"),
          "; real zh ", shop(linear, "real zh shopper text accuracy"), ", real en ",
          shop(linear, "real en shopper text accuracy"), f" — {tuned}: ", shop(tuned, "in-scope accuracy"), " / ",
          shop(tuned, "OOS recall"), " / ", shop(tuned, "ECE"), "; Bitext ", shop(tuned, "Bitext test accuracy"),
          "; CLINC OOS ", shop(tuned, "CLINC150 OOS recall"), "; real zh ",
          shop(tuned, "real zh shopper text accuracy"), ", real en ", shop(tuned, "real en shopper text accuracy")),
         "real text ≥ 0.90 per language; CLINC OOS recall ≥ 0.90"),
        ("SMP2019 domain+intent", ("5-fold CV, seed 13, ", Detail(smp.format("TF-IDF + linear SVM"),
                                                                r"seed \d+, ([\d,]+ rows, \d+ labels)")),
         ("USE+TF-IDF ", Value(smp.format("USE + TF-IDF + linear SVM")), "; ensemble (linear + fine-tuned USE, "
          "no refit) ", Value(smp.format("ensemble: USE + TF-IDF linear + fine-tuned USE")), "; fine-tuned USE ",
          Value(smp.format("fine-tuned USE-multilingual")), "; TF-IDF ", Value(smp.format("TF-IDF + linear SVM")),
          "; BiLSTM (jieba) ", Value(smp.format("BiLSTM over jieba words (baseline)"))), "≥ 0.95"),
        ("zh e-commerce NER", ("official test (", Detail("zh e-commerce NER precision", r"\(([\d,/]+ sentences)\)"),
                               "), seqeval exact span"),
         ("F1 ", Value("zh e-commerce NER entity F1 (BiLSTM-CRF + gazetteers)"), " (P ",
          Value("zh e-commerce NER precision"), ", R ", Value("zh e-commerce NER recall"), ")"),
         "compare with the paper"),
        ("Bitext entity spans", "official test", ("F1 ", Value("Bitext entity-span F1 (BiLSTM-CRF, word tokens)"),
                                                  " (synthetic, templated)"), "–"),
        ("online_shopping_10_cats", ("fixed stratified 10 % test, seed 20240601 (",
                                     Detail(zh3.format(default3), split), ")"),
         ("ensemble (TF-IDF SVM + fine-tuned USE) ",
          Value(zh3.format("ensemble: TF-IDF linear SVM + fine-tuned USE (zh only)")), "; TF-IDF ",
          Value(zh3.format("TF-IDF + linear SVM (zh only)")), "; fine-tuned USE ",
          Value(zh3.format("fine-tuned USE-multilingual (zh only, 2 epochs)")), " (zh only, binary); the default "
          "3-way zh+en model (positive / negative / neutral + unsure; a neutral or unsure answer is a miss) ",
          Value(zh3.format(default3))), "≥ 0.95"),
        ("amazon_alexa_reviews", ("stratified 20 % test, seed 20240601 (", Detail(en3.format("accuracy"), split), ")"),
         ("the default 3-way model: accuracy ", Value(en3.format("accuracy"), ".3f"),
          ", macro-F1 over positive / negative ", Value(en3.format("macro-F1"), ".3f"),
          " (neutral / unsure answers are misses; its neutral rows and abstention: `shopintent bench sentiment`)"),
         "–"),
        (("speed: ", Detail("intent throughput, batched", r"^(default shop-intent model \([^)]*\))")),
         "unique queries never cached, same run",
         (Value("intent throughput, batched", ",.0f"), " q/s batched (2 threads); single query p50 ",
          Value("intent latency p50, single query", ".2f"), " ms, p99 ",
          Value("intent latency p99, single query", ".2f"), " ms (1 thread); full parse p50 ",
          Value("parse() latency p50 (intent + sentiment + rules + en tagger)", ".1f"),
          " ms; the linear model: ", Value("intent throughput, batched — linear USE + TF-IDF model", ",.0f"), " q/s"),
         "≥ 2,000 q/s; p50 ≤ 3 ms, p99 ≤ 10 ms"),
    )


def _train_time_rows() -> tuple[tuple[Cell, ...], ...]:
    def seconds(name: str) -> tuple[Part, ...]:
        return (Value(name, ",.0f"), " s")

    return (
        ("`shop_intent`", "linear USE + TF-IDF + SVM (the fast default)",
         seconds("shop-intent model, linear USE + TF-IDF: train time")),
        ("`shop_intent`", "fine-tuned USE, ONNX int8 (the candidate)",
         seconds("shop-intent model, fine-tuned USE (ONNX int8): train time")),
        ("`sentiment`", "3-way zh+en, every online_shopping_10_cats train row",
         seconds("sentiment model train time (3-way, zh+en)")),
        ("`ner_zh`", "BiLSTM-CRF + gazetteers", seconds("zh e-commerce NER train time")),
    )


def _realintent_rows() -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for language in ("zh", "en"):
        def v(metric: str, language: str = language) -> Value:
            return Value(f"{language}: {metric}")

        rows.append(((language, " (", Detail(f"{language}: accuracy, all rows", r"(\d+) rows"), ")"),
                     v("accuracy, all rows"), v("OOS recall"), v("OOS precision"), v("accuracy on shop-intent rows"),
                     v("recall product_question"), v("product_question rows answered oos")))
    return tuple(rows)


def _sentiment_rows() -> tuple[tuple[Cell, ...], ...]:
    three, binary = "3-way default", "binary pos/neg (the old default)"
    neutral = ("clinc150", "bitext_customer_service", "amazon_qa", "smp2019_zh_intent", "zh_ecommerce_ner_ding2019")
    gibberish = "gibberish neutral or unsure — all kinds"
    ece = "ECE, calibrated top probability"
    answered, coverage = "precision where it answered", "coverage"
    neutral_cell: list[Part] = []
    for source in neutral:
        neutral_cell += [" / " if neutral_cell else "", Value(f"neutral recall — {source}")]
    # The binary model answers every review, so its share called positive or negative is 1.
    return (
        ("zh reviews accuracy (neutral/unsure counts as wrong)", Value(f"zh reviews — {three}: accuracy"),
         Value(f"zh reviews — {binary}: accuracy")),
        ("zh reviews: share called positive or negative / accuracy there",
         (Value(f"zh reviews — {three}: share called positive or negative"), " / ",
          Value(f"zh reviews — {three}: accuracy where it answered positive or negative")),
         ("1 / ", Value(f"zh reviews — {binary}: accuracy"))),
        ("en reviews macro-F1 (pos/neg)", Value(f"en reviews — {three}: macro-F1"),
         Value(f"en reviews — {binary}: macro-F1")),
        ("en reviews: share called positive or negative / accuracy there",
         (Value(f"en reviews — {three}: share called positive or negative"), " / ",
          Value(f"en reviews — {three}: accuracy where it answered positive or negative")),
         ("1 / ", Value(f"en reviews — {binary}: accuracy"))),
        ("neutral recall, held-out CLINC150 / Bitext / amazon_qa / SMP2019 / Ding", tuple(neutral_cell), "—"),
        (("share of ", Detail(gibberish, r"^([\d,]+) strings"), " seeded gibberish strings called neutral or unsure"),
         Value(gibberish), ("(", Detail(gibberish, r"binary model called ([\d.]+) positive"), " called positive)")),
        (("ECE of the calibrated top probability, all ", Detail(ece, r"all ([\d,]+) review"), " test rows"),
         Value(ece, ".6f"), "—"),
        ("precision where it answered / coverage (all test rows)",
         (Value(f"{answered} (not unsure)"), " / ", Value(f"{coverage} (share not unsure)")), "—"),
        ("same, had the target been 0.95 / 0.99",
         (Value(f"{answered} — validation target 0.95"), " / ", Value(f"{coverage} — validation target 0.95"),
          " · ", Value(f"{answered} — validation target 0.99"), " / ",
          Value(f"{coverage} — validation target 0.99")), "—"),
    )

def _risk_dmc_rows() -> tuple[tuple[Cell, ...], ...]:
    def profit(name: str) -> tuple[Part, ...]:
        key = f"dmc profit per 1000, {name}"
        return (Value(key, ".1f"), " ", Detail(key, r"bootstrap CI (\[[^\]]+\])"))

    def flags(name: str) -> Detail:
        return Detail(f"dmc profit per 1000, {name}", r"flags ([\d.]+%) of")

    rows: list[tuple[Cell, ...]] = []
    for kind, shown in (("logistic", "logistic regression"), ("lightgbm", "LightGBM")):
        rows.append((shown, (Value(f"dmc {kind} ROC-AUC"), " ± ", Detail(f"dmc {kind} ROC-AUC", r"sd ([\d.]+)")),
                     (Value(f"dmc {kind} PR-AUC"), " ± ", Detail(f"dmc {kind} PR-AUC", r"sd ([\d.]+)")),
                     profit(kind), flags(kind)))
    for name in ("flag nobody", "rule trustLevel ≤ 2"):
        rows.append((name, "—", "—", profit(name), flags(name)))
    return tuple(rows)


def _risk_click_rows() -> tuple[tuple[Cell, ...], ...]:
    return (
        ("previous and next click gaps (verdict ≤ 10 min late)", Value("clicks ROC-AUC, last day"),
         Value("clicks PR-AUC, last day"), "≥ 0.97"),
        ("previous click only (immediate answer)", Value("clicks ROC-AUC, last day, previous-click features only"),
         Value("clicks PR-AUC, last day, previous-click features only"), "≥ 0.97"),
    )


def _risk_speed_rows() -> tuple[tuple[Cell, ...], ...]:
    return tuple((shown, Value(f"{name} p50 per event", ".3f"), Value(f"{name} p99 per event", ".3f"),
                  Value(f"{name} p99 per event, CPU time", ".3f"), "≤ 1 ms")
                 for name, shown in (("transaction scoring", "transaction (TransactionScorer.score)"),
                                     ("click scoring", "click (ClickRiskScorer.push, expiry on push)"),
                                     ("click push without expiry",
                                      "click (push without expiry; a timer releases the rest)"),
                                     ("live session risk step",
                                      "live session (service effects stage: features so far + forest + reasons)"))
                 ) + (("click timer tick, per released verdict", "—", "—",
                       Value("click timer tick p99 per released verdict, CPU time", ".3f"), "≤ 1 ms"),)


def _assist_flow_rows() -> tuple[tuple[Cell, ...], ...]:
    cells = ("flow rows routed to their flow", "flow rows routed to another flow",
             "other rows answered by a flow", "flow precision", "handed over")
    # Bitext's test rows are all flow intents: no "other rows" to answer by mistake
    return tuple((shown, Detail(f"{prefix}: handed over", r"(\d+) (?:hand-labelled|templated)"),
                  *("—" if (prefix, c) == ("bitext", "other rows answered by a flow")
                    else Value(f"{prefix}: {c}", ".4f") for c in cells))
                 for prefix, shown in (("zh", "real text, zh"), ("en", "real text, en"),
                                       ("bitext", "Bitext test split, en (templates)")))


#: Every generated block, by the key its markers carry.
TABLES: dict[str, Table] = {
    "intervene.ope": Table("intervene", ("estimator (empirical BTS dist.)", "BTS value from random log",
                                         "95% CI", "rel. error", "CI of estimate − on-policy"), _ope_rows()),
    "serve.results": Table("serve", ("what", "goal", "measured"), _serve_rows()),
    "recommend.main": Table("recommend", ("data", "model", "HR@10", "NDCG@10", "coverage@10"), _recommend_rows()),
    "behaviour.uci": Table("behaviour", ("model", "PageValues", "ROC-AUC", "PR-AUC", "F1", "ECE"), _uci_rows()),
    "behaviour.taobao": Table("behaviour", ("label", "base rate", "LightGBM ROC-AUC", "GRU with ids",
                                            "GRU without ids", "GRU without ids − LightGBM, k ≤ 5 (95 % CI)"),
                              _taobao_rows()),
    "behaviour.cdnow": Table("behaviour", ("predictor", "per-customer MAE", "per-customer RMSE",
                                           "holdout purchase-day total"), _cdnow_rows()),
    "text.clinc": Table("text", ("model", "closed-set accuracy (no rejection)", "in-scope accuracy (with rejection)",
                                 "OOS recall", "ECE", "train + eval, s"), _clinc_rows()),
    "text.results": Table("text", ("data", "protocol", "result", "goal"), _text_rows()),
    "text.train": Table("text", ("component", "model `shopintent bench text` trains", "training time"),
                        _train_time_rows()),
    "text.realintent": Table("realintent", ("language", "accuracy, all rows (goal ≥ 0.90)", "OOS recall",
                                            "OOS precision", "accuracy on shop-intent rows",
                                            "`product_question` recall", "`product_question` rows answered `oos`"),
                             _realintent_rows()),
    "text.sentiment": Table("sentiment", ("", "3-way default", "binary (before)"), _sentiment_rows()),
    "text.transfer": Table("text", ("model (trained on 560 en rows)", "zh accuracy", "zh macro-F1", "en test accuracy",
                                    "chosen on en validation"), _transfer_rows()),
    "text.transfer_sizes": Table("text", ("en train rows per intent", "default `intent train`, zh accuracy",
                                          "frozen USE + logistic regression, zh accuracy"), _transfer_size_rows()),
    "risk.dmc": Table("risk", ("model", "ROC-AUC ± sd", "PR-AUC ± sd", "profit per 1,000 (95 % CI)", "flagged"),
                      _risk_dmc_rows()),
    "risk.clicks": Table("risk", ("click features", "ROC-AUC, last day", "PR-AUC, last day", "goal"),
                         _risk_click_rows()),
    "risk.anomaly": Table("risk", ("SIMULATED pattern", "recall at 1 % FPR on real sessions"),
                          tuple((name, Value(f"anomaly recall at 1% FPR, SIMULATED {name}", ".3f"))
                                for name in ("scraper", "cart_hoarder", "coupon_farmer"))),
    "risk.speed": Table("risk", ("scoring path", "p50 ms", "p99 ms (wall)", "p99 ms (CPU time)", "goal"),
                        _risk_speed_rows()),
    "assist.flows": Table("assistflows", ("rows", "n", "flow rows to their flow", "to another flow",
                                          "other rows answered by a flow", "flow precision", "handed over"),
                          _assist_flow_rows()),
    "assist.orders": Table("assistflows", ("orders asked", "own order found", "another shopper's order answered",
                                           "order answer p50 ms", "p99 ms"),
                           ((Detail("store: own order found", r"(\d+) purchases drawn"),
                             Value("store: own order found", ".4f"),
                             Value("store: another shopper's order answered", ".4f"),
                             Value("store: order answer p50", ".2f"), Value("store: order answer p99", ".2f")),)),
}

# Tables an area keeps beside its benchmark (imported here: they need Table, Value and Detail above).
from shopintent.fairness.docs_tables import fairness_tables  # noqa: E402

TABLES.update(fairness_tables())
from shopintent.forecast.docs_tables import forecast_tables  # noqa: E402

TABLES.update(forecast_tables())
from shopintent.assist.docs_tables import assist_tables  # noqa: E402

TABLES.update(assist_tables())


def _part(part: Part, measurements: dict[str, dict[str, Any]], key: str) -> str:
    if isinstance(part, str):
        return part
    found = measurements.get(part.name)
    if found is None:
        raise RenderError(f"block {key}: no measurement {part.name!r} in its results file")
    if isinstance(part, Value):
        return MINUS.sub("−", format(float(found["value"]), part.fmt))
    match = re.search(part.pattern, str(found.get("detail", "")))
    if match is None:
        raise RenderError(f"block {key}: the detail of {part.name!r} has no {part.pattern!r}")
    return MINUS.sub("−", match.group(1))


def _refreshed(record: dict[str, Any]) -> str:
    """The sections re-run alone after the full run (``parameters.refreshed``), latest run of each:
    without them the footer's date would claim every row is as old as the full run."""
    latest: dict[str, str] = {}
    for run in (record.get("parameters") or {}).get("refreshed", []):
        latest[str(run["section"])] = str(run["at"])
    if not latest:
        return ""
    return "; re-run alone since: " + ", ".join(f"{section} {at}" for section, at in latest.items())


def render_table(key: str, results_dir: Path) -> str:
    """Block ``key``'s markdown: the table, then the results file and command it came from."""
    table = TABLES.get(key)
    if table is None:
        raise RenderError(f"no generated table {key!r}; known: {', '.join(sorted(TABLES))}")
    record = read_results(results_dir, table.area)
    if record is None:
        raise RenderError(f"block {key}: no benchmarks/results/{table.area}.json (run `shopintent bench {table.area}`)")
    measurements = {str(m["name"]): m for m in record["measurements"]}
    lines = ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    for row in table.rows:
        cells = [("".join(_part(p, measurements, key) for p in cell) if isinstance(cell, tuple)
                  else _part(cell, measurements, key)) for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Generated from `benchmarks/results/{table.area}.json` (`{record['command']}`, "
                  f"{record['created_at']}{_refreshed(record)}); do not edit by hand."]
    return "\n".join(lines) + "\n"


def render_page(text: str, results_dir: Path) -> str:
    """A page with every marked block refilled from the results files."""
    return BLOCK.sub(lambda m: (f"<!-- results:{m['key']} -->\n{render_table(m['key'], results_dir)}"
                                "<!-- /results -->"), text)


def stale_pages(pages: Iterable[Path], results_dir: Path) -> list[Path]:
    """The pages whose generated blocks differ from a fresh rendering."""
    return [p for p in pages if render_page(p.read_text(encoding="utf-8"), results_dir)
            != p.read_text(encoding="utf-8")]


def write_pages(pages: Sequence[Path], results_dir: Path) -> list[Path]:
    """Re-render the blocks of ``pages`` in place; the pages that changed."""
    changed = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        fresh = render_page(text, results_dir)
        if fresh != text:
            page.write_text(fresh, encoding="utf-8")
            changed.append(page)
            log.info("docs page re-rendered", page=str(page))
    return changed


def main(argv: Sequence[str]) -> list[Path]:
    """``python -m shopintent.evaluation.docs_render [DOCS_DIR]``: re-render the docs' blocks from
    ``Settings().results_dir``; ``DOCS_DIR`` defaults to the ``docs`` folder beside that checkout's
    ``benchmarks`` (never the working folder)."""
    from shopintent.settings import Settings

    results = Settings().results_dir
    docs = Path(argv[0]) if argv else results.parent.parent / "docs"
    if not docs.is_dir():
        raise SystemExit(f"no docs folder at {docs}: pass the checkout's docs folder")
    return write_pages(sorted(docs.glob("*.md")), results)


if __name__ == "__main__":
    import sys

    # Through the imported module, not this ``__main__`` copy: the area tables registered above were
    # built with the imported module's Value/Detail classes, which this copy's isinstance checks miss.
    from shopintent.evaluation import docs_render

    docs_render.main(sys.argv[1:])
