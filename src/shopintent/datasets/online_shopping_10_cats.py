"""online_shopping_10_cats (SophonPlus ChineseNlpCorpus): Chinese shopping-review sentiment.

62,774 real user reviews from Chinese e-commerce sites over 10 product
categories (books, tablets, phones, fruit, shampoo, water heaters, Mengniu
dairy, clothes, computers, hotels), each labelled positive (1) or negative
(0). shopintent uses it for the Chinese review-sentiment model and as a
per-category polarity signal.

The stored file is the zip as published; the CSV (``cat,label,review``) is
read from inside it, never extracted. The file is sorted by category then
label, and the first review of each of those 20 blocks starts with a stray
byte-order mark (U+FEFF); it is removed (counted as ``bom_removed``). One review (a 热水器 row) is empty: it is kept in ``skipped``
with its reason, and the label counts below include it, as PROVENANCE does.
There are no splits.

Caveats (PROVENANCE.txt): no licence is stated in the source repository;
research use only, do not redistribute. The platform the reviews come from is
not documented.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.schema import TextQuery
from shopintent.settings import Settings

_REPO, _COMMIT = "SophonPlus/ChineseNlpCorpus", "a0b781d72158bde242c0626c9e354d2b328865ff"
ZIP_FILE = "online_shopping_10_cats.zip"
CSV_MEMBER = "online_shopping_10_cats.csv"

#: Source label -> canonical sentiment.
SENTIMENTS: dict[str, str] = {"1": "positive", "0": "negative"}

#: Source category -> English name (as PROVENANCE.txt gives it).
CATEGORIES_EN: dict[str, str] = {
    "书籍": "books",
    "平板": "tablets",
    "手机": "phones",
    "水果": "fruit",
    "洗发水": "shampoo",
    "热水器": "water heaters",
    "蒙牛": "Mengniu dairy",
    "衣服": "clothes",
    "计算机": "computers",
    "酒店": "hotels",
}

SPEC = DatasetSpec(
    name="online_shopping_10_cats",
    task="Chinese review sentiment (positive/negative) over 10 product categories",
    language="zh",
    licence="none stated in the source repository (collected for Chinese NLP research); "
    "research use only, do not redistribute",
    citation="SophonPlus, ChineseNlpCorpus: online_shopping_10_cats, 2018",
    source=f"https://github.com/{_REPO} @ {_COMMIT} "
    "(datasets/online_shopping_10_cats/online_shopping_10_cats.zip)",
    files=(
        DataFile(
            path=ZIP_FILE,
            sha256="6816ded66fde9d0927ecbd370b5e12d0174d1abac35192ec014ac2a0a8d25858",
            size=4_084_428,
            url=github_raw(_REPO, _COMMIT, f"datasets/online_shopping_10_cats/{ZIP_FILE}"),
        ),
    ),
    expected_counts={
        "rows": 62_774,
        "positive": 31_728,
        "negative": 31_046,
        "categories": 10,
    },
    description=f"{ZIP_FILE} holds {CSV_MEMBER}: UTF-8 CSV with header cat,label,review.",
)


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A source row that could not become a record, why, and its raw fields."""

    where: str
    reason: str
    row: dict[str, str]


@dataclass
class OnlineShoppingReviews:
    """The reviews as canonical text queries.

    ``intent`` is ``None``; ``labels`` hold ``sentiment`` (positive/negative),
    ``category`` (as in the source, e.g. ``书籍``) and ``category_en``.
    """

    queries: list[TextQuery]
    skipped: list[SkippedRow] = field(default_factory=list)
    bom_removed: int = 0

    def frame(self) -> pd.DataFrame:
        """Return one row per review: text, language, intent, split, labels, query_id."""
        return pd.DataFrame(
            {
                "text": [q.text for q in self.queries],
                "language": [q.language for q in self.queries],
                "intent": [q.intent for q in self.queries],
                "split": [q.split for q in self.queries],
                "sentiment": [q.labels["sentiment"] for q in self.queries],
                "category": [q.labels["category"] for q in self.queries],
                "category_en": [q.labels["category_en"] for q in self.queries],
                "query_id": [q.query_id for q in self.queries],
            }
        )


def read_rows(settings: Settings | None = None) -> list[dict[str, str]]:
    """Return the CSV rows as published, read from inside the zip."""
    with zipfile.ZipFile(data_path(SPEC, ZIP_FILE, settings)) as archive:
        with archive.open(CSV_MEMBER) as member:
            text = io.TextIOWrapper(member, encoding="utf-8", newline="")
            reader = csv.DictReader(text)
            if reader.fieldnames != ["cat", "label", "review"]:
                raise ValueError(
                    f"{ZIP_FILE}/{CSV_MEMBER}: header {reader.fieldnames}, "
                    "expected ['cat', 'label', 'review']"
                )
            return list(reader)


def load(settings: Settings | None = None) -> OnlineShoppingReviews:
    """Load the reviews as text queries labelled with sentiment and product category."""
    queries: list[TextQuery] = []
    skipped: list[SkippedRow] = []
    bom_removed = 0
    for index, row in enumerate(read_rows(settings)):
        where = f"{CSV_MEMBER} data row {index}"
        review, label, category = row.get("review"), row.get("label"), row.get("cat")
        if None in row or review is None or category is None:
            skipped.append(SkippedRow(where, "wrong number of fields", row))
            continue
        if review.startswith("\ufeff"):
            review = review.lstrip("\ufeff")
            bom_removed += 1
        if not review.strip():
            skipped.append(SkippedRow(where, "empty review", row))
            continue
        if label not in SENTIMENTS:
            skipped.append(SkippedRow(where, f"label {label!r} is not 0 or 1", row))
            continue
        queries.append(
            TextQuery(
                text=review,
                language="zh",
                labels={
                    "sentiment": SENTIMENTS[label],
                    "category": category,
                    "category_en": CATEGORIES_EN.get(category, category),
                },
                query_id=str(index),
            )
        )
    return OnlineShoppingReviews(queries=queries, skipped=skipped, bom_removed=bom_removed)


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files.

    ``rows``, ``positive``, ``negative`` and ``categories`` count every source
    row, skipped ones included (PROVENANCE counts the file's rows);
    ``reviews`` counts the loaded records.
    """
    loaded = load(settings)
    sentiments = Counter(q.labels["sentiment"] for q in loaded.queries)
    sentiments.update(SENTIMENTS.get(s.row.get("label") or "", "unknown") for s in loaded.skipped)
    categories = Counter(q.labels["category"] for q in loaded.queries)
    categories.update(s.row.get("cat") or "" for s in loaded.skipped)
    return {
        "rows": len(loaded.queries) + len(loaded.skipped),
        "reviews": len(loaded.queries),
        "skipped": len(loaded.skipped),
        "bom_removed": loaded.bom_removed,
        "positive": sentiments["positive"],
        "negative": sentiments["negative"],
        "categories": len(categories),
        **{f"category:{name}": n for name, n in categories.items()},
    }


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
