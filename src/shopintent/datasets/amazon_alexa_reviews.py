"""Amazon Alexa reviews (Kaggle, sid321axn, 2018): English product-review sentiment.

3,150 verified Amazon reviews of Echo, Echo Dot, Echo Show, Echo Plus, Echo
Spot and Fire TV Stick devices (16 product variations), each with a binary
``feedback`` (1 = positive, the 1-5 star rating was 3-5; 0 = negative, 1-2).
shopintent uses it as a small English review-polarity set: a sanity test and
a polarity feature, not enough text to train a serious sentiment model.

Reading the file (findings, not source facts):

- It is tab-separated with CRLF line ends and quoted reviews (``""`` escapes).
- Its encoding is **Mac OS Roman**, not UTF-8 and not latin-1: the bytes
  ``D5``, ``D2``/``D3``, ``D1``, ``96``, ``97`` are ``’``, ``“``/``”``,
  ``—``, ``ñ``, ``ó`` there (``Can’t``, ``español``, ``atención``), while
  latin-1 would read them as ``Õ``, ``Ò``/``Ó``, ``Ñ`` or C1 control codes —
  PROVENANCE's "some quotes garbled" is that misreading. Any single-byte
  decoding gives the same rows and counts; Mac Roman gives the right text.
- ``variation`` has stray whitespace (``"Charcoal Fabric "``, ``"Black  Dot"``):
  it is collapsed to single spaces (still 16 distinct values).
- ``date`` (``31-Jul-18``) becomes an ISO date label (``2018-07-31``); the
  reviews span 2018-05-16 .. 2018-07-31.
- 79 reviews are empty (a single space) although their rating is known: they
  are kept in ``skipped`` with their labels, and the row and label counts
  include them, as PROVENANCE does. 2,427 rows are distinct; short duplicates
  ("Love it") are in the original too and are all kept.
- The original ``rating`` column is not in this copy; there are no splits.

Caveats (PROVENANCE.txt): the source repository has no licence; the Kaggle
data set is published as CC0, to be checked before redistribution. The label
is imbalanced (92 % positive).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.schema import TextQuery
from shopintent.settings import Settings

_REPO, _COMMIT = "ghdkim/Sentiment-Analysis-on-Amazon-Alexa-Reviews", (
    "1d4a874b1ac387c23c8b817fb2d164cd6b4f6e43"
)
FILE = "amazon_alexa_3150.tsv"
COLUMNS = ("date", "variation", "verified_reviews", "feedback")

#: The file's real encoding (see the module docstring for the evidence).
ENCODING = "mac_roman"

#: Source ``feedback`` -> canonical sentiment.
SENTIMENTS: dict[str, str] = {"1": "positive", "0": "negative"}

SPEC = DatasetSpec(
    name="amazon_alexa_reviews",
    task="English product-review sentiment (feedback 1 positive / 0 negative)",
    language="en",
    licence="Kaggle 'Amazon Alexa Reviews' published as CC0 (verify before redistribution); "
    "source repository has no licence; reviews are Amazon customer text",
    citation="sid321axn, Amazon Alexa Reviews, Kaggle, 2018",
    source=f"https://github.com/{_REPO} @ {_COMMIT} (data/amazon_alexa.tsv)",
    files=(
        DataFile(
            path=FILE,
            sha256="a9dba926de7bedfb7e4d12537dc394db16f6a79e6c2f2719f7c0aa18954c87df",
            size=507_172,
            url=github_raw(_REPO, _COMMIT, "data/amazon_alexa.tsv"),
        ),
    ),
    expected_counts={
        "rows": 3_150,
        "positive": 2_893,
        "negative": 257,
        "variations": 16,
        "distinct_rows": 2_427,
    },
    description="Tab-separated, CRLF, Mac Roman; header date, variation, verified_reviews, "
    "feedback (1 positive / 0 negative).",
)


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A source row that could not become a record, why, and its raw fields."""

    where: str
    reason: str
    row: dict[str, str]


