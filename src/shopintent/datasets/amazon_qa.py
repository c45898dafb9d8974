"""Amazon product question answering (McAuley, UCSD): Appliances and Video Games.

22,318 real questions shoppers asked on Amazon product pages, each with one
answer (single-answer release): 9,011 for 1,153 Appliances products and 13,307
for 1,188 Video Games products. Questions are ``yes/no`` (the answer then
carries ``answerType`` ``Y``, ``N`` or ``?`` for unclear) or ``open-ended``.
shopintent uses them for product-QA / FAQ retrieval, as real examples of the
"question about a product" intent, and for yes/no answer prediction.

Reading the files (findings, not source facts):

- Each file is gzip with one record per line written as a *Python* dict
  literal (single quotes, ``None``), so lines are parsed with
  :func:`ast.literal_eval`, which evaluates literals only, never code. A line
  that does not parse or lacks ``asin``/``question``/``answer``/
  ``questionType`` goes to ``skipped`` with its reason (the files have none).
- ``timestamp`` is ``unixTime`` as UTC. It is the ``answerTime`` date at
  midnight US Pacific time (07:00 or 08:00 UTC), so the time of day carries
  no information. 1,042 records (421 Appliances, 621 Video Games; counted as
  ``<Category>.without_timestamp``) have no ``unixTime`` but a relative ``answerTime``
  (``"21 days ago"``) whose reference date is unknown: their timestamp is
  ``None`` and the raw text stays in :meth:`AmazonQA.frame`'s ``answer_time``.
- ``answer_type`` is ``None`` for open-ended questions, as published.
- HTML entities in the text (``&gt;``) are left as published.

Caveats (PROVENANCE.txt): the copying repositories have no licence; the data
is Julian McAuley's (UCSD) research release: cite McAuley & Yang, WWW 2016
and Wan & McAuley, ICDM 2016. There are no splits.
"""

from __future__ import annotations

import ast
import gzip
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.schema import QAPair
from shopintent.settings import Settings

#: Category -> (file, source repository, pinned commit): the two files come from two copies.
CATEGORY_FILES: dict[str, tuple[str, str, str]] = {
    "Appliances": (
        "qa_Appliances.json.gz",
        "mitya8128/experiments_notes",
        "b901c720479ed94228292e0553261c6ba56a5e77",
    ),
    "Video_Games": (
        "qa_Video_Games.json.gz",
        "sooo19/5-ChatBot-Project",
        "6eaa90b3e183031973026c460a9581d177c1d3d0",
    ),
}

_PUBLISHED: dict[str, tuple[str, int]] = {
    "Appliances": ("9c613a5dfedd1071431faa29de903b1b0e592c5ac1c7861c26d8b69dfda8ac78", 975_540),
    "Video_Games": ("45d626d00f393e9df0191d12e12fbdce6b6655ad14715bba2f8d9fe58fc7e1c2", 1_007_877),
}

#: Keys every record must have to become a :class:`QAPair`.
REQUIRED_KEYS: tuple[str, ...] = ("asin", "question", "answer", "questionType")
QUESTION_TYPES: frozenset[str] = frozenset({"yes/no", "open-ended"})
ANSWER_TYPES: tuple[str, ...] = ("Y", "N", "?")

SPEC = DatasetSpec(
    name="amazon_qa",
    task="product question answering (single answer), yes/no and open-ended",
    language="en",
    licence="Julian McAuley / UCSD research release (research use); the copying "
    "repositories have no licence",
    citation="McAuley & Yang, Addressing Complex and Subjective Product-Related Queries with "
    "Customer Reviews, WWW 2016; Wan & McAuley, Modeling Ambiguity, Subjectivity, and "
    "Diverging Viewpoints in Opinion Question Answering Systems, ICDM 2016",
    source="; ".join(
        f"https://github.com/{repo} @ {commit} ({path})"
        for path, repo, commit in CATEGORY_FILES.values()
    ),
    files=tuple(
        DataFile(
            path=path,
            sha256=_PUBLISHED[category][0],
            size=_PUBLISHED[category][1],
            url=github_raw(repo, commit, path),
        )
        for category, (path, repo, commit) in CATEGORY_FILES.items()
    ),
    expected_counts={
        "rows": 22_318,
        "Appliances.rows": 9_011,
        "Appliances.products": 1_153,
        "Appliances.yes/no": 4_693,
        "Appliances.open-ended": 4_318,
        "Appliances.Y": 1_655,
        "Appliances.N": 616,
        "Appliances.?": 2_422,
        "Video_Games.rows": 13_307,
        "Video_Games.products": 1_188,
        "Video_Games.yes/no": 7_327,
        "Video_Games.open-ended": 5_980,
        "Video_Games.Y": 2_928,
        "Video_Games.N": 1_227,
        "Video_Games.?": 3_172,
    },
    description="gzip, one Python dict literal per line: asin, question, answer, "
    "questionType (yes/no | open-ended), answerType (Y | N | ?, yes/no only), "
    "answerTime, unixTime (optional).",
)


@dataclass(frozen=True, slots=True)
class SkippedLine:
    """A source line that could not become a record, and why."""

    where: str
    reason: str


