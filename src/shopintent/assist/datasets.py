"""Q&A tables for the assistant: AmazonQA (Appliances + Video Games), any shop's CSV/JSONL file, and splits.

Why: every QA model and the ``assist eval`` command need the same thing — aligned
questions, answers and the product each is about — plus a split in which no
product is on both sides (the AmazonQA response-selection protocol), so a model
is measured on products it never saw. Sources carry the data files' SHA-256 and
public URL so a result names exactly what it was measured on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shopintent.datasets import amazon_qa
from shopintent.datasets.base import sha256_of
from shopintent.settings import Settings

#: Longest question/answer a file may hold; longer is a bad row, not a silent cut.
MAX_TEXT_CHARS = 10_000


@dataclass
class QATable:
    """Aligned Q&A rows; ``products`` may repeat ``ids`` when a file names no product."""

    questions: list[str]
    answers: list[str]
    products: list[str]
    ids: list[str]
    answer_types: list[str | None] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    bad_rows: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.questions)

    def take(self, index: Sequence[int] | np.ndarray) -> QATable:
        """The rows at ``index`` (sources kept, bad rows dropped)."""
        idx = [int(i) for i in index]
        types = self.answer_types or [None] * len(self)
        return QATable([self.questions[i] for i in idx], [self.answers[i] for i in idx],
                       [self.products[i] for i in idx], [self.ids[i] for i in idx],
                       [types[i] for i in idx], self.sources)


def load_amazon_qa(settings: Settings | None = None,
                   categories: Sequence[str] = ("Appliances", "Video_Games")) -> QATable:
    """AmazonQA pairs of ``categories``; ids are ``<category>:<line>``, products the ASIN."""
    settings = settings or Settings()
    q: list[str] = []
    a: list[str] = []
    p: list[str] = []
    ids: list[str] = []
    types: list[str | None] = []
    sources = []
    for category in categories:
        pairs, _, skipped = amazon_qa.read_category(category, settings)
        for number, pair in enumerate(pairs, start=1):
            q.append(pair.question)
            a.append(pair.answer)
            p.append(pair.item_id)
            ids.append(f"{category}:{number}")
            types.append(pair.answer_type)
        file_name = amazon_qa.CATEGORY_FILES[category][0]
        spec_file = amazon_qa.SPEC.file(file_name)
        sources.append({"dataset": amazon_qa.SPEC.name, "file": file_name, "sha256": spec_file.sha256,
                        "url": spec_file.url, "rows": len(pairs), "skipped": len(skipped)})
    return QATable(q, a, p, ids, types, sources)


def product_split(products: Sequence[str], fractions: Sequence[float] = (0.8, 0.1, 0.1),
                  seed: int = 0) -> list[np.ndarray]:
    """Row indices per part, no product in two parts, parts sized by rows as near ``fractions`` as products allow.

    >>> [len(p) for p in product_split(["a", "a", "b", "c", "c", "d"], (0.5, 0.5), seed=1)]
    [3, 3]
    """
    unique = sorted(set(products))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(unique))
    sizes: dict[str, int] = {}
    for product in products:
        sizes[product] = sizes.get(product, 0) + 1
    bounds = np.cumsum(fractions) / float(np.sum(fractions)) * len(products)
    part_of: dict[str, int] = {}
    filled = 0
    part = 0
    for j in order:
        product = unique[j]
        while part < len(bounds) - 1 and filled >= bounds[part]:
            part += 1
        part_of[product] = part
        filled += sizes[product]
    parts: list[list[int]] = [[] for _ in fractions]
    for i, product in enumerate(products):
        parts[part_of[product]].append(i)
    return [np.asarray(x, dtype=np.int64) for x in parts]


def _check_text(value: Any, column: str, where: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        raise ValueError(f"{where}: `{column}` is missing")
    text = str(value)
    if not text.strip():
        raise ValueError(f"{where}: `{column}` is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"{where}: `{column}` has {len(text):,} characters (at most {MAX_TEXT_CHARS:,})")
    return text


def _rows(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        rows: list[dict[str, Any]] = []
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                rows.append({"__error__": f"line {number}: not JSON ({exc.msg})"})
                continue
            rows.append(record if isinstance(record, dict)
                        else {"__error__": f"line {number}: expected an object"})
        return rows
    if suffix in (".csv", ".tsv"):
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ","))
    raise ValueError(f"{path}: unsupported file type {suffix!r}; give a .csv, .tsv or .jsonl file")


def load_qa_file(path: Path | str, question_col: str = "question", answer_col: str = "answer",
                 product_col: str | None = "product_id", id_col: str | None = "id") -> QATable:
    """A shop's own Q&A file (CSV/TSV/JSONL). Bad rows are kept out and listed with their reason.

    Raises ``ValueError`` when a named column is absent from the file or no row is usable.
    """
    path = Path(path)
    rows = _rows(path)
    columns = {k for r in rows for k in r if k != "__error__"}
    for name, col in (("question", question_col), ("answer", answer_col)):
        if rows and col not in columns:
            raise ValueError(f"{path}: no `{col}` column for the {name}s; columns are "
                             f"{', '.join(sorted(columns)) or 'none'} (use --{name}-col)")
    use_product = bool(product_col) and product_col in columns
    table = QATable([], [], [], [], [], [{"file": str(path), "sha256": sha256_of(path)}])
    line_offset = 2 if path.suffix.lower() in (".csv", ".tsv") else 1
    for number, row in enumerate(rows):
        where = f"row {number + line_offset}"
        if "__error__" in row:
            table.bad_rows.append((where, row["__error__"]))
            continue
        try:
            question = _check_text(row.get(question_col), question_col, where)
            answer = _check_text(row.get(answer_col), answer_col, where)
        except ValueError as exc:
            table.bad_rows.append((where, str(exc)))
            continue
        row_id = str(row.get(id_col)) if id_col and row.get(id_col) not in (None, "") else where
        product = str(row.get(product_col)) if use_product and row.get(product_col) not in (None, "") else row_id
        table.questions.append(question)
        table.answers.append(answer)
        table.products.append(product)
        table.ids.append(row_id)
        table.answer_types.append(None)
    if not table.questions:
        raise ValueError(f"{path}: no usable row ({len(table.bad_rows)} bad rows; first: "
                         f"{table.bad_rows[0] if table.bad_rows else 'the file is empty'})")
    table.sources[0]["rows"] = len(table.questions)
    table.sources[0]["bad_rows"] = len(table.bad_rows)
    return table
