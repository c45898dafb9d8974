"""Privacy benchmark: how much planted personal data the scrubber removes, what else it touches.

Protocol:

* **Recall.** :func:`~shopintent.privacy.plant.plant_pii` draws 3,000 valid values
  (fixed seed) -- phones (CN mobile and landline, NANP, UK; separators, brackets,
  full width, ``+``/``00``), e-mails (incl. full-width ``＠``), GB 11643 ID numbers,
  Luhn-valid card numbers with real network prefixes, IPv4/IPv6 addresses, WeChat
  ids and QQ numbers after their cues -- and writes each into a real text (a
  corpus drawn uniformly from the four below, then a text from it). The column
  goes through :func:`~shopintent.privacy.scrub_series`, the ingest path. A value
  counts as removed when :func:`~shopintent.privacy.plant.survives` finds nothing
  of it in the output: not the value as typed, not its NFKC or compact form, and
  no run of four of its characters that the host text did not already hold.
* **Texts changed.** Every untouched text of Bitext customer service (en),
  CLINC150 (en), online_shopping_10_cats (zh reviews) and SMP2019 (zh queries)
  is scrubbed; the fraction that comes out different is reported per corpus.
  These are real texts: a change is either a false positive or personal data the
  authors left in (the Chinese reviews hold real phone and QQ numbers), so this
  bounds the false-positive rate from above.
* **Throughput.** ``scrub_series`` over batches of 10,000 rows (the store
  benchmark's Taobao ingest batch) of the real texts, and of planted texts (every
  row holding personal data, the worst case); median of three passes.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pandas as pd

from shopintent.datasets import (
    bitext_customer_service,
    clinc150,
    online_shopping_10_cats,
    smp2019_zh_intent,
)
from shopintent.evaluation.bench import BenchResult, Measurement
from shopintent.log import get_logger
from shopintent.privacy import find_pii, scrub_series
from shopintent.privacy.plant import PlantedValue, insert_pii, plant_pii, survives
from shopintent.privacy.scrub import PII_KINDS
from shopintent.settings import Settings

log = get_logger(__name__)

SEED = 20_261
PLANTED = 3_000
BATCH_SIZE = 10_000
REPETITIONS = 3

#: Corpus name -> (loader module, language).
CORPORA: dict[str, tuple[Any, str]] = {
    "bitext_customer_service": (bitext_customer_service, "en"),
    "clinc150": (clinc150, "en"),
    "online_shopping_10_cats": (online_shopping_10_cats, "zh"),
    "smp2019_zh_intent": (smp2019_zh_intent, "zh"),
}


def load_texts(settings: Settings) -> dict[str, list[str]]:
    """Every text of each corpus, in file order."""
    return {name: [q.text for q in module.load(settings).queries]
            for name, (module, _) in CORPORA.items()}


def plant_into(
    texts: dict[str, list[str]], n: int, seed: int
) -> tuple[list[PlantedValue], list[str], list[str]]:
    """``n`` planted values, the real texts they went into, and the texts with them in."""
    rng = random.Random(seed)
    values = plant_pii(rng, n)
    names = sorted(texts)
    hosts = [rng.choice(texts[rng.choice(names)]) for _ in values]
    planted = [insert_pii(host, value, rng) for host, value in zip(hosts, values, strict=True)]
    return values, hosts, planted


def recall_by(
    values: list[PlantedValue], hosts: list[str], scrubbed: list[str],
    key: Callable[[PlantedValue], str],
) -> dict[str, tuple[int, int]]:
    """key -> (values removed, values planted)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for value, host, out in zip(values, hosts, scrubbed, strict=True):
        entry = counts[key(value)]
        entry[1] += 1
        entry[0] += not survives(value, host, out)
    return {k: (removed, total) for k, (removed, total) in counts.items()}


