"""Train, evaluate and predict from files: what ``shopintent recommend …`` calls.

These functions read a shop's own sequences (``seqtxt`` or ``events``) and
optional attributes, split them leave-one-out, train on the training part
only and report full-ranking metrics on the test positions, stamped with
the data checksum and seed so the numbers can be regenerated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopintent.recommend.base import Recommender
from shopintent.recommend.data import ItemIndex, leave_one_out, read_attributes, read_sequences
from shopintent.recommend.evaluate import evaluate
from shopintent.recommend.registry import MODELS, make_model
from shopintent.schema.records import InteractionSequence, Item

#: Evaluation protocols ``recommend evaluate`` knows.
PROTOCOLS: tuple[str, ...] = ("leave-one-out",)


@dataclass
class EvaluationReport:
    """What ``recommend evaluate`` prints: metrics on test (and validation), with provenance."""

    model: str
    parameters: dict[str, Any]
    protocol: str
    sequences: int
    items: int
    train_checksum: str
    test: dict[str, Any]
    valid: dict[str, Any]
    fit_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "parameters": self.parameters, "protocol": self.protocol,
            "split": "test = last item, valid = second-to-last, train = the rest; full ranking",
            "sequences": self.sequences, "items": self.items,
            "train_checksum": self.train_checksum, "fit_seconds": round(self.fit_seconds, 2),
            "test": self.test, "valid": self.valid, **self.extra,
        }


def load_inputs(sequences_path: Path, fmt: str = "seqtxt", attributes: Path | None = None,
                by: str = "user") -> tuple[list[InteractionSequence], dict[str, Item]]:
    """Sequences and (optional) item attributes from files."""
    sequences = read_sequences(sequences_path, fmt, by=by)
    items = read_attributes(attributes) if attributes is not None else {}
    return sequences, items


def build_model(kind: str, params: dict[str, Any] | None = None,
                on_epoch: Callable[[int, int, dict[str, float]], None] | None = None) -> Recommender:
    """A fresh model of ``kind``; ``on_epoch`` is wired to models that train in epochs."""
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")
    model = make_model(kind, **(params or {}))
    if on_epoch is not None and hasattr(model, "on_epoch"):
        model.on_epoch = on_epoch
    return model


def evaluate_sequences(
    sequences: list[InteractionSequence],
    kind: str,
    items: dict[str, Item] | None = None,
    params: dict[str, Any] | None = None,
    protocol: str = "leave-one-out",
    exclude_seen: bool = True,
    on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
) -> EvaluationReport:
    """Split, train on the training part, and measure full-ranking metrics on valid and test."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    model = build_model(kind, params, on_epoch)
    split = leave_one_out(sequences)
    start = time.perf_counter()
    model.fit(split.train, items=items, catalogue=split.catalogue, valid=split.valid)
    fit_seconds = time.perf_counter() - start
    test = evaluate(model, split.test, split.train, exclude_seen=exclude_seen)
    valid = evaluate(model, split.valid, split.train, exclude_seen=exclude_seen)
    return EvaluationReport(
        model=kind, parameters=model.get_params(), protocol=protocol,
        sequences=len(sequences), items=len(split.catalogue),
        train_checksum=split.train_checksum, test=test.as_dict(), valid=valid.as_dict(),
        fit_seconds=fit_seconds,
        extra={"too_short_for_split": split.dropped_short, "model_metrics": model.metrics_},
    )


def train_sequences(
    sequences: list[InteractionSequence],
    kind: str,
    out: Path,
    items: dict[str, Item] | None = None,
    params: dict[str, Any] | None = None,
    on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
    record: dict[str, Any] | None = None,
) -> Recommender:
    """Train on every sequence (validation = each last item, for early stopping/blending) and save to ``out``.

    ``record`` adds fields to the saved ``model.json`` (where the data came from).

    The last item of each sequence guides early stopping and blend weights
    but is also trained on by the models that do not need validation, so
    the saved model has seen all the data a shop has.
    """
    usable = [s for s in sequences if len(s.items) >= 2]
    valid = [_example(s) for s in usable]
    train = [InteractionSequence(s.user_id, s.items[:-1]) for s in usable] + \
            [s for s in sequences if len(s.items) < 2]
    model = build_model(kind, params, on_epoch)
    needs_valid = kind in ("sasrec", "hybrid")
    catalogue = ItemIndex.from_sequences(sequences, list(items or {})).ids
    model.fit(train if needs_valid else sequences, items=items, catalogue=catalogue,
              valid=valid if needs_valid else None)
    model.save(out, record=record)
    return model


def _example(seq: InteractionSequence):  # type: ignore[no-untyped-def]
    from shopintent.recommend.data import Example

    return Example(seq.user_id, seq.items[:-1], seq.items[-1])


def predict(model_dir: Path, history: list[str], k: int = 10,
            exclude_seen: bool = True) -> list[tuple[str, float]]:
    """Top-``k`` items for one history from a saved model."""
    return Recommender.load(model_dir).recommend(history, k=k, exclude_seen=exclude_seen)
