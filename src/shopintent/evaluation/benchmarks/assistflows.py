"""The assistant's service flows: where real shopper text is routed, and orders read from a real store.

Two parts.

**Routing real text.** The default shop-intent model as the service loads it (or the
current recipe trained into the benchmark's own folder, as ``bench realintent``
does), the default sentiment model when prepared, and the shop's default template
file decide, for each row of the real-text test set (:mod:`shopintent.text.evalsets`:
330 real Taobao customer turns in Chinese, 330 real Amazon shopper questions in
English, hand-labelled, never trained on), what :class:`~shopintent.assist.assistant.Assistant`
does with it: a flow (which), or a hand-over (which reason). No Q&A index is loaded,
so a product question is handed over; the Q&A path is measured by ``bench assist``.
Per language: the share of rows labelled with a flow intent that reach their flow,
the share that reach another flow, the share of the other rows (oos, product
questions, complaints, buying) that a flow answers anyway, the flows' precision,
and the share handed over. Also the Bitext test split (templated English, the rows of
flow intents), for contrast with real text.

**Orders from a real store.** The Taobao sample (every event) is ingested through
the one ingest path with each purchase sent under an order number; for up to
``LOOKUPS`` purchases the flow asks about the order with its own shopper's session
(must find it) and with another shopper's (must not), and times one reply on the
order path (store lookup + template) on one thread.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from shopintent.assist.assistant import Assistant
from shopintent.assist.flows import FLOW_OF_INTENT
from shopintent.assist.phrasebook import DEFAULT_TEMPLATES, Phrasebook
from shopintent.assist.store_lookup import lookup_order
from shopintent.datasets import bitext_customer_service, taobao_userbehavior_head
from shopintent.datasets.base import sha256_of
from shopintent.evaluation.bench import BenchResult, Measurement
from shopintent.evaluation.benchmarks.realintent import load_or_train, sha256_of_resource
from shopintent.log import get_logger
from shopintent.privacy import Pseudonymizer
from shopintent.settings import Settings
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events
from shopintent.text import defaults, evalsets
from shopintent.text.parse import Parser

log = get_logger(__name__)

#: Purchases asked about (own shopper and another shopper each), seeded.
LOOKUPS = 500
SEED = 0
#: A fixed "now" for the routing part (windows do not change where a row is routed).
NOW = datetime(2017, 12, 4, tzinfo=UTC)


def _route(assistant: Assistant, parser: Parser, texts: list[str]) -> list[str]:
    """What the assistant does with each text: ``flow:<name>`` or ``handover:<reason>`` (or ``no_text``)."""
    from shopintent.assist.store_lookup import OrderLookup

    out = []
    for text, parsed in zip(texts, parser.parse_batch(texts), strict=True):
        reply = assistant.reply(text, parsed.as_dict(), session_id="bench", turn=None,
                                orders=lambda key: OrderLookup(None, 0, key is not None), now=NOW)
        out.append(f"flow:{reply.flow}" if reply.flow else
                   f"handover:{reply.reason}" if reply.escalate else "no_text")
    return out


def routing_scores(labels: list[str], routed: list[str]) -> dict[str, Any]:
    """Shares of flow rows reaching their flow / another flow, other rows answered by a flow,
    precision of flow answers, hand-overs."""
    gold = [FLOW_OF_INTENT.get(label) for label in labels]
    got = [r.removeprefix("flow:") if r.startswith("flow:") else None for r in routed]
    flow_rows = [i for i, g in enumerate(gold) if g is not None]
    other_rows = [i for i, g in enumerate(gold) if g is None]
    answered = [i for i, g in enumerate(got) if g is not None]
    right = sum(1 for i in flow_rows if got[i] == gold[i])
    wrong = sum(1 for i in flow_rows if got[i] is not None and got[i] != gold[i])
    intruders = sum(1 for i in other_rows if got[i] is not None)
    handed = Counter(r.removeprefix("handover:") for r in routed if r.startswith("handover:"))

    def share(n: int, d: int) -> float | None:
        return round(n / d, 4) if d else None

    return {"rows": len(labels), "flow_rows": len(flow_rows), "other_rows": len(other_rows),
            "to_their_flow": share(right, len(flow_rows)), "to_another_flow": share(wrong, len(flow_rows)),
            "other_rows_answered_by_a_flow": share(intruders, len(other_rows)),
            "flow_precision": share(sum(1 for i in answered if got[i] == gold[i]), len(answered)),
            "flow_answers": len(answered), "handed_over": share(sum(handed.values()), len(labels)),
            "handover_reasons": dict(handed.most_common())}


def _routing_measurements(name: str, s: dict[str, Any], desc: str) -> list[Measurement]:
    rows = [
        ("flow rows routed to their flow", s["to_their_flow"], f"{s['flow_rows']} rows labelled with a flow intent"),
        ("flow rows routed to another flow", s["to_another_flow"], f"{s['flow_rows']} rows labelled with a flow intent"),
        ("other rows answered by a flow", s["other_rows_answered_by_a_flow"],
         f"{s['other_rows']} rows labelled oos, product_question or a non-flow intent"),
        ("flow precision", s["flow_precision"], f"{s['flow_answers']} rows a flow answered"),
        ("handed over", s["handed_over"], f"all {s['rows']} rows; no Q&A index loaded"),
    ]
    return [Measurement(f"{name}: {label}", value, "fraction", f"{desc}; {detail}")
            for label, value, detail in rows if value is not None]


def _store_part(settings: Settings, book: Phrasebook) -> tuple[list[Measurement], dict[str, Any]]:
    """Own and other shoppers' orders through the flow over the whole Taobao sample in DuckDB."""
    events = taobao_userbehavior_head.load(settings).events.copy()
    purchase = events["event_type"] == "purchase"
    events["event_id"] = events["event_id"].astype("string")
    events.loc[purchase, "event_id"] = [f"2017{i:08d}" for i in events.index[purchase]]
    pseudonymizer = Pseudonymizer.from_settings(settings)
    started = time.perf_counter()
    with EventStore() as store:
        report = ingest_events(store, events, pseudonymizer)
        ingest_s = time.perf_counter() - started
        buys = events[purchase]
        picks = buys.sample(min(LOOKUPS, len(buys)), random_state=SEED)
        shoppers = sorted(buys["user_id"].astype(str).unique())
        rng = random.Random(SEED)
        assistant = Assistant(book, pseudonymizer)
        found = leaked = 0
        timings: list[float] = []
        for row in picks.itertuples(index=False):
            owner = str(row.user_id)
            other = rng.choice([s for s in shoppers if s != owner])
            text = f"where is my order {row.event_id}?"
            parsed = {"language": "en", "intent": "track_order", "confidence": 1.0,
                      "slots": [{"label": "order_id", "value": str(row.event_id)}]}
            for shopper in (owner, other):
                user = pseudonymizer.pseudonymize(shopper, "user")
                t0 = time.perf_counter()
                reply = assistant.reply(text, parsed, session_id="bench", turn=None,
                                        orders=lambda key, u=user: lookup_order(store, u, key),
                                        now=row.timestamp.to_pydatetime())
                if shopper == owner:
                    timings.append(time.perf_counter() - t0)
                    found += reply.sources[0] == "template:order_status.en.found"
                else:
                    leaked += any(s.startswith("store:") for s in reply.sources)
    n = len(picks)
    ms = sorted(1000 * t for t in timings)
    p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
    desc = (f"Taobao sample ({report.accepted} events ingested, {len(buys)} purchases sent under order "
            f"numbers); {n} purchases drawn with seed {SEED}")
    load = os.getloadavg()
    out = [
        Measurement("store: own order found", found / n, "fraction", f"{desc}; asked by their own shopper"),
        Measurement("store: another shopper's order answered", leaked / n, "fraction",
                    f"{desc}; each asked by a randomly drawn other shopper (must be 0)"),
        Measurement("store: order answer p50", round(statistics.median(ms), 3), "ms",
                    f"{desc}; Assistant.reply on the order path (DuckDB lookup + template), one "
                    "thread; measured on a shared, busy machine"),
        Measurement("store: order answer p99", round(p99, 3), "ms",
                    f"{desc}; as p50; measured on a shared, busy machine"),
    ]
    return out, {"store_events": int(report.accepted), "store_purchases": int(len(buys)),
                 "lookups": n, "ingest_seconds": round(ingest_s, 1),
                 "loadavg_during_store_part": [round(x, 2) for x in load]}


