"""The tables of ``docs/assist.md``, rendered from ``benchmarks/results/assist.json``.

Kept beside the assistant (not in ``evaluation/docs_render.py``) so the rows change
with the benchmark that names them; ``docs_render`` adds :data:`ASSIST_TABLES` to its
``TABLES`` (:func:`assist_tables`).
"""

from __future__ import annotations

from shopintent.evaluation.docs_render import Cell, Table, Value

_QA_MODELS = ("BM25 (bm25s)", "USE-multilingual, frozen", "e5-small, frozen", "MiniLM-L6, frozen",
              "dual encoder fine-tuned (USE towers)", "hybrid BM25 + fine-tuned dual encoder",
              "hybrid BM25 + MiniLM-L6 (English only)",
              "fusion BM25 + MiniLM-L6 + fine-tuned dual encoder (English only)",
              "MiniLM-L6, top layer fine-tuned on all training pairs with BM25 hard negatives (English only)",
              "hybrid BM25 + fine-tuned MiniLM-L6 (English only)",
              "fusion BM25 + fine-tuned MiniLM-L6 + fine-tuned dual encoder (English only)")
_ECD_MODELS = ("BM25 (bm25s)", "USE-multilingual, frozen", "e5-small, frozen",
               "dual encoder fine-tuned (USE towers)", "hybrid BM25 + fine-tuned dual encoder",
               "learned combination (e5 + USE + char n-grams, trained on next-turn pairs of the 77 training chats)")


def _qa_rows() -> tuple[tuple[Cell, ...], ...]:
    return tuple((m, Value(f"QA 1-of-100 accuracy, {m}"), Value(f"QA MRR, {m}"), Value(f"QA recall@10, {m}"))
                 for m in _QA_MODELS)


def _ecd_rows() -> tuple[tuple[Cell, ...], ...]:
    return tuple((m, Value(f"ECD R10@1, {m}", ".2f"), Value(f"ECD R10@2, {m}", ".2f"), Value(f"ECD R10@5, {m}", ".2f"))
                 for m in _ECD_MODELS)


def _yesno_rows() -> tuple[tuple[Cell, ...], ...]:
    return tuple((shown, Value(f"yes/no accuracy, {name}"), Value(f"yes/no balanced accuracy, {name}"))
                 for name, shown in (("majority answer", "always the majority answer (yes)"),
                                     ("from the question", "from the question alone"),
                                     ("from the answer text", "from the stored answer's text")))


def _selective_rows() -> tuple[tuple[Cell, ...], ...]:
    prefix = "selective answering: "
    return tuple((shown, Value(prefix + name)) for name, shown in (
        ("area under accuracy-coverage", "area under accuracy vs coverage"),
        ("accuracy at full coverage", "accuracy answering everything"),
        ("accuracy at 50 % coverage", "accuracy answering the most confident 50 %"),
        ("accuracy at 30 % coverage", "accuracy answering the most confident 30 %"),
        ("share of out-of-scope queries below the 50 % coverage threshold",
         "out-of-scope queries handed over at the 50 % threshold")))


def _speed_rows() -> tuple[tuple[Cell, ...], ...]:
    return tuple((m, Value(f"ask p50 per question, 1 thread, {m}", ".2f"),
                  Value(f"ask p99 per question, 1 thread, {m}", ".2f"), Value(f"questions/s batched, {m}", ",.0f"))
                 for m in ("BM25 (bm25s)", "hybrid BM25 + fine-tuned dual encoder"))


def assist_tables() -> dict[str, Table]:
    """The generated blocks of docs/assist.md's product-QA sections, by key."""
    return dict(ASSIST_TABLES)


ASSIST_TABLES: dict[str, Table] = {
    "assist.qa": Table("assist", ("model", "1-of-100 accuracy (goal ≥ 0.75)", "MRR", "recall@10"), _qa_rows()),
    "assist.ecd": Table("assist", ("model", "R10@1 (goal ≥ 0.62; ± 0.05 at 100 chats)", "R10@2", "R10@5"),
                        _ecd_rows()),
    "assist.yesno": Table("assist", ("yes/no predictor", "accuracy", "balanced accuracy"), _yesno_rows()),
    "assist.selective": Table("assist", ("selective answering (test questions + CLINC out-of-scope)", "value"),
                              _selective_rows()),
    "assist.speed": Table("assist", ("model", "ask p50 ms, 1 thread", "ask p99 ms", "questions/s batched"),
                          _speed_rows()),
}
