"""SMP2019-ECDT Task 1: Chinese domain + intent + slots (public training set).

2,579 Chinese voice-assistant utterances labelled with one of 29 domains
(cookbook, video, poetry, …), one of 23 intents (QUERY, PLAY, LAUNCH, …) and
slot values. shopintent uses it as the Chinese intent/slot baseline, as
non-shopping (out-of-domain) negatives, and for zh tokenizer/model smoke tests.

Caveats (PROVENANCE.txt): the domains are general voice-assistant ones, *not*
e-commerce. The file is SMP2019's public training set and has no official
test split; this loader invents none (``split`` is ``None``): callers draw
their own, seeded split.

Slots come as ``{slot: value}`` without offsets. Each value is looked up in the
text: the first occurrence not overlapping a slot already placed (longer values
placed first), or else its first occurrence, which then nests inside or
overlaps another slot (``佛山`` inside ``佛山大良汽车站``). A value that does not
occur in the text is kept in ``unlocated`` and counted, never silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.schema import Span, TextQuery
from shopintent.settings import Settings

_REPO, _COMMIT = "Linear95/bert-intent-slot-detector", "b7cd4f6c85face94b49ed8137c8e2c6bb078791f"
DATA_FILE = "train.json"
INTENT_LABELS_FILE = "intent_labels.txt"
SLOT_LABELS_FILE = "slot_labels.txt"

#: Special entries of the label files that name no intent or slot.
SPECIAL_LABELS = frozenset({"[PAD]", "[UNK]", "[O]"})

SPEC = DatasetSpec(
    name="smp2019_zh_intent",
    task="Chinese domain + intent classification and slot filling (voice assistant)",
    language="zh",
    licence="no LICENSE in the source repository; data released by the SMP2019 ECDT "
    "evaluation (CIPS-SMP / iFLYTEK) for research use",
    citation="SMP2019 ECDT (Chinese Human-Computer Dialogue Technology Evaluation), "
    "Task 1: Chinese natural language understanding, CIPS-SMP / iFLYTEK, 2019",
    source=f"https://github.com/{_REPO} @ {_COMMIT} "
    "(data/SMP2019/{train.json,intent_labels.txt,slot_labels.txt})",
    files=(
        DataFile(
            path=DATA_FILE,
            sha256="32e897dd76ab4dfa021f0334236514cf2f4d44e108e6e95984fd46d0a79e7a50",
            size=404_371,
            url=github_raw(_REPO, _COMMIT, f"data/SMP2019/{DATA_FILE}"),
        ),
        DataFile(
            path=INTENT_LABELS_FILE,
            sha256="b587fbad699617047bb05479adfef118526dae7d54654349447611f8fc65f949",
            size=205,
            url=github_raw(_REPO, _COMMIT, f"data/SMP2019/{INTENT_LABELS_FILE}"),
        ),
        DataFile(
            path=SLOT_LABELS_FILE,
            sha256="bfb77e10a0f2ede7a4df7de7e1ed010c5ef73b35d9d65ddaea2c1dbee0647bce",
            size=1_423,
            url=github_raw(_REPO, _COMMIT, f"data/SMP2019/{SLOT_LABELS_FILE}"),
        ),
    ),
    expected_counts={
        "rows": 2_579,
        "domains": 29,
        "intents": 23,
        "domain_intent_pairs": 48,
        "domain:cookbook": 428,
        "domain:video": 245,
        "domain:poetry": 166,
        "domain:epg": 141,
        "domain:train": 120,
        "domain:message": 120,
        "domain:map": 114,
        "domain:music": 109,
        "domain:flight": 102,
        "intent:QUERY": 1_598,
        "intent:PLAY": 284,
        "intent:LAUNCH": 102,
        "intent:SEND": 101,
    },
    description="train.json: JSON list of {text, domain, intent, slots: {slot: value}}; "
    "intent_labels.txt / slot_labels.txt: one label (slots as B_/I_ tags) per line.",
)


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A source row that could not become a record, and why."""

    where: str
    reason: str


@dataclass(frozen=True, slots=True)
class UnlocatedSlot:
    """A slot value that does not occur in its utterance (kept, not dropped)."""

    query_id: str
    slot: str
    value: str


@dataclass
class Smp2019Intent:
    """SMP2019 Task 1 as canonical text queries.

    ``intent`` is the SMP intent, ``labels["domain"]`` its domain; ``spans``
    are the slots located in the text. ``intent_labels`` and ``slot_names``
    are the label files' entries (slot names without the ``B_``/``I_``
    prefixes), special entries such as ``[UNK]`` left out.
    """

    queries: list[TextQuery]
    intent_labels: list[str]
    slot_names: list[str]
    unlocated: list[UnlocatedSlot] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """Return one row per query: text, language, intent, split, domain, spans."""
        return pd.DataFrame(
            {
                "text": [q.text for q in self.queries],
                "language": [q.language for q in self.queries],
                "intent": [q.intent for q in self.queries],
                "split": [q.split for q in self.queries],
                "domain": [q.labels.get("domain") for q in self.queries],
                "spans": [[(s.start, s.end, s.label) for s in q.spans] for q in self.queries],
                "query_id": [q.query_id for q in self.queries],
            }
        )


