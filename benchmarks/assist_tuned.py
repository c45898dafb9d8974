"""Only the fine-tuned-MiniLM rows of ``shopintent bench assist`` (product QA), for development.

Why a script of its own: the whole assist benchmark (three encoders, the dual
encoder, yes/no, ECD, selective answering, speed) ran 54 min cold on the shared
2-core CPU; a change to the MiniLM fine-tuning only needs its rows. This runs
exactly the benchmark's code for them (same data, split, seed, validation
sample and choices: :func:`shopintent.evaluation.benchmarks.assist.tuned_minilm`,
``HybridScorer.choose_weight`` on the validation sample, ``qa_rows`` on the
test side) for ``minilm-tuned`` and ``hybrid-minilm-tuned``, and writes a JSON
record to ``--out``.

The fusion of BM25 + fine-tuned MiniLM + the dual encoder is re-run only with
``--with-fusion``: it needs the dual encoder trained again (same code, data and
seed as the full run; tens of minutes of CPU). Without it the fusion row stays
the full run's, built on that run's fine-tuned MiniLM, and the update says so.

``--update-results benchmarks/results/assist.json`` makes an honest partial
update of the full record: the re-run rows and their parameters are replaced,
every other row keeps its value and gets its provenance appended to its detail,
and the record's command, parameters and notes say which rows came from which
run. Run::

    SHOPINTENT_DATA_DIR=/work/shared/data .venv/bin/python -m benchmarks.assist_tuned \\
        --out /tmp/assist_tuned.json --update-results benchmarks/results/assist.json [--with-fusion]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from shopintent.assist.datasets import load_amazon_qa
from shopintent.assist.hybrid import HybridScorer
from shopintent.assist.lexical import BM25Scorer
from shopintent.evaluation.bench import machine_info
from shopintent.evaluation.benchmarks.assist import (MINILM_BASED, MODEL_NAMES, QA_GOAL, SEED, _split, qa_rows,
                                                     trained_dual, tuned_fusion, tuned_fusion_parameters,
                                                     tuned_minilm, tuned_parameters, tuned_validation)
from shopintent.log import get_logger
from shopintent.settings import get_settings

log = get_logger(__name__)

#: The QA rows this script re-runs (``--with-fusion`` adds ``FUSION``).
RERUN = ("minilm-tuned", "hybrid-minilm-tuned")
FUSION = "fusion-tuned"


def main() -> None:
    """Parse the arguments, run the fine-tuned MiniLM rows, write the record (and update the results)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/assist_tuned.json"),
                        help="Where the JSON record goes (a development record).")
    parser.add_argument("--update-results", type=Path, default=None,
                        help="A full `bench assist` record to update in place: the fine-tuned MiniLM rows only.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads outside the fine-tuning.")
    parser.add_argument("--with-fusion", action="store_true",
                        help="Also re-run the fusion BM25 + fine-tuned MiniLM + dual encoder (trains the dual again).")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started, cpu = time.perf_counter(), time.process_time()
    settings = get_settings()
    table = load_amazon_qa(settings)
    train, val, test = _split(table)
    split = (f"product-disjoint 80/10/10 by rows, seed {SEED}: {len(train):,}/{len(val):,}/{len(test):,} pairs, "
             f"{len(set(train.products)):,}/{len(set(val.products)):,}/{len(set(test.products)):,} products")
    tuned_val = tuned_validation(val)
    tuned, tuned_run = tuned_minilm(train, tuned_val, settings)
    hybrid = HybridScorer(dense="minilm-tuned", weight=None, seed=SEED, settings=settings, scorer=tuned)
    hybrid.choose_weight(tuned_val.questions, tuned_val.answers)
    models: dict[str, Any] = {"minilm-tuned": tuned, "hybrid-minilm-tuned": hybrid, "_tuned_run": tuned_run}
    fusion_params: dict[str, Any] = {}
    if args.with_fusion:
        models[FUSION], fusion_params = _fusion_tuned(train, tuned_val, tuned, settings)
    tuned.forget()
    tuned.remember(test.questions + test.answers)  # the rows score the test side; frozen layers once
    measurements, qa = qa_rows(models, test, split)
    tuned.forget()
    params = {"split": split, "seed": SEED, "rerun": [k for k in models if not k.startswith("_")],
              "minilm_tuned": tuned_parameters(models),
              "hybrid_minilm_tuned_bm25_weight": hybrid.weight,
              "hybrid_minilm_tuned_validation_accuracy_by_weight": hybrid.validation_, **fusion_params}
    record = {
        "what": "development record: the fine-tuned MiniLM rows of `shopintent bench assist` alone",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "data": {f"{s['dataset']}/{s['file']}": s["sha256"] for s in table.sources},
        "parameters": params, "qa": qa,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "wall_seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "measurements": [asdict(m) for m in measurements],
    }
    args.out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    if args.update_results is not None:
        update_results(args.update_results, record)
    log.info("fine-tuned MiniLM rows written", path=str(args.out),
             **{k: round(v["one_of_100_accuracy"], 4) for k, v in qa.items()})