def run(settings: Settings) -> BenchResult:
    """Route the real-text test set and the Bitext test split; read orders from a real store."""
    model, was_saved = load_or_train(settings)
    sentiment = defaults.ensure_model(settings, "sentiment", train_missing=False)
    parser = Parser(intent_model=model, sentiment_model=sentiment)
    book = Phrasebook.load()
    assistant = Assistant(book, Pseudonymizer.from_settings(settings))
    measurements: list[Measurement] = []
    parameters: dict[str, Any] = {
        "intent_model": type(model).__name__, "intent_model_found_saved": was_saved,
        "intent_model_data_checksum": getattr(model, "data_checksum_", None),
        "sentiment_model": type(sentiment).__name__ if sentiment is not None else None,
        "templates": str(DEFAULT_TEMPLATES.name), "min_confidence": book.handover.min_confidence,
        "negative_sentiment_confidence": book.handover.negative_sentiment_confidence,
        "seed": SEED}
    for language in evalsets.LANGUAGES:
        test = evalsets.real_shop_intent_test(settings, language)
        scores = routing_scores(list(test.labels), _route(assistant, parser, list(test.texts)))
        desc = (f"real-text test set, {language} ({scores['rows']} hand-labelled rows, "
                f"text/evalsets/{evalsets.csv_name(language)})")
        measurements += _routing_measurements(language, scores, desc)
        parameters[f"{language}_routing"] = scores
        log.info("assist routing scored", language=language, to_their_flow=scores["to_their_flow"])
    frame = bitext_customer_service.load(settings).frame()
    rows = frame[(frame["split"] == "test") & frame["intent"].isin(list(FLOW_OF_INTENT))]
    scores = routing_scores(rows["intent"].astype(str).tolist(),
                            _route(assistant, parser, rows["text"].astype(str).tolist()))
    measurements += _routing_measurements("bitext", scores, f"Bitext test split, flow intents only "
                                          f"({scores['rows']} templated English rows)")
    parameters["bitext_routing"] = scores
    store_measurements, store_parameters = _store_part(settings, book)
    measurements += store_measurements
    parameters.update(store_parameters)
    return BenchResult(
        area="assistflows",
        measurements=measurements,
        data={**{f"text/evalsets/{evalsets.csv_name(lang)}": sha256_of_resource(evalsets.csv_name(lang))
                 for lang in evalsets.LANGUAGES},
              **{f"bitext_customer_service/{f.path}": f.sha256 for f in bitext_customer_service.SPEC.files},
              **{f"taobao_userbehavior_head/{f.path}": f.sha256
                 for f in taobao_userbehavior_head.SPEC.files},
              "assist/templates/service_answers.toml": sha256_of(DEFAULT_TEMPLATES)},
        parameters=parameters,
        notes=("Where the assistant sends real shopper text with the default shop-intent model and the "
               "shipped template file (min_confidence in the parameters), and whether a flow reads only "
               "the caller's own orders. Real text is far harder than Bitext's templates: the intent "
               "model is the limit (bench realintent measures it alone)."),
    )