def locate_slots(text: str, slots: dict[str, str]) -> tuple[list[Span], list[tuple[str, str]]]:
    """Find each slot value in ``text``; return the spans and the ``(slot, value)`` not found.

    Longer values are placed first, each at its first occurrence that overlaps
    no span placed so far, or else at its first occurrence (a nested slot).
    Spans come back sorted by position.
    """
    spans: list[Span] = []
    missing: list[tuple[str, str]] = []
    for slot, value in sorted(slots.items(), key=lambda item: -len(item[1])):
        starts = _occurrences(text, value)
        if not starts:
            missing.append((slot, value))
            continue
        free = [
            s for s in starts if all(s + len(value) <= p.start or p.end <= s for p in spans)
        ]
        start = (free or starts)[0]
        spans.append(Span(start, start + len(value), slot, value))
    return sorted(spans, key=lambda s: (s.start, s.end)), missing


def _occurrences(text: str, value: str) -> list[int]:
    if not value:
        return []
    found, start = [], text.find(value)
    while start >= 0:
        found.append(start)
        start = text.find(value, start + 1)
    return found


def _read_labels(path: str, settings: Settings | None) -> list[str]:
    lines = data_path(SPEC, path, settings).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and line.strip() not in SPECIAL_LABELS]


def load(settings: Settings | None = None) -> Smp2019Intent:
    """Load the utterances as text queries with domain, intent and located slots."""
    with data_path(SPEC, DATA_FILE, settings).open(encoding="utf-8") as handle:
        rows = json.load(handle)
    if not isinstance(rows, list):
        raise ValueError(f"{DATA_FILE}: expected a JSON list of utterances")
    queries: list[TextQuery] = []
    unlocated: list[UnlocatedSlot] = []
    skipped: list[SkippedRow] = []
    for index, row in enumerate(rows):
        where = f"{DATA_FILE}[{index}]"
        if not isinstance(row, dict):
            skipped.append(SkippedRow(where, f"expected an object, got {type(row).__name__}"))
            continue
        text, intent, domain = row.get("text"), row.get("intent"), row.get("domain")
        slots = row.get("slots") or {}
        if not isinstance(text, str) or not text.strip():
            skipped.append(SkippedRow(where, "empty or missing text"))
            continue
        if not isinstance(intent, str) or not isinstance(domain, str):
            skipped.append(SkippedRow(where, "missing intent or domain"))
            continue
        if not isinstance(slots, dict) or not all(isinstance(v, str) for v in slots.values()):
            skipped.append(SkippedRow(where, f"slots are not a {{slot: text}} object: {slots!r}"))
            continue
        query_id = str(index)
        spans, missing = locate_slots(text, slots)
        unlocated.extend(UnlocatedSlot(query_id, slot, value) for slot, value in missing)
        queries.append(
            TextQuery(
                text=text,
                language="zh",
                intent=intent,
                labels={"domain": domain},
                spans=tuple(spans),
                query_id=query_id,
            )
        )
    slot_tags = _read_labels(SLOT_LABELS_FILE, settings)
    slot_names = list(dict.fromkeys(tag.split("_", 1)[-1] for tag in slot_tags))
    return Smp2019Intent(
        queries=queries,
        intent_labels=_read_labels(INTENT_LABELS_FILE, settings),
        slot_names=slot_names,
        unlocated=unlocated,
        skipped=skipped,
    )


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files."""
    loaded = load(settings)
    frame = loaded.frame()
    spans = [s for q in loaded.queries for s in q.spans]
    nested = sum(
        1
        for q in loaded.queries
        for i, a in enumerate(q.spans)
        for b in q.spans[i + 1 :]
        if a.start < b.end and b.start < a.end
    )
    return {
        "rows": len(loaded.queries) + len(loaded.skipped),
        "queries": len(loaded.queries),
        "skipped": len(loaded.skipped),
        "domains": int(frame["domain"].nunique()),
        "intents": int(frame["intent"].nunique()),
        "domain_intent_pairs": len(frame[["domain", "intent"]].drop_duplicates()),
        **{f"domain:{k}": int(v) for k, v in frame["domain"].value_counts().items()},
        **{f"intent:{k}": int(v) for k, v in frame["intent"].value_counts().items()},
        "slots": len(spans) + len(loaded.unlocated),
        "slots_located": len(spans),
        "slots_unlocated": len(loaded.unlocated),
        "slot_pairs_overlapping": nested,
        "intents_not_in_label_file": len(set(frame["intent"]) - set(loaded.intent_labels)),
        "slots_not_in_label_file": len({s.label for s in spans} - set(loaded.slot_names)),
    }


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
