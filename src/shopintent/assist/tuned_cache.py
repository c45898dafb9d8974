"""Fit the fine-tuned MiniLM once per (training pairs, hyper-parameters) and keep it under the state folder.

Why: on the shared 2-core machine the fine-tuning costs tens of minutes of CPU,
so ``shopintent bench assist`` must not redo it on every run, and a run killed
half-way must not lose the finished part. The key is the SHA-256 of the
training and validation pairs and the hyper-parameters, so any change to the
data, the split or a setting trains afresh; the weights are safetensors and
the record JSON (no pickle).

The frozen layers' per-token states of the training texts are cached too
(``<state>/assist/minilm-bottom/<key>.safetensors``, keyed by the texts, the
token limit and the number of frozen layers): they are most of the CPU of a
fit, and they are the same for every setting of the trained layer (scale,
learning rate, hard negatives), so trying a second setting costs only its
training steps.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shopintent.assist.minilm_tuned import MiniLMTunedScorer
from shopintent.log import get_logger
from shopintent.persist import load_arrays, read_json, save_arrays, write_json
from shopintent.settings import Settings

log = get_logger(__name__)


def cache_key(questions: Sequence[str], answers: Sequence[str], val_questions: Sequence[str],
              val_answers: Sequence[str], parameters: dict[str, Any],
              negatives: Sequence[str | None] | None = None) -> str:
    """SHA-256 of the pairs (both sides), the hard negatives if any, and the hyper-parameters."""
    h = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode())
    parts: list[Sequence[str]] = [questions, answers, val_questions, val_answers]
    if negatives is not None:
        parts.append([t if t is not None else "\x01none" for t in negatives])
    for part in parts:
        h.update(b"\x00part")
        for text in part:
            h.update(text.encode("utf-8", "replace") + b"\x00")
    return h.hexdigest()[:24]


def load_bottom(scorer: MiniLMTunedScorer, texts: Sequence[str], settings: Settings) -> None:
    """Put the frozen layers' states of ``texts`` into ``scorer``'s memo, from disk or computed (and saved)."""
    h = hashlib.sha256(f"{scorer.max_length}/{LAYERS_KEY}{scorer._split}".encode())
    for text in texts:
        h.update(text.encode("utf-8", "replace") + b"\x00")
    folder = Path(settings.state_dir) / "assist" / "minilm-bottom"
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{h.hexdigest()[:24]}.safetensors"
    if file.is_file():
        arrays = load_arrays(file)
        flat = torch.from_numpy(arrays["states"])
        bounds = np.concatenate([[0], np.cumsum(arrays["lengths"])])
        states = [flat[int(bounds[i]) : int(bounds[i + 1])] for i in range(len(texts))]
        log.info("minilm frozen states read", texts=len(texts), file=str(file))
    else:
        started = time.process_time()
        states = scorer.bottom(texts)
        lengths = np.asarray([s.shape[0] for s in states], dtype=np.int64)
        flat_np = torch.cat(states).numpy() if states else np.zeros((0, 384), dtype=np.float32)
        save_arrays(file.with_suffix(".tmp"), {"states": flat_np, "lengths": lengths})
        file.with_suffix(".tmp").rename(file)
        log.info("minilm frozen states computed and saved", texts=len(texts), file=str(file),
                 cpu_seconds=round(time.process_time() - started, 1))
    scorer.remember_states(texts, states)


#: Part of the frozen-states key: bump when the frozen computation changes.
LAYERS_KEY = "frozen-v1-"


def fit_cached(questions: Sequence[str], answers: Sequence[str], validation: tuple[Sequence[str], Sequence[str]],
               settings: Settings, negatives: Sequence[str | None] | None = None,
               **parameters: Any) -> tuple[MiniLMTunedScorer, dict[str, Any]]:
    """The fitted scorer (from ``<state>/assist/minilm-tuned/<key>`` when already trained) and its run record.

    ``negatives``: per pair a hard-negative answer text or ``None`` (``MiniLMTunedScorer.fit``).
    """
    key = cache_key(questions, answers, validation[0], validation[1], parameters, negatives)
    folder = Path(settings.state_dir) / "assist" / "minilm-tuned" / key
    folder.mkdir(parents=True, exist_ok=True)
    # one trainer per key: a second process (two bench runs, or a fit started ahead of the bench) waits
    # for the first and then reads its result instead of training the same layer again
    with open(folder / "train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _fit_locked(questions, answers, validation, settings, key, folder, parameters, negatives)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fit_locked(questions: Sequence[str], answers: Sequence[str], validation: tuple[Sequence[str], Sequence[str]],
                settings: Settings, key: str, folder: Path,
                parameters: dict[str, Any],
                negatives: Sequence[str | None] | None = None) -> tuple[MiniLMTunedScorer, dict[str, Any]]:
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
    texts = list(dict.fromkeys([*questions, *answers, *(t for t in negatives or [] if t is not None),
                                *validation[0], *validation[1]]))
    load_bottom(scorer, texts, settings)
    scorer.fit(questions, answers, validation=validation, checkpoint=checkpoint, negatives=negatives)
    run = {"train_pairs": len(questions), "validation_pairs": len(validation[0]),
           "hard_negatives": 0 if negatives is None else sum(t is not None for t in negatives),
           "process_cpu_seconds": round(time.process_time() - cpu, 1),
           "wall_seconds": round(time.perf_counter() - wall, 1), "key": key}
    params, arrays = scorer.state()
    save_arrays(folder / "final.safetensors", arrays)
    write_json(done, {"parameters": params, "run": run})
    log.info("minilm-tuned trained", **run)
    return scorer, {**run, "cached": False}
