"""Tables of measured numbers in ``docs/*.md``, rendered from ``benchmarks/results/*.json``.

Why: numbers copied by hand into the docs drift from the runs that produced
them (an earlier run's throughput, a test count that grew). Like
``BENCHMARKS.md``, each table of results in the docs is generated: a page
holds a marked block ::

    <!-- results:intervene.ope -->
    … generated table …
    <!-- /results -->

and :data:`TABLES` says which measurements fill block ``intervene.ope``.
:func:`render_page` refills every block of a page from the results files;
``tests/test_docs.py`` fails when a committed page differs from its
rendering (a stale block) and when a number in any other docs table is
held by no results file. Regenerate with
``python -m shopintent.evaluation.docs_render`` (after ``shopintent bench AREA``).

>>> from shopintent.settings import Settings
>>> print(render_table("behaviour.uci", Settings().results_dir).splitlines()[2])
| LightGBM | yes | 0.9356 ± 0.0055 | 0.7536 ± 0.0194 | 0.6805 ± 0.0140 | 0.0150 ± 0.0047 |
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopintent.evaluation.results import read_results
from shopintent.log import get_logger

log = get_logger(__name__)

#: A marked block: its key and the generated text between the markers.
BLOCK = re.compile(r"<!-- results:(?P<key>[\w.-]+) -->\n(?P<body>.*?)<!-- /results -->", re.S)

#: A hyphen used as a minus sign, printed as the typographic minus the docs use.
MINUS = re.compile(r"-(?=\d)")


class RenderError(LookupError):
    """A block whose table or measurement does not exist (renamed in a benchmark, or not run)."""


@dataclass(frozen=True)
class Value:
    """A measurement's value, formatted (``fmt`` as for :func:`format`; ``,.0f`` for counts)."""

    name: str
    fmt: str = ".4f"


@dataclass(frozen=True)
class Detail:
    """A part of a measurement's detail text (its first regex group): an interval, a base rate."""

    name: str
    pattern: str


Part = str | Value | Detail
#: A cell: text and numbers from the results file, joined.
Cell = Part | tuple[Part, ...]


@dataclass(frozen=True)
class Table:
    """One generated table: its area's results file, header and rows of cells."""

    area: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _sd(name: str, fmt: str = ".4f") -> tuple[Part, ...]:
    return (Value(name, fmt), " ± ", Detail(name, r"± ([\d.]+) \(sd over folds\)"))


def _uci_rows() -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for pages in ("with", "without"):
        for model, shown in (("lightgbm", "LightGBM"), ("mlp", "MLP (64-32)"), ("logistic", "logistic")):
            rows.append((shown, "yes" if pages == "with" else "no",
                         *(_sd(f"UCI {model} {metric} ({pages} PageValues)")
                           for metric in ("roc_auc", "pr_auc", "f1", "ece"))))
    return tuple(rows)


def _taobao_rows() -> tuple[tuple[Cell, ...], ...]:
    labels = (("purchase", "purchase"), ("abandon", "abandon (24 h)"), ("next_view", "next: view"),
              ("next_add_to_cart", "next: add_to_cart"), ("next_favourite", "next: favourite"),
              ("next_purchase", "next: purchase"))
    rows = []
    for label, shown in labels:
        roc = f"y_{label} ROC-AUC (k ≤ 20)"
        diff = f"Taobao GRU (without ids) − LightGBM y_{label} ROC-AUC, k ≤ 5"
        rows.append((shown, Detail(f"Taobao LightGBM y_{label} PR-AUC (k ≤ 20)", r"base rate ([\d.]+)"),
                     Value(f"Taobao LightGBM {roc}"), Value(f"Taobao GRU (with ids) {roc}"),
                     Value(f"Taobao GRU (without ids) {roc}"),
                     (Value(diff, "+.3f"), " ", Detail(diff, r"bootstrap (\[[^\]]+\])"))))
    return tuple(rows)


