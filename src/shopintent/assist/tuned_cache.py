"""Fit the fine-tuned MiniLM once per (training pairs, hyper-parameters) and keep it under the state folder.

Why: on the shared 2-core machine the fine-tuning costs tens of minutes of CPU,
so ``shopintent bench assist`` must not redo it on every run, and a run killed
half-way must not lose the finished part. The key is the SHA-256 of the
training and validation pairs and the hyper-parameters, so any change to the
data, the split or a setting trains afresh; the weights are safetensors and
the record JSON (no pickle).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shopintent.assist.minilm_tuned import MiniLMTunedScorer
from shopintent.log import get_logger
from shopintent.persist import load_arrays, read_json, save_arrays, write_json
from shopintent.settings import Settings

log = get_logger(__name__)


def cache_key(questions: Sequence[str], answers: Sequence[str], val_questions: Sequence[str],
              val_answers: Sequence[str], parameters: dict[str, Any]) -> str:
    """SHA-256 of the pairs (both sides) and the hyper-parameters."""
    h = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode())
    for part in (questions, answers, val_questions, val_answers):
        h.update(b"\x00part")
        for text in part:
            h.update(text.encode("utf-8", "replace") + b"\x00")
    return h.hexdigest()[:24]


def fit_cached(questions: Sequence[str], answers: Sequence[str], validation: tuple[Sequence[str], Sequence[str]],
               settings: Settings, **parameters: Any) -> tuple[MiniLMTunedScorer, dict[str, Any]]:
    """The fitted scorer (from ``<state>/assist/minilm-tuned/<key>`` when already trained) and its run record."""
    key = cache_key(questions, answers, validation[0], validation[1], parameters)
    folder = Path(settings.state_dir) / "assist" / "minilm-tuned" / key
    folder.mkdir(parents=True, exist_ok=True)
    # one trainer per key: a second process (two bench runs, or a fit started ahead of the bench) waits
    # for the first and then reads its result instead of training the same layer again
    with open(folder / "train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _fit_locked(questions, answers, validation, settings, key, folder, parameters)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fit_locked(questions: Sequence[str], answers: Sequence[str], validation: tuple[Sequence[str], Sequence[str]],
                settings: Settings, key: str, folder: Path,
                parameters: dict[str, Any]) -> tuple[MiniLMTunedScorer, dict[str, Any]]:
    done = folder / "final.json"
    if done.is_file():
        record = read_json(done)
        scorer = MiniLMTunedScorer.from_state(record["parameters"], load_arrays(folder / "final.safetensors"),
                                              settings=settings)
        log.info("minilm-tuned loaded from the state folder", folder=str(folder))
        return scorer, {**record["run"], "cached": True}

    def checkpoint(scorer: MiniLMTunedScorer, label: str) -> None:
        params, arrays = scorer.state()
        save_arrays(folder / f"check-{label}.safetensors", arrays)
        write_json(folder / f"check-{label}.json", params)

    cpu, wall = time.process_time(), time.perf_counter()
    scorer = MiniLMTunedScorer(settings=settings, **parameters)
    scorer.fit(questions, answers, validation=validation, checkpoint=checkpoint)
    run = {"train_pairs": len(questions), "validation_pairs": len(validation[0]),
           "process_cpu_seconds": round(time.process_time() - cpu, 1),
           "wall_seconds": round(time.perf_counter() - wall, 1), "key": key}
    params, arrays = scorer.state()
    save_arrays(folder / "final.safetensors", arrays)
    write_json(done, {"parameters": params, "run": run})
    log.info("minilm-tuned trained", **run)
    return scorer, {**run, "cached": False}
