"""Only the product-understanding part of ``shopintent bench multimodal``, for development.

Why a script of its own: the whole multimodal benchmark (fine-tuning, text-to-image
search, attribute filling, the Beauty cold-start protocol, ONNX export, int8 and speed)
runs for most of an hour on the shared 2-core CPU; a change to the image encoder's
fine-tuning only needs the understanding table, the validation choices behind it and
the fine-tune's per-epoch validation accuracy. This runs exactly the benchmark's code
for that part (:func:`shopintent.evaluation.benchmarks.multimodal.prepare` and
:func:`~shopintent.evaluation.benchmarks.multimodal.understanding_part`: same split,
seed, cache and choices on validation) and writes a JSON record to ``--out``.

Its output is a development record, not a result: the numbers in
``benchmarks/results/multimodal.json`` and the docs come from one full
``shopintent bench multimodal`` run. Run::

    SHOPINTENT_DATA_DIR=/work/shared/data .venv/bin/python -m benchmarks.multimodal_understanding \\
        --out /tmp/multimodal_understanding.json

Where the full run cannot be repeated in time, ``--update-results benchmarks/results/multimodal.json``
makes an honest partial update of that record: its understanding rows and parameters are replaced by
this run's, every other row keeps its value and gets its provenance appended to its detail (the full
run's date, and that it used that run's fine-tuned encoder), and the record's command, parameters and
notes say which rows came from which run.

Choosing a fine-tuning recipe: ``--validation-only`` fine-tunes on the fit products alone with the
bench's recipe or the one given by ``--finetune-from``, ``--block-lr-decay``, ``--max-epochs``,
``--patience``, ``--lr``, ``--cache-block``, ``--shift``, ``--mixup``, ``--ema``, ``--crop-views`` and prints/writes only validation numbers (articleType accuracy per epoch, best
epoch, flip choice; with ``--test-shifts 4|8`` also the flip-averaged views over one-cell shifts of the cached
maps, inference only on the same cached head): no test product is scored, so recipes can be compared honestly.
``--compare-bench`` adds the paired comparison with the bench's recipe on the same validation products
(products only one of the two gets right, net gain, its paired standard error): how a gain is told from noise. The fine-tuned
head is cached under the state folder by data, rows, recipe and code, so the understanding run of the
chosen recipe (after it becomes the bench's constants) reads it back instead of training it again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopintent.evaluation.bench import machine_info
from shopintent.evaluation.benchmarks.multimodal import FinetuneRecipe, prepare, understanding_part, validation_trial
from shopintent.log import get_logger
from shopintent.multimodal.fashion import TASKS
from shopintent.settings import get_settings

log = get_logger(__name__)


def main() -> None:
    """Parse the arguments, run the understanding part, write the record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/multimodal_understanding.json"),
                        help="Where the JSON record goes (not benchmarks/results: a development record).")
    parser.add_argument("--update-results", type=Path, default=None,
                        help="A full `bench multimodal` record to update in place: its understanding rows only.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the full bench uses one).")
    parser.add_argument("--trials", type=Path, action="append", default=[],
                        help="Validation-only trial records (JSON lists written with --validation-only) that chose "
                             "the recipe: kept in the record's parameters (finetune_recipe_trials).")
    parser.add_argument("--validation-only", action="store_true",
                        help="Fine-tune on the fit products and report validation numbers only (no test number).")
    parser.add_argument("--prefit-refit", action="store_true",
                        help="Train the refit (fit + valid) of the recipe for --max-epochs epochs and cache the head "
                             "after every epoch under the key the refit of that many epochs uses (EMA recipes only); "
                             "scores nothing. Run beside its --validation-only trial to save the refit's time.")
    trial = parser.add_argument_group("recipe overrides (only with --validation-only; default: the bench's)")
    trial.add_argument("--finetune-from", type=int, help="first trained MBConv block (--cache-block..15).")
    trial.add_argument("--block-lr-decay", type=float, help="learning-rate factor per block below 15.")
    trial.add_argument("--max-epochs", type=int, help="epoch cap.")
    trial.add_argument("--patience", type=int, help="epochs without a validation gain before stopping.")
    trial.add_argument("--lr", type=float, help="learning rate of block 15 and the last stage.")
    trial.add_argument("--cache-block", type=int, help="the block whose input is cached (<= --finetune-from).")
    trial.add_argument("--shift", type=int, help="random shift of the cached training maps, in cells.")
    trial.add_argument("--mixup", type=float, help="mixup Beta alpha on the cached maps and labels (0 = off).")
    trial.add_argument("--ema", type=float, help="EMA decay of the trained weights (scored and kept).")
    trial.add_argument("--crop-views", type=int,
                       help="cached random resized crops per photo drawn as extra training views (0 = none).")
    trial.add_argument("--test-shifts", type=int, choices=(0, 4, 8),
                       help="also score flip-averaged views over 4 or 8 one-cell shifts of the cached maps "
                            "(inference only: reads the cached fine-tuned head of the same recipe).")
    parser.add_argument("--record-trials", type=Path, default=None,
                        help="Append the --trials records to parameters.finetune_recipe_trials of this results "
                             "record and stop: recipes tried on validation and not kept are recorded, nothing is "
                             "re-scored (no test number).")
    parser.add_argument("--compare-bench", action="store_true",
                        help="with --validation-only: also compare the trial with the bench's recipe product by "
                             "product on the validation products (paired_vs_reference in the record; the bench "
                             "recipe's fit-only head must be cached).")
    args = parser.parse_args()
    overrides = {field: value for field, value in (
        ("train_from", args.finetune_from), ("block_lr_decay", args.block_lr_decay),
        ("max_epochs", args.max_epochs), ("patience", args.patience), ("lr", args.lr),
        ("cache_block", args.cache_block), ("shift", args.shift), ("mixup", args.mixup), ("ema", args.ema),
        ("test_shifts", args.test_shifts), ("crop_views", args.crop_views))
        if value is not None}
    if args.record_trials is not None:
        if not args.trials or overrides or args.validation_only or args.update_results is not None:
            parser.error("--record-trials takes --trials files only")
        record_trials(args.record_trials, [t for f in args.trials for t in json.loads(f.read_text())])
        return
    if args.compare_bench and not args.validation_only:
        parser.error("--compare-bench needs --validation-only")
    if args.validation_only:
        trial_record(args.out, replace(FinetuneRecipe(), **overrides), args.threads,
                     reference=FinetuneRecipe() if args.compare_bench else None)
        return
    if args.prefit_refit:
        prefit_refit(replace(FinetuneRecipe(), **overrides), args.threads)
        return
    if overrides:
        parser.error("recipe overrides need --validation-only: a measured run uses the bench's recipe")
    started, cpu = time.perf_counter(), time.process_time()
    prepared = prepare(get_settings(), threads=args.threads)
    measurements, params = understanding_part(prepared)
    record = {
        "what": "development record: the understanding part of `shopintent bench multimodal` alone",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "data": {"fashion_product_images_224 (images + styles.csv.zip)": prepared.data.sha256},
        "parameters": {**params, "torch_threads": args.threads,
                       **({"finetune_recipe_trials": [t for f in args.trials for t in json.loads(f.read_text())]}
                          if args.trials else {})},
        "wall_seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "measurements": [asdict(m) for m in measurements],
    }
    args.out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    if args.update_results is not None:
        update_results(args.update_results, record)
    image_rows = {m.name: round(m.value, 4) for m in measurements if m.name.startswith("articleType image")}
    log.info("understanding part written", path=str(args.out), **image_rows)