def _cdnow_rows() -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for model, shown in (("BG/NBD", "BG/NBD (lifetimes)"), ("LightGBM Poisson", "LightGBM, Poisson"),
                         ("LightGBM L1", "LightGBM, L1")):
        rows.append((shown, _sd(f"CDNOW {model} per-customer MAE"), _sd(f"CDNOW {model} per-customer RMSE"),
                     Value(f"CDNOW {model} predicted total", ",.0f")))
    rows.append(("all zero", _sd("CDNOW all-zero baseline per-customer MAE"),
                 _sd("CDNOW all-zero baseline per-customer RMSE"), "0"))
    rows.append(("actual", "", "", Value("CDNOW holdout purchase days, actual total", ",.0f")))
    return tuple(rows)


#: The recommenders in the order the recommend benchmark names them.
RECOMMENDERS = ("popularity (global)", "popularity (recent)", "V-SKNN", "ALS (implicit)", "content-based",
                "SASRec (full CE + attributes)", "hybrid (blend learned on valid)")


def _recommend_rows() -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for data in ("Beauty", "Sports_and_Outdoors", "Diginetica sessions", "Taobao sessions"):
        for model in RECOMMENDERS:
            rows.append((data if model == RECOMMENDERS[0] else "", model,
                         *(Value(f"{data} · {model} · {metric}") for metric in ("HR@10", "NDCG@10", "coverage@10"))))
    return tuple(rows)


def _ope_rows() -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for key, shown in (("dm", "DM"), ("ips", "IPS"), ("snips", "SNIPS"), ("dr", "DR"),
                       ("switch_dr", "switch-DR (τ=5)"), ("clipped_ips", "clipped IPS (λ=5)")):
        name = f"OPE {key} (empirical BTS distribution): BTS value"
        rows.append((shown, Value(name, ".5f"), Detail(name, r"seed 0; 95% CI (\[[^\]]+\])"),
                     Detail(name, r"rel\. error ([\d.]+)"),
                     Detail(name, r"estimate − on-policy 95% CI (\[[^\]]+\] \(\w+ 0\))")))
    return tuple(rows)


def _serve_rows() -> tuple[tuple[Cell, ...], ...]:
    def ms(name: str) -> Value:
        return Value(name, ",.0f")

    at = "event in → decision out {} at {} events/s{}"
    return (
        ("service start with cached models (to `/readyz` with all four models loaded)", "≤ 5 s",
         (Value("service start to ready (cached models)", ".1f"), " s")),
        ("acknowledged events lost across kill -9", "0",
         (Value("kill -9: acknowledged events lost", ".0f"), " lost, ",
          Value("kill -9: events stored more than once", ".0f"), " stored twice after a full re-send")),
        ("restart after kill -9 to healthy", "–", (Value("kill -9: restart to healthy", ".1f"), " s")),
        ("HTTP ingest, batched (500/request, 4 in flight, with state + cart decisions)", "≥ 10,000 ev/s",
         (Value("HTTP ingest, batched", ",.0f"), " ev/s")),
        ("HTTP ingest, one event per request (16 in flight)", "–",
         (Value("HTTP ingest, one event per request", ",.0f"), " ev/s")),
        ("`/v1/intent` (micro-batched, 16 in flight)", "≥ 1,000 req/s, p99 ≤ 15 ms",
         (Value("/v1/intent throughput", ",.0f"), " req/s, p50 ", ms("/v1/intent latency p50"),
          " ms, p99 ", ms("/v1/intent latency p99"), " ms")),
        ("event in → decision out at 250 ev/s offered", "–",
         ("p50 ", ms(at.format("p50", 250, "")), " ms, p99 ", ms(at.format("p99", 250, "")), " ms")),
        ("the same, `--no-shopper-history`, same run and events", "–",
         ("p50 ", ms(at.format("p50", 250, " (no shopper history, for comparison)")), " ms, p99 ",
          ms(at.format("p99", 250, " (no shopper history, for comparison)")), " ms")),
        ("event in → decision out at 1,000 ev/s offered", "p99 ≤ 20 ms",
         ("p50 ", ms(at.format("p50", "1,000", "")), " ms, p99 ", ms(at.format("p99", "1,000", "")), " ms")),
        ("ingest path, one write group of 1 / 50 events (library call, no HTTP)", "–",
         (Value("ingest path, one write group of 1 event (median)", ".1f"), " ms / ",
          Value("ingest path, one write group of 50 events (median)", ".1f"), " ms")),
    )


