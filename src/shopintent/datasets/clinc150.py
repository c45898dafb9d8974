"""CLINC150 (OOS-eval, Larson et al. 2019): 150 intents plus out-of-scope queries, in English.

23,700 crowd-written utterances: 150 in-scope intents in 10 domains (100 train,
20 validation, 30 test each) and 1,200 out-of-scope ones. shopintent uses it as
the standard benchmark for intent classification *with rejection*: a shop
assistant must notice when a query is none of its intents. The out-of-scope
rows (``oos_train``/``oos_val``/``oos_test`` in the source) go into the
train/validation/test splits with intent ``"oos"`` and no domain.

Caveats (PROVENANCE.txt): the utterances are crowdsourced, not real logs, and
only a handful of intents are about shopping (``order``, ``order_status``,
``shopping_list``, ``shopping_list_update`` in domain ``home``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.schema import TextQuery
from shopintent.settings import Settings

_REPO, _COMMIT = "clinc/oos-eval", "828f8093932c8fe6ca7936c3d2e52903b1c523de"
DATA_FILE = "data_full.json"
DOMAINS_FILE = "domains.json"

#: The intent every out-of-scope query gets.
OOS = "oos"

#: Source split name -> canonical split, for in-scope and out-of-scope rows.
SPLITS: dict[str, str] = {
    "train": "train",
    "val": "validation",
    "test": "test",
    "oos_train": "train",
    "oos_val": "validation",
    "oos_test": "test",
}

SPEC = DatasetSpec(
    name="clinc150",
    task="intent classification with out-of-scope detection (150 intents + oos)",
    language="en",
    licence="CC BY 3.0 (Creative Commons Attribution 3.0 Unported)",
    citation="Larson et al., An Evaluation Dataset for Intent Classification and "
    "Out-of-Scope Prediction, EMNLP-IJCNLP 2019",
    source=f"https://github.com/{_REPO} @ {_COMMIT} (data/data_full.json, data/domains.json)",
    files=(
        DataFile(
            path=DATA_FILE,
            sha256="36923c3705a59e08fe9c3883d8bc2dd966ef93e22cb78ac41171782a698d56e0",
            size=2_495_390,
            url=github_raw(_REPO, _COMMIT, "data/data_full.json"),
        ),
        DataFile(
            path=DOMAINS_FILE,
            sha256="b947b579d3b8e74b06f93b01083d8efaff2888b43a3e362533bd88a6e1211b3a",
            size=3_818,
            url=github_raw(_REPO, _COMMIT, "data/domains.json"),
        ),
    ),
    expected_counts={
        "rows": 23_700,
        "train": 15_000,
        "val": 3_000,
        "test": 4_500,
        "oos_train": 100,
        "oos_val": 100,
        "oos_test": 1_000,
        "intents": 150,
        "domains": 10,
        "domains_with_15_intents": 10,
        "intents_with_100_train": 150,
        "intents_with_20_val": 150,
        "intents_with_30_test": 150,
    },
    description="data_full.json: split -> list of [utterance, intent]; "
    "domains.json: domain -> its 15 intents.",
)


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A source row that could not become a record, and why."""

    where: str
    reason: str


@dataclass
class Clinc150:
    """CLINC150 as canonical text queries.

    ``queries`` come in source-split order (train, val, test, oos_train,
    oos_val, oos_test), rows in file order; ``query_id`` is
    ``<source split>/<index>``.
    ``domains`` maps each of the 10 domains to its intents.
    """

    queries: list[TextQuery]
    domains: dict[str, list[str]]
    skipped: list[SkippedRow] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """Return one row per query: text, language, intent, split, domain, query_id."""
        return pd.DataFrame(
            {
                "text": [q.text for q in self.queries],
                "language": [q.language for q in self.queries],
                "intent": [q.intent for q in self.queries],
                "split": [q.split for q in self.queries],
                "domain": [q.labels.get("domain") for q in self.queries],
                "query_id": [q.query_id for q in self.queries],
            }
        )


def _read_json(path: str, settings: Settings | None) -> object:
    with data_path(SPEC, path, settings).open(encoding="utf-8") as handle:
        return json.load(handle)


def load(settings: Settings | None = None) -> Clinc150:
    """Load every split as text queries; out-of-scope rows get intent ``"oos"``."""
    raw = _read_json(DATA_FILE, settings)
    domains = _read_json(DOMAINS_FILE, settings)
    if not isinstance(raw, dict) or not isinstance(domains, dict):
        raise ValueError(f"{SPEC.name}: expected JSON objects in {DATA_FILE} and {DOMAINS_FILE}")
    domain_of = {intent: domain for domain, intents in domains.items() for intent in intents}
    queries: list[TextQuery] = []
    skipped: list[SkippedRow] = []
    unknown = sorted(set(raw) - set(SPLITS))
    if unknown:
        raise ValueError(f"{DATA_FILE}: unknown splits {unknown}; expected {', '.join(SPLITS)}")
    for source_split in SPLITS:
        for index, row in enumerate(raw.get(source_split, [])):
            where = f"{DATA_FILE} {source_split}[{index}]"
            if not (isinstance(row, list) and len(row) == 2 and all(isinstance(v, str) for v in row)):
                skipped.append(SkippedRow(where, f"expected [utterance, intent], got {row!r}"))
                continue
            text, intent = row
            if not text.strip():
                skipped.append(SkippedRow(where, "empty utterance"))
                continue
            domain = domain_of.get(intent)
            queries.append(
                TextQuery(
                    text=text,
                    language="en",
                    intent=intent,
                    labels={"domain": domain} if domain else {},
                    split=SPLITS[source_split],
                    query_id=f"{source_split}/{index}",
                )
            )
    return Clinc150(queries=queries, domains=domains, skipped=skipped)


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files."""
    loaded = load(settings)
    frame = loaded.frame()
    is_oos = frame["intent"] == OOS
    in_scope = frame[~is_oos]
    per_split = {
        source: int(((frame["split"] == split) & (is_oos == source.startswith("oos_"))).sum())
        for source, split in SPLITS.items()
    }
    per_intent = {
        source: in_scope[in_scope["split"] == SPLITS[source]]["intent"].value_counts()
        for source in ("train", "val", "test")
    }
    found = {
        "rows": len(loaded.queries) + len(loaded.skipped),
        "queries": len(loaded.queries),
        "skipped": len(loaded.skipped),
        **per_split,
        "intents": int(in_scope["intent"].nunique()),
        "domains": len(loaded.domains),
        "domains_with_15_intents": sum(len(v) == 15 for v in loaded.domains.values()),
        "in_scope_rows_without_domain": int(in_scope["domain"].isna().sum()),
        "oos": int(is_oos.sum()),
    }
    for source, n in (("train", 100), ("val", 20), ("test", 30)):
        found[f"intents_with_{n}_{source}"] = int((per_intent[source] == n).sum())
    return found


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