def trial_record(out: Path, recipe: FinetuneRecipe, threads: int, reference: FinetuneRecipe | None = None) -> None:
    """Append one recipe's validation record (no test number) to the JSON list at ``out`` (with ``reference``:
    its paired comparison with that recipe on the validation products)."""
    started = time.perf_counter()
    result = validation_trial(get_settings(), recipe, threads=threads, reference=reference)
    result.update(created_at=datetime.now(UTC).isoformat(timespec="seconds"), torch_threads=threads,
                  wall_seconds=round(time.perf_counter() - started, 1), loadavg_1min=round(os.getloadavg()[0], 2))
    trials = json.loads(out.read_text()) if out.is_file() else []
    out.write_text(json.dumps([*trials, result], indent=2) + "\n")
    log.info("validation trial written", path=str(out), best_epoch=result["best_epoch"],
             best_valid=result["best_valid"], history=result["valid_history"])


def record_trials(path: Path, trials: list[dict[str, Any]]) -> None:
    """Append validation-only ``trials`` to ``parameters.finetune_recipe_trials`` of the results record at
    ``path``; measurements, command and notes stay as they are (nothing was re-scored). A trial already in
    the record (same recipe and creation time) is not added twice."""
    def identity(trial: dict[str, Any]) -> str:
        return json.dumps([trial.get("recipe"), trial.get("created_at")], sort_keys=True)

    full = json.loads(path.read_text(encoding="utf-8"))
    kept = full["parameters"].setdefault("finetune_recipe_trials", [])
    seen = {identity(t) for t in kept}
    added = [t for t in trials if identity(t) not in seen]
    kept.extend(added)
    path.write_text(json.dumps(full, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log.info("validation trials recorded (nothing re-scored)", path=str(path), added=len(added), total=len(kept))


def prefit_refit(recipe: FinetuneRecipe, threads: int) -> None:
    """Cache the refit heads of ``recipe`` for every epoch count up to ``recipe.max_epochs`` in one run.

    Why this is the same head the bench would train: the refit for ``k`` epochs runs ``finetune_head`` on
    the training rows with ``epochs=k`` under the ``max_epochs`` cosine schedule and no validation, so its
    first ``k`` epochs draw the same batches and take the same steps as any longer run of the same call,
    and it returns the EMA state after them. This run trains ``max_epochs`` epochs once and, at each epoch
    boundary, stores that EMA state under the key of the ``k``-epoch refit (bench ``_cached_finetune``),
    so the understanding run finds the refit of the epoch count chosen on validation already trained.
    Only for EMA recipes: without an average the state at an epoch boundary is not observable from outside.
    """
    import torch

    from shopintent.evaluation.benchmarks import multimodal as bench
    from shopintent.multimodal.encoder import HeadStage, pretrained_net
    from shopintent.multimodal.fashion import load_fashion

    if recipe.ema is None:
        raise SystemExit("--prefit-refit needs an EMA recipe (--ema)")
    torch.set_num_threads(threads)
    settings = get_settings()
    data = load_fashion(settings)
    products = data.products
    paths = [Path(p) for p in products["path"]]
    train, _, _, _ = bench._splits(products)
    start = recipe.train_from
    mid, mirrored, crops = bench.training_maps(settings, data, paths, recipe)
    labels = {t: products[t].to_numpy() for t in TASKS}

    def save(epochs: int, state: dict[str, torch.Tensor]) -> None:
        head = HeadStage(pretrained_net(), start)
        head.load_state_dict(state)
        head.history_ = [float("nan")] * epochs  # type: ignore[assignment]
        head.best_epoch_ = epochs  # type: ignore[assignment]
        bench._cached_finetune(settings.state_dir, bench._finetune_key(data, recipe, train, None, epochs), start,
                               lambda: head.eval())
        log.info("refit head cached", epochs=epochs)

    ema_states_per_epoch(mid, labels, train, save, epochs=recipe.max_epochs, lr=recipe.lr, seed=bench.SEED,
                         flipped=mirrored, first_block=start, label_smoothing=recipe.label_smoothing,
                         block_lr_decay=recipe.block_lr_decay, shift=recipe.shift, mixup=recipe.mixup, ema=recipe.ema,
                         views=crops)


def ema_states_per_epoch(
    inputs: Any, labels: Any, train: Any, on_epoch: Callable[[int, dict[str, Any]], None], epochs: int,
    batch_size: int = 128, **options: Any,
) -> None:
    """Run ``finetune_head`` (no validation) for ``epochs`` under an ``epochs``-long schedule and hand the EMA
    state after each epoch to ``on_epoch(k, state)``: the head ``finetune_head`` returns for ``epochs=k``
    (same schedule), without training it ``epochs`` times (:func:`prefit_refit`)."""
    from shopintent.multimodal import finetune

    per_epoch = math.ceil(int(train.sum()) / batch_size)
    plain = finetune._Ema

    class EpochEma(plain):  # type: ignore[misc, valid-type]
        def update(self, module: Any) -> None:
            super().update(module)
            if self.steps % per_epoch == 0:
                on_epoch(self.steps // per_epoch, {k: v.clone() for k, v in self.state.items()})

    finetune._Ema = EpochEma  # type: ignore[misc]
    try:
        finetune.finetune_head(inputs, labels, train, epochs=epochs, schedule_epochs=epochs, batch_size=batch_size,
                               **options)
    finally:
        finetune._Ema = plain  # type: ignore[misc]


def _is_understanding_row(name: str) -> bool:
    """Whether a measurement of the full record belongs to the understanding part (what this script re-runs)."""
    words = name.split()
    return ((len(words) == 3 and words[0] in TASKS and words[2] in ("accuracy", "macro-f1"))
            or name.startswith(("fine-tune best epoch", "validation articleType image_finetuned accuracy")))


def update_results(path: Path, record: dict[str, Any]) -> None:
    """Replace the understanding rows and parameters of the full record at ``path`` by ``record``'s,
    labelling what was re-run and what was kept (module docstring)."""
    full = json.loads(path.read_text(encoding="utf-8"))
    full_run = full.get("full_run_created_at", full["created_at"])
    kept = []
    for m in full["measurements"]:
        if _is_understanding_row(m["name"]):
            continue
        mark = f" [kept from the full run of {full_run}, with that run's fine-tuned encoder]"
        if "full run of" not in m["detail"]:
            m = {**m, "detail": m["detail"] + mark}
        kept.append(m)
    full["measurements"] = record["measurements"] + kept
    full["parameters"] = {**full["parameters"], **record["parameters"],
                          "partial_update": (f"understanding rows and parameters re-measured "
                                             f"{record['created_at']} by python -m benchmarks.multimodal_understanding "
                                             f"(same data, split, seed and code as bench multimodal); every other "
                                             f"row is from the full run of {full_run}"),
                          "understanding_run_cpu_seconds": record["cpu_seconds"],
                          "understanding_run_wall_seconds": record["wall_seconds"]}
    full["full_run_created_at"] = full_run
    full["created_at"] = record["created_at"]
    full["command"] = ("shopintent bench multimodal (full run " + full_run + "); understanding rows: "
                       "python -m benchmarks.multimodal_understanding --update-results")
    note = (f"PARTIAL UPDATE: the understanding rows (accuracy and macro-F1 per task and modality, fine-tune "
            f"epochs, flip choice) were re-run on {record['created_at']}; the text-to-image, attribute filling, "
            f"similar items, cold start, ONNX and speed rows are from the full run of {full_run}, which used the "
            f"fine-tuned encoder of that run (parameters finetuned/finetune_* describe the re-run). ")
    full.setdefault("full_run_notes", full.get("notes", ""))
    # a disclosure of how choices were made (e.g. a cap set after a test number was seen) outlives re-runs
    full["notes"] = note + full.get("selection_disclosure", "") + full["full_run_notes"]
    path.write_text(json.dumps(full, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log.info("results updated (understanding rows only)", path=str(path), kept_rows=len(kept))


if __name__ == "__main__":
    main()