def _fusion_tuned(train: Any, tuned_val: Any, tuned: Any, settings: Any) -> tuple[Any, dict[str, Any]]:
    """The fusion BM25 + fine-tuned MiniLM + dual encoder exactly as ``bench assist`` builds it (its own
    functions): the dual trained on the training side, the weights chosen on the tuned validation sample."""
    started = time.perf_counter()
    dual = trained_dual(train, settings)
    fusion = tuned_fusion(BM25Scorer(), tuned, dual, tuned_val, settings)
    return fusion, {**tuned_fusion_parameters(fusion),
                    "fusion_tuned_dual_loss_per_epoch": [round(x, 4) for x in dual.history_],
                    "fusion_tuned_dual_fit_seconds": round(time.perf_counter() - started, 1)}


def _is_rerun_row(name: str, old_names: set[str]) -> bool:
    """Whether a measurement of the full record is one of the rows this script re-runs (old or new name)."""
    return name.startswith("QA ") and any(name.endswith(f", {n}") for n in old_names)


def update_results(path: Path, record: dict[str, Any]) -> None:
    """Replace the re-run rows and parameters of the full record at ``path`` by ``record``'s, labelling
    what was re-run and what was kept (module docstring)."""
    full = json.loads(path.read_text(encoding="utf-8"))
    if full["parameters"].get("split") != record["parameters"]["split"]:
        raise ValueError("the full record was made on another split; run the whole bench instead")
    for key, sha in record["data"].items():
        if full["data"].get(key) != sha:
            raise ValueError(f"data {key} differs from the full record's; run the whole bench instead")
    full_run = full.get("full_run_created_at", full["created_at"])
    rerun_kinds = tuple(record["parameters"].get("rerun", RERUN))
    with_fusion = FUSION in rerun_kinds
    old_names = {MODEL_NAMES[k] for k in rerun_kinds} | {
        "MiniLM-L6, top layer fine-tuned on 4,000 training pairs (English only)"}
    mark_rerun = f" [re-run {record['created_at']} by python -m benchmarks.assist_tuned]"
    rerun = [{**m, "detail": m["detail"] + mark_rerun} for m in record["measurements"]]
    kept, measurements, inserted = 0, [], False
    for m in full["measurements"]:
        if _is_rerun_row(m["name"], old_names):
            if not inserted:  # the re-run rows go where the old ones stood (the table's order)
                measurements += rerun
                inserted = True
            continue
        mark = f" [kept from the full run of {full_run}]"
        if "fusion BM25 + fine-tuned MiniLM-L6" in m["name"]:
            mark = (f" [kept from the full run of {full_run}: built on that run's fine-tuned MiniLM (4,000 pairs, "
                    "64 tokens, no hard negatives), not the re-run one]")
        if "full run of" not in m["detail"]:
            m = {**m, "detail": m["detail"] + mark}
        measurements.append(m)
        kept += 1
    if not inserted:
        measurements += rerun
    full_measurements_before = full["measurements"]
    full["measurements"] = measurements
    p = full["parameters"]
    same_choice = p.get("minilm_tuned", {}).get("chosen_config") == \
        record["parameters"]["minilm_tuned"].get("chosen_config")
    if "partial_update" in p and not same_choice:  # an earlier re-run chose otherwise: keep what it measured
        p.setdefault("superseded_partial_updates", []).append({
            "created_at": full["created_at"], "chosen_config": p["minilm_tuned"].get("chosen_config"),
            "validation_accuracy_best_by_config": p["minilm_tuned"].get("validation_accuracy_best_by_config"),
            "hybrid_minilm_tuned_bm25_weight": p.get("hybrid_minilm_tuned_bm25_weight"),
            "test": {m["name"]: m["value"] for m in full_measurements_before if _is_rerun_row(m["name"], old_names)}})
    replaced = p.get("replaced_rows_of_the_full_run") or {}
    for m in full_measurements_before:  # the full run's value of each row re-run for the first time
        if _is_rerun_row(m["name"], old_names) and "full run of" in m["detail"]:
            replaced.setdefault(m["name"], m["value"])
    p["replaced_rows_of_the_full_run"] = replaced
    p["minilm_tuned"] = record["parameters"]["minilm_tuned"]
    p["hybrid_minilm_tuned_bm25_weight"] = record["parameters"]["hybrid_minilm_tuned_bm25_weight"]
    p["hybrid_minilm_tuned_validation_accuracy_by_weight"] = \
        record["parameters"]["hybrid_minilm_tuned_validation_accuracy_by_weight"]
    if with_fusion:
        p.update({k: v for k, v in record["parameters"].items() if k.startswith("fusion_tuned_")})
        p["fusion_tuned_note"] = (f"re-run {record['created_at']} on the re-run fine-tuned MiniLM, with the dual "
                                  "encoder trained again (same code, data and seed as the full run; its losses in "
                                  "fusion_tuned_dual_loss_per_epoch, the full run's in dual_encoder); the dual and "
                                  f"hybrid rows themselves are the full run's ({full_run})")
    else:
        p["fusion_tuned_note"] = (f"fusion_tuned_* and the fusion-tuned row are from the full run of {full_run}, "
                                  "built on that run's fine-tuned MiniLM (4,000 pairs, 64 tokens, 2 epochs, no hard "
                                  "negatives, scale 20): not re-run")
    p["qa"] = {**p["qa"], **record["qa"]}
    qa = p["qa"]
    best = max(qa, key=lambda k: qa[k]["one_of_100_accuracy"])
    p["best_qa_model"] = best
    p["goal_qa_met"] = bool(qa[best]["one_of_100_accuracy"] >= QA_GOAL)
    clean = [k for k in qa if k not in MINILM_BASED]
    best_clean = max(clean, key=lambda k: qa[k]["one_of_100_accuracy"])
    p["best_clean_qa_model"], p["goal_qa_met_clean"] = best_clean, bool(qa[best_clean]["one_of_100_accuracy"]
                                                                        >= QA_GOAL)
    p["partial_update"] = (f"rows {', '.join(rerun_kinds)} and parameters minilm_tuned, hybrid_minilm_tuned_*"
                           f"{', fusion_tuned_*' if with_fusion else ''} re-measured "
                           f"{record['created_at']} by python -m benchmarks.assist_tuned (same data, split, seed, "
                           f"validation sample and code as bench assist); every other row is from the full run of "
                           f"{full_run}")
    p["tuned_run_cpu_seconds"], p["tuned_run_wall_seconds"] = record["cpu_seconds"], record["wall_seconds"]
    p["tuned_run_load_average"] = record["load_average"]
    full["full_run_created_at"] = full_run
    full["created_at"] = record["created_at"]
    full["command"] = (f"shopintent bench assist (full run {full_run}); rows {', '.join(rerun_kinds)}: "
                       "python -m benchmarks.assist_tuned --update-results benchmarks/results/assist.json"
                       + (" --with-fusion" if with_fusion else ""))
    full.setdefault("full_run_notes", full.get("notes", ""))
    ok = "met" if p["goal_qa_met"] else "not met"
    kept_fusion = "" if with_fusion else ", including the fusion built on the fine-tuned MiniLM,"
    full["notes"] = (f"PARTIAL UPDATE: the rows {', '.join(MODEL_NAMES[k] for k in rerun_kinds)} were re-run on "
                     f"{record['created_at']} (every training pair, 128 tokens, BM25 hard negatives; the scale (20 or 40), "
                     f"the trained layers (1 or 2), the epochs (1 or 2) and the step were chosen on the validation "
                     f"sample; the test side was scored once per re-run); every other row{kept_fusion} is from the "
                     f"full run of {full_run}. QA goal (1-of-100 >= {QA_GOAL}) after the update: best "
                     f"{MODEL_NAMES[best]} {qa[best]['one_of_100_accuracy']:.4f} — {ok}. "
                     + _superseded_note(p.get("superseded_partial_updates", [])) + "Full run's notes: "
                     + full["full_run_notes"])
    path.write_text(json.dumps(full, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log.info("results updated (fine-tuned MiniLM rows only)", path=str(path), kept_rows=kept)


def _superseded_note(superseded: list[dict[str, Any]]) -> str:
    """A sentence per earlier re-run of these rows that this one replaced (its configuration and test numbers)."""
    out = ""
    for old in superseded:
        test = ", ".join(f"{name.split(', ', 1)[1][:40]}… {name.split(',')[0][3:]} {value:.4f}"
                         for name, value in old["test"].items() if "1-of-100" in name)
        out += (f"An earlier re-run of these rows ({old['created_at']}, chosen config {old['chosen_config']}) "
                f"scored {test} on the test side; it is superseded because a candidate added afterwards won on the "
                f"validation sample (parameters.superseded_partial_updates), not because of its test numbers. ")
    return out


if __name__ == "__main__":
    main()
