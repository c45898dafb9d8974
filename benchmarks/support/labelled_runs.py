"""One results file of labelled runs (before/after a change), each run kept under its label.

The profiling benchmarks (:mod:`benchmarks.serve_startup`, :mod:`benchmarks.intent_profile`)
are run by hand around a change, so their file accumulates runs instead of being rewritten.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def save_labelled_run(out: Path, label: str, run: dict[str, Any], protocol: str, **fields: Any) -> None:
    """Add ``run`` under ``label`` to the record in ``out`` (created if missing), with machine and protocol."""
    record: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {"runs": {}}
    record["runs"][label] = run
    record.update(fields)
    record["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                         "cpu_count": os.cpu_count()}
    record["protocol"] = protocol
    out.write_text(json.dumps(record, indent=1) + "\n")