@dataclass
class AmazonQA:
    """The QA pairs by category (``"Appliances"``, ``"Video_Games"``), in file order.

    ``answer_times`` holds each pair's published ``answerTime`` text, parallel
    to ``pairs[category]`` (the only date the 1,042 pairs without ``unixTime``
    have, as relative text).
    """

    pairs: dict[str, list[QAPair]]
    answer_times: dict[str, list[str]]
    skipped: list[SkippedLine] = field(default_factory=list)

    def __getitem__(self, category: str) -> list[QAPair]:
        return self.pairs[category]

    def all_pairs(self) -> list[QAPair]:
        """Every pair, Appliances first, in file order."""
        return [pair for pairs in self.pairs.values() for pair in pairs]

    def frame(self) -> pd.DataFrame:
        """Return one row per pair: category, item_id, question, answer, types, times."""
        rows = [
            (category, p.item_id, p.question, p.answer, p.question_type, p.answer_type,
             p.timestamp, answer_time)
            for category, pairs in self.pairs.items()
            for p, answer_time in zip(pairs, self.answer_times[category], strict=True)
        ]
        frame = pd.DataFrame(
            rows,
            columns=["category", "item_id", "question", "answer", "question_type",
                     "answer_type", "timestamp", "answer_time"],
        )
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        return frame


def parse_record(line: str) -> dict[str, Any]:
    """Parse one line (a Python dict literal) and check it can become a pair.

    Raises ``ValueError`` saying what is wrong.
    """
    try:
        with warnings.catch_warnings():
            # A damaged line can make the parser warn (e.g. "invalid decimal literal");
            # it is reported once, as a skipped line, instead.
            warnings.simplefilter("ignore", SyntaxWarning)
            record = ast.literal_eval(line)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise ValueError(f"not a Python literal: {exc}") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected a dict, got {type(record).__name__}")
    missing = [key for key in REQUIRED_KEYS if not isinstance(record.get(key), str)]
    if missing:
        raise ValueError(f"missing or non-text {', '.join(missing)}")
    if record["questionType"] not in QUESTION_TYPES:
        raise ValueError(f"questionType {record['questionType']!r} is not yes/no or open-ended")
    answer_type = record.get("answerType")
    if answer_type is not None and answer_type not in ANSWER_TYPES:
        raise ValueError(f"answerType {answer_type!r} is not Y, N or ?")
    unix_time = record.get("unixTime")
    if unix_time is not None and not isinstance(unix_time, int):
        raise ValueError(f"unixTime {unix_time!r} is not an integer")
    return record


def to_pair(record: dict[str, Any]) -> QAPair:
    """Map a parsed record onto a :class:`QAPair` (``unixTime`` -> UTC timestamp)."""
    unix_time = record.get("unixTime")
    return QAPair(
        item_id=record["asin"],
        question=record["question"],
        answer=record["answer"],
        question_type=record["questionType"],
        answer_type=record.get("answerType"),
        timestamp=datetime.fromtimestamp(unix_time, tz=UTC) if unix_time is not None else None,
    )


def read_category(
    category: str, settings: Settings | None = None
) -> tuple[list[QAPair], list[str], list[SkippedLine]]:
    """Read one category's file: its pairs, their ``answerTime`` texts, and skipped lines."""
    if category not in CATEGORY_FILES:
        raise KeyError(f"amazon_qa has no category {category!r}; it holds {tuple(CATEGORY_FILES)}")
    file_name = CATEGORY_FILES[category][0]
    pairs: list[QAPair] = []
    answer_times: list[str] = []
    skipped: list[SkippedLine] = []
    with gzip.open(data_path(SPEC, file_name, settings), "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                skipped.append(SkippedLine(f"{file_name} line {number}", "blank line"))
                continue
            try:
                record = parse_record(line)
            except ValueError as exc:
                skipped.append(SkippedLine(f"{file_name} line {number}", str(exc)))
                continue
            pairs.append(to_pair(record))
            answer_times.append(str(record.get("answerTime") or ""))
    return pairs, answer_times, skipped


def load(settings: Settings | None = None) -> AmazonQA:
    """Load both categories as :class:`QAPair` records."""
    pairs: dict[str, list[QAPair]] = {}
    answer_times: dict[str, list[str]] = {}
    skipped: list[SkippedLine] = []
    for category in CATEGORY_FILES:
        pairs[category], answer_times[category], bad = read_category(category, settings)
        skipped.extend(bad)
    return AmazonQA(pairs=pairs, answer_times=answer_times, skipped=skipped)


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files (keys ``<Category>.<count>``).

    ``rows`` counts the pairs loaded plus the lines skipped, so a damaged line
    shows up as a count mismatch as well as in ``skipped``.
    """
    loaded = load(settings)
    found: dict[str, int] = {
        "rows": len(loaded.all_pairs()) + len(loaded.skipped),
        "pairs": len(loaded.all_pairs()),
        "skipped": len(loaded.skipped),
    }
    for category, pairs in loaded.pairs.items():
        question_types = Counter(p.question_type for p in pairs)
        answer_types = Counter(p.answer_type for p in pairs if p.answer_type is not None)
        found.update(
            {
                f"{category}.rows": len(pairs),
                f"{category}.products": len({p.item_id for p in pairs}),
                **{f"{category}.{t}": question_types[t] for t in sorted(QUESTION_TYPES)},
                **{f"{category}.{t}": answer_types[t] for t in ANSWER_TYPES},
                f"{category}.without_timestamp": sum(p.timestamp is None for p in pairs),
                f"{category}.open_ended_with_answer_type": sum(
                    p.question_type == "open-ended" and p.answer_type is not None for p in pairs
                ),
            }
        )
    return found


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