@dataclass
class AlexaReviews:
    """The reviews as canonical text queries.

    ``intent`` is ``None``; ``labels`` hold ``sentiment`` (positive/negative),
    ``variation`` (whitespace-collapsed) and ``date`` (ISO). ``query_id`` is
    the data row's index in the file (0-based).
    """

    queries: list[TextQuery]
    skipped: list[SkippedRow] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """Return one row per review: text, language, sentiment, variation, date, query_id."""
        return pd.DataFrame(
            {
                "text": [q.text for q in self.queries],
                "language": [q.language for q in self.queries],
                "sentiment": [q.labels["sentiment"] for q in self.queries],
                "variation": [q.labels["variation"] for q in self.queries],
                "date": [q.labels["date"] for q in self.queries],
                "query_id": [q.query_id for q in self.queries],
            }
        )


def read_rows(settings: Settings | None = None) -> list[dict[str, str]]:
    """Return the data rows as published (fields as text, decoded from Mac Roman)."""
    path = data_path(SPEC, FILE, settings)
    with path.open(encoding=ENCODING, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{FILE}: header {reader.fieldnames}, expected {list(COLUMNS)}")
        return list(reader)


def normalise_variation(value: str) -> str:
    """Collapse the source's stray spaces (``"Black  Dot"`` -> ``"Black Dot"``)."""
    return " ".join(value.split())


def _iso_date(value: str) -> str:
    return datetime.strptime(value.strip(), "%d-%b-%y").date().isoformat()


def load(settings: Settings | None = None) -> AlexaReviews:
    """Load the reviews as English text queries labelled with sentiment, variation, date."""
    queries: list[TextQuery] = []
    skipped: list[SkippedRow] = []
    for index, row in enumerate(read_rows(settings)):
        where = f"{FILE} data row {index}"
        if None in row or any(row.get(c) is None for c in COLUMNS):
            skipped.append(SkippedRow(where, "wrong number of fields", row))
            continue
        if row["feedback"] not in SENTIMENTS:
            skipped.append(SkippedRow(where, f"feedback {row['feedback']!r} is not 0 or 1", row))
            continue
        try:
            date = _iso_date(row["date"])
        except ValueError:
            skipped.append(SkippedRow(where, f"date {row['date']!r} is not DD-Mon-YY", row))
            continue
        if not row["verified_reviews"].strip():
            skipped.append(SkippedRow(where, "empty review", row))
            continue
        queries.append(
            TextQuery(
                text=row["verified_reviews"],
                language="en",
                labels={
                    "sentiment": SENTIMENTS[row["feedback"]],
                    "variation": normalise_variation(row["variation"]),
                    "date": date,
                },
                query_id=str(index),
            )
        )
    return AlexaReviews(queries=queries, skipped=skipped)


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files.

    ``rows``, ``positive``, ``negative`` and ``variations`` count every source
    row, skipped (empty) reviews included, as PROVENANCE does; ``reviews``
    counts the loaded records.
    """
    loaded = load(settings)
    sentiments = Counter(q.labels["sentiment"] for q in loaded.queries)
    sentiments.update(
        SENTIMENTS.get(s.row.get("feedback") or "", "unknown") for s in loaded.skipped
    )
    variations = {q.labels["variation"] for q in loaded.queries}
    variations.update(normalise_variation(s.row.get("variation") or "") for s in loaded.skipped)
    distinct_rows = {tuple(row.values()) for row in read_rows(settings)}
    return {
        "rows": len(loaded.queries) + len(loaded.skipped),
        "reviews": len(loaded.queries),
        "skipped": len(loaded.skipped),
        "empty_reviews": sum(s.reason == "empty review" for s in loaded.skipped),
        "positive": sentiments["positive"],
        "negative": sentiments["negative"],
        "variations": len(variations),
        "distinct_rows": len(distinct_rows),
    }


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
