"""Reading a shop's own labelled text files (CSV or JSON lines) for ``shopintent intent train/eval``.

Why: a shop brings its data in whatever export it has. This reads CSV
(any delimiter the sniffer recognises, UTF-8 with or without BOM) and JSON
lines, checks the named columns exist, and reports every unusable row by its
line number instead of silently dropping it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path


class LabelledFileError(ValueError):
    """A labelled file cannot be used as asked (missing column, unreadable format)."""


@dataclass
class LabelledRows:
    """Texts and labels read from a file, and the rows that were skipped with their reason."""

    texts: list[str]
    labels: list[str | None]
    skipped: list[str] = field(default_factory=list)


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    raise LabelledFileError(
        f"{path}: unknown file type {suffix!r}; give a .csv, .tsv or .jsonl file"
    )


def _records(path: Path) -> list[tuple[int, dict[str, object]]]:
    if _format(path) == "jsonl":
        out = []
        with path.open(encoding="utf-8-sig") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise LabelledFileError(
                        f"{path} line {line_no}: not valid JSON ({exc.msg})"
                    ) from exc
                if not isinstance(record, dict):
                    raise LabelledFileError(
                        f"{path} line {line_no}: expected a JSON object per line"
                    )
                out.append((line_no, record))
        return out
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(64 * 1024)
        handle.seek(0)
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
        except csv.Error:
            pass
        reader = csv.DictReader(handle, delimiter=delimiter)
        return [(i + 2, dict(row)) for i, row in enumerate(reader)]


def read_labelled_file(
    path: Path | str, text_col: str = "text", label_col: str | None = "label"
) -> LabelledRows:
    """Texts and labels from a CSV/TSV/JSONL file; ``label_col=None`` reads texts only.

    Rows with an empty text (or, when labels are asked for, an empty label)
    are skipped and listed with their line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    records = _records(path)
    if not records:
        raise LabelledFileError(f"{path}: no rows")
    columns = set(records[0][1])
    for name in (text_col, label_col):
        if name is not None and name not in columns:
            raise LabelledFileError(
                f"{path}: no column {name!r}; columns are {', '.join(sorted(map(str, columns)))} "
                f"(choose with --text-col / --label-col)"
            )
    rows = LabelledRows([], [])
    for line_no, record in records:
        text = record.get(text_col)
        label = record.get(label_col) if label_col else None
        if text is None or not str(text).strip():
            rows.skipped.append(f"line {line_no}: `{text_col}` is empty")
            continue
        if label_col and (label is None or not str(label).strip()):
            rows.skipped.append(f"line {line_no}: `{label_col}` is empty")
            continue
        rows.texts.append(str(text))
        rows.labels.append(str(label).strip() if label_col else None)
    return rows
