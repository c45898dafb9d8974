"""The append-only risk verdict log: what was held or refused, and why, for audit and re-training.

One JSON line per verdict: when, what kind (``transaction`` or ``session``),
pseudonymised ids only (never a raw id or a field a person could be found
by), score, action, reasons and rules, the model version. As
:mod:`shopintent.intervene.decision_log`: each line is one ``write`` on a
file opened ``O_APPEND``, so a crash loses at most the line being written,
lines of several workers never interleave on a local disk, and history is
never rewritten.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "verdicts.jsonl"
>>> with VerdictLog(path) as log:
...     log.append([{"kind": "transaction", "action": "hold", "reasons": ["rule big"]}])
>>> read_verdicts(path)[0]["action"]
'hold'
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Self

from shopintent.settings import Settings

__all__ = ["VerdictLog", "default_log_path", "read_verdicts"]


def default_log_path(settings: Settings) -> Path:
    """``state_dir/risk/verdicts.jsonl``."""
    return Path(settings.state_dir) / "risk" / "verdicts.jsonl"


class VerdictLog:
    """Appends verdict records to a JSON-lines file (safe across threads and processes)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Append each record as one line (one ``write`` each); returns how many were written."""
        n = 0
        for record in records:
            line = (json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()
            with self._lock:
                if self._fd is None:
                    raise ValueError(f"{self.path}: the verdict log is closed")
                written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(f"{self.path}: wrote {written} of {len(line)} bytes of a log line (disk full?)")
            n += 1
        return n

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_verdicts(path: Path | str) -> list[dict[str, Any]]:
    """Every verdict of the log, oldest first (a torn last line, from a crash mid-write, is skipped)."""
    out = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out
