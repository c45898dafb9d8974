"""The benchmark runner behind ``make bench`` and ``shopintent bench AREA``.

Each area (store, text, behaviour, …) has one module in
:mod:`shopintent.evaluation.benchmarks` with a ``run(settings) -> BenchResult``.
The runner stamps every result with what is needed to reproduce it (command,
package version, machine, data checksums, seeds), writes
``benchmarks/results/AREA.json`` and regenerates ``BENCHMARKS.md`` from all
result files, so every number there has its command beside it.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopintent import __version__
from shopintent.log import get_logger
from shopintent.settings import Settings

log = get_logger(__name__)

#: Every benchmark area the CLI accepts, and the issue that builds it.
AREAS: dict[str, str] = {
    "store": "event ingest throughput and store pipelines (foundation)",
    "text": "text intent, slots and sentiment",
    "behaviour": "purchase / abandonment / next-action from click streams",
    "recommend": "session-based and sequential recommendation",
    "intervene": "off-policy evaluation and the decision engine",
    "serve": "HTTP API and stream load",
    "privacy": "PII scrubber recall per kind, texts changed, throughput",
    "realintent": "default shop intents on real shopper text never trained on (zh + en, hand-labelled)",
    "sentiment": "positive / negative / neutral with unsure: reviews, neutral text, gibberish, calibration",
    "risk": "transaction fraud (cost matrix), click fraud, session anomalies, risk scoring speed",
    "ingest": "small-batch fast path: prepare_records per call, row-wise vs table, 1 to 1,000 events",
    "forecast": "demand forecasting backtests (pharma, CDNOW, Taobao), intervals, stock policy, intent signals",
    "assist": "product QA 1-of-100 (AmazonQA), yes/no answers, Chinese response selection (ECD), selective answering, ask speed",
    "assistflows": "assistant service flows: where real shopper text is routed (zh + en), own orders only, order answer speed",
    "fairness": "shopper profiles, per-group audits with intervals, incentive replay + constraint, mitigation, DP release",
    "multimodal": "product photos + titles: attribute heads per modality and fusion, zh/en text-to-image search, attribute filling, encoder speed",
}


class AreaNotBuilt(LookupError):
    """An area whose benchmark module does not exist yet."""


@dataclass
class Measurement:
    """One reported number with its unit and the split/protocol it was measured on."""

    name: str
    value: float
    unit: str
    detail: str = ""


@dataclass
class BenchResult:
    """Everything one area's benchmark run produced."""

    area: str
    measurements: list[Measurement]
    data: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: str = ""


def model_dir(settings: Settings, area: str, component: str) -> Path:
    """Where benchmark ``area`` saves a model it trains: ``<state_dir>/bench/<area>/<component>``,
    never the service's default folders (a benchmark run must not change what is served)."""
    return Path(settings.state_dir) / "bench" / area / component


def machine_info() -> dict[str, Any]:
    """Where a benchmark ran: numbers depend on it."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def available_areas() -> list[str]:
    """Areas whose benchmark module exists in this version."""
    found = []
    for area in AREAS:
        try:
            importlib.import_module(f"shopintent.evaluation.benchmarks.{area}")
        except ModuleNotFoundError:
            continue
        found.append(area)
    return found


def run_area(area: str, settings: Settings, results_dir: Path) -> dict[str, Any]:
    """Run one area's benchmark, write ``results_dir/AREA.json`` and return the record."""
    if area not in AREAS:
        raise KeyError(f"unknown benchmark area {area!r}; known: {', '.join(AREAS)}")
    try:
        runner = importlib.import_module(f"shopintent.evaluation.benchmarks.{area}")
    except ModuleNotFoundError as exc:
        raise AreaNotBuilt(f"area {area!r} ({AREAS[area]}) has no benchmark in this version") from exc
    log.info("benchmark started", area=area)
    result: BenchResult = runner.run(settings)
    record = {
        "area": area,
        "command": f"shopintent bench {area}",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "shopintent_version": __version__,
        "machine": machine_info(),
        "data": result.data,
        "parameters": result.parameters,
        "measurements": [asdict(m) for m in result.measurements],
        "notes": result.notes,
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{area}.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    log.info("benchmark written", area=area, path=str(results_dir / f"{area}.json"))
    return record


def render_markdown(results_dir: Path) -> str:
    """BENCHMARKS.md from every committed result file, each number beside its command."""
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`shopintent bench all`) from `benchmarks/results/*.json`;",
        "do not edit by hand. Each section names the command that regenerates it, the",
        "machine it ran on, and the data (with SHA-256) it measured.",
        "",
    ]
    for area in AREAS:
        path = results_dir / f"{area}.json"
        if not path.is_file():
            continue
        record = json.loads(path.read_text())
        machine = record["machine"]
        lines += [
            f"## {area} — {AREAS[area]}",
            "",
            f"Command: `{record['command']}` · shopintent {record['shopintent_version']} · "
            f"{record['created_at']} · {machine['cpu_count']} CPUs, Python {machine['python']}",
            "",
            "| measurement | value | unit | protocol |",
            "|---|---:|---|---|",
        ]
        for m in record["measurements"]:
            value = m["value"]
            shown = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
            lines.append(f"| {m['name']} | {shown} | {m['unit']} | {m['detail']} |")
        lines.append("")
        if record["data"]:
            lines.append("Data: " + "; ".join(f"`{k}` sha256 `{v[:16]}…`" for k, v in record["data"].items()))
            lines.append("")
        if record["parameters"]:
            lines.append("Parameters: " + ", ".join(f"{k}={v}" for k, v in record["parameters"].items()))
            lines.append("")
        if record.get("notes"):
            lines += [record["notes"], ""]
    return "\n".join(lines)