def _rows_per_second(rows: list[str]) -> float:
    batches = [pd.Series(rows[i : i + BATCH_SIZE], dtype="string")
               for i in range(0, len(rows), BATCH_SIZE)]
    scrub_series(batches[0])  # build the lazy tables outside the timing
    times = []
    for _ in range(REPETITIONS):
        start = time.perf_counter()
        for batch in batches:
            scrub_series(batch)
        times.append(time.perf_counter() - start)
    return len(rows) / statistics.median(times)


def run(settings: Settings) -> BenchResult:
    """Measure recall per PII kind, texts changed per corpus and scrub throughput."""
    texts = load_texts(settings)
    values, hosts, planted = plant_into(texts, PLANTED, SEED)
    scrubbed = scrub_series(pd.Series(planted, dtype="string")).tolist()
    protocol = (f"{PLANTED:,} valid values planted into real texts (seed {SEED}), "
                "scrub_series; removed = no raw, NFKC, compact form or new 4-gram left")
    measurements: list[Measurement] = []
    by_kind = recall_by(values, hosts, scrubbed, lambda v: v.kind)
    for kind in PII_KINDS:
        if kind in by_kind:
            removed, total = by_kind[kind]
            measurements.append(Measurement(f"recall {kind}", removed / total, "fraction",
                                            f"{removed:,}/{total:,} removed"))
    by_family = recall_by(values, hosts, scrubbed, lambda v: v.spelling.split("/")[0])
    for family, (removed, total) in sorted(by_family.items()):
        measurements.append(Measurement(f"recall {family} (all spellings)", removed / total,
                                        "fraction", f"{removed:,}/{total:,}"))
    by_spelling = recall_by(values, hosts, scrubbed, lambda v: v.spelling)
    worst = min(by_spelling, key=lambda s: (by_spelling[s][0] / by_spelling[s][1], s))
    removed, total = by_spelling[worst]
    measurements.append(Measurement("recall, lowest single spelling", removed / total,
                                    "fraction", f"{worst}: {removed}/{total} "
                                    f"(of {len(by_spelling)} spellings)"))
    all_removed = sum(r for r, _ in by_kind.values())
    measurements.append(Measurement("recall, all planted values", all_removed / PLANTED,
                                    "fraction", f"{all_removed:,}/{PLANTED:,}; {protocol}"))

    for name, corpus in texts.items():
        out = scrub_series(pd.Series(corpus, dtype="string"))
        changed = [t for t, o in zip(corpus, out, strict=True) if t != o]
        kinds = Counter(m.kind for t in changed for m in find_pii(t))
        detail = ", ".join(f"{k} {n}" for k, n in kinds.most_common()) or "none"
        measurements.append(Measurement(
            f"real texts changed, {name} ({CORPORA[name][1]})", len(changed) / len(corpus),
            "fraction", f"{len(changed):,}/{len(corpus):,} texts; spans by kind: {detail}"))

    real_rows = [t for corpus in texts.values() for t in corpus]
    random.Random(SEED).shuffle(real_rows)
    measurements.append(Measurement(
        "scrub_series throughput, real texts", _rows_per_second(real_rows), "rows/s",
        f"{len(real_rows):,} texts of the four corpora, batches of {BATCH_SIZE:,}, "
        f"median of {REPETITIONS}"))
    measurements.append(Measurement(
        "scrub_series throughput, every row with planted PII", _rows_per_second(planted),
        "rows/s", f"{PLANTED:,} planted texts, median of {REPETITIONS}"))
    log.info("privacy benchmark done", planted=PLANTED, removed=all_removed)
    return BenchResult(
        area="privacy",
        measurements=measurements,
        data={f.path: f.sha256 for _, (module, _) in CORPORA.items() for f in module.SPEC.files},
        parameters={"seed": SEED, "planted": PLANTED, "batch_size": BATCH_SIZE,
                    "repetitions": REPETITIONS, "spellings": len(by_spelling)},
        notes=("Recall counts a value as removed only if nothing of it is left (see "
               "privacy.plant.survives). 'Real texts changed' is an upper bound on false "
               "positives: the Chinese reviews hold real phone, QQ and e-mail data."),
    )