#: Every generated block, by the key its markers carry.
TABLES: dict[str, Table] = {
    "intervene.ope": Table("intervene", ("estimator (empirical BTS dist.)", "BTS value from random log",
                                         "95% CI", "rel. error", "CI of estimate − on-policy"), _ope_rows()),
    "serve.results": Table("serve", ("what", "goal", "measured"), _serve_rows()),
    "recommend.main": Table("recommend", ("data", "model", "HR@10", "NDCG@10", "coverage@10"), _recommend_rows()),
    "behaviour.uci": Table("behaviour", ("model", "PageValues", "ROC-AUC", "PR-AUC", "F1", "ECE"), _uci_rows()),
    "behaviour.taobao": Table("behaviour", ("label", "base rate", "LightGBM ROC-AUC", "GRU with ids",
                                            "GRU without ids", "GRU without ids − LightGBM, k ≤ 5 (95 % CI)"),
                              _taobao_rows()),
    "behaviour.cdnow": Table("behaviour", ("predictor", "per-customer MAE", "per-customer RMSE",
                                           "holdout purchase-day total"), _cdnow_rows()),
}


def _part(part: Part, measurements: dict[str, dict[str, Any]], key: str) -> str:
    if isinstance(part, str):
        return part
    found = measurements.get(part.name)
    if found is None:
        raise RenderError(f"block {key}: no measurement {part.name!r} in its results file")
    if isinstance(part, Value):
        return MINUS.sub("−", format(float(found["value"]), part.fmt))
    match = re.search(part.pattern, str(found.get("detail", "")))
    if match is None:
        raise RenderError(f"block {key}: the detail of {part.name!r} has no {part.pattern!r}")
    return MINUS.sub("−", match.group(1))


def render_table(key: str, results_dir: Path) -> str:
    """Block ``key``'s markdown: the table, then the results file and command it came from."""
    table = TABLES.get(key)
    if table is None:
        raise RenderError(f"no generated table {key!r}; known: {', '.join(sorted(TABLES))}")
    record = read_results(results_dir, table.area)
    if record is None:
        raise RenderError(f"block {key}: no benchmarks/results/{table.area}.json (run `shopintent bench {table.area}`)")
    measurements = {str(m["name"]): m for m in record["measurements"]}
    lines = ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    for row in table.rows:
        cells = [("".join(_part(p, measurements, key) for p in cell) if isinstance(cell, tuple)
                  else _part(cell, measurements, key)) for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Generated from `benchmarks/results/{table.area}.json` (`{record['command']}`, "
                  f"{record['created_at']}); do not edit by hand."]
    return "\n".join(lines) + "\n"


def render_page(text: str, results_dir: Path) -> str:
    """A page with every marked block refilled from the results files."""
    return BLOCK.sub(lambda m: (f"<!-- results:{m['key']} -->\n{render_table(m['key'], results_dir)}"
                                "<!-- /results -->"), text)


def stale_pages(pages: Iterable[Path], results_dir: Path) -> list[Path]:
    """The pages whose generated blocks differ from a fresh rendering."""
    return [p for p in pages if render_page(p.read_text(encoding="utf-8"), results_dir)
            != p.read_text(encoding="utf-8")]


def write_pages(pages: Sequence[Path], results_dir: Path) -> list[Path]:
    """Re-render the blocks of ``pages`` in place; the pages that changed."""
    changed = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        fresh = render_page(text, results_dir)
        if fresh != text:
            page.write_text(fresh, encoding="utf-8")
            changed.append(page)
            log.info("docs page re-rendered", page=str(page))
    return changed


def main(argv: Sequence[str]) -> list[Path]:
    """``python -m shopintent.evaluation.docs_render [DOCS_DIR]``: re-render the docs' blocks from
    ``Settings().results_dir``; ``DOCS_DIR`` defaults to the ``docs`` folder beside that checkout's
    ``benchmarks`` (never the working folder)."""
    from shopintent.settings import Settings

    results = Settings().results_dir
    docs = Path(argv[0]) if argv else results.parent.parent / "docs"
    if not docs.is_dir():
        raise SystemExit(f"no docs folder at {docs}: pass the checkout's docs folder")
    return write_pages(sorted(docs.glob("*.md")), results)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
