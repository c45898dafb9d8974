"""The real-text shop-intent test set: real shopper messages (zh and en) labelled by hand, kept as references.

Why references: the texts belong to public data sets that may not be
redistributed, so the package ships only where each text is (data set, file,
line, turn) with the SHA-256 of the text as published and its labels
(``real_shop_intent_<language>.csv``); :func:`real_shop_intent_test` reads the
texts from ``SHOPINTENT_DATA_DIR`` and refuses a text whose hash differs, so a
changed data file can never silently change the test. How the rows were drawn
is :mod:`shopintent.text.evalsets.select`; how they were labelled (guide, two
passes, every disagreement) is ``LABELLING.md`` beside this file.

The set is for *testing only*: a training run must leave out these texts and,
for English, every question about :func:`excluded_products`.

>>> test = real_shop_intent_test(settings, "zh")          # doctest: +SKIP
>>> len(test), test.texts[0], test.labels[0]               # doctest: +SKIP
(330, '我看到更合适的799的两组我得再退一次', 'get_refund')
"""

from __future__ import annotations

import csv
import html
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from shopintent.datasets import amazon_qa, ecd_taobao_dialogue_sample
from shopintent.datasets.base import data_path
from shopintent.settings import Settings, get_settings
from shopintent.text.evalsets.select import text_sha256

LANGUAGES: tuple[str, ...] = ("zh", "en")
#: The 27 Bitext intents the default shop-intent model knows.
SHOP_INTENTS: tuple[str, ...] = (
    "cancel_order", "change_order", "change_shipping_address", "check_cancellation_fee",
    "check_invoice", "check_payment_methods", "check_refund_policy", "complaint",
    "contact_customer_service", "contact_human_agent", "create_account", "delete_account",
    "delivery_options", "delivery_period", "edit_account", "get_invoice", "get_refund",
    "newsletter_subscription", "payment_issue", "place_order", "recover_password",
    "registration_problems", "review", "set_up_shipping_address", "switch_account",
    "track_order", "track_refund",
)
OOS = "oos"
#: A question about a product's properties, compatibility or usage (product QA answers it).
PRODUCT_QUESTION = "product_question"
LABELS: frozenset[str] = frozenset(SHOP_INTENTS) | {OOS, PRODUCT_QUESTION}
COLUMNS: tuple[str, ...] = (
    "row_id", "source_dataset", "source_file", "source_locator", "product_id", "text_sha256",
    "label", "label_pass1", "label_pass2", "note",
)
_ECD_LOCATOR = re.compile(r"line (\d+) turn (\d+)")
_QA_LOCATOR = re.compile(r"line (\d+)")


class EvalSetError(ValueError):
    """The committed set is malformed, or a referenced text is missing or changed."""


@dataclass(frozen=True, slots=True)
class EvalRow:
    """One committed row: where the text is, its hash, the final label and both passes."""

    row_id: str
    source_dataset: str
    source_file: str
    source_locator: str
    product_id: str
    text_sha256: str
    label: str
    label_pass1: str
    label_pass2: str
    note: str

    def where(self) -> str:
        """The row and its reference, for error messages."""
        return f"row {self.row_id} ({self.source_dataset} {self.source_file} {self.source_locator})"


@dataclass
class RealIntentSet:
    """The rows of one language with their texts, as the model sees them."""

    language: str
    rows: list[EvalRow]
    texts: list[str]

    @property
    def labels(self) -> list[str]:
        """The final label of every row, in row order."""
        return [row.label for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


def csv_name(language: str) -> str:
    """The file name of one language's rows."""
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r}: the real-text set has {', '.join(LANGUAGES)}")
    return f"real_shop_intent_{language}.csv"


def read_rows(language: str, path: Path | None = None) -> list[EvalRow]:
    """Read and check the committed rows of one language (``path`` overrides the shipped file).

    Raises :class:`EvalSetError` naming the file, the row and the field at fault.
    """
    name = csv_name(language)
    if path is None:
        text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
        source = name
    else:
        text = path.read_text(encoding="utf-8")
        source = str(path)
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise EvalSetError(f"{source}: columns {reader.fieldnames} differ from {list(COLUMNS)}")
    rows: list[EvalRow] = []
    seen: set[str] = set()
    for number, record in enumerate(reader, start=2):
        row = EvalRow(**{column: (record[column] or "").strip() for column in COLUMNS})
        at = f"{source} line {number} ({row.row_id or 'no row_id'})"
        if not row.row_id.startswith(language) or row.row_id in seen:
            raise EvalSetError(f"{at}: `row_id` must be unique and start with {language!r}")
        seen.add(row.row_id)
        for column in ("label", "label_pass1", "label_pass2"):
            value = getattr(row, column)
            if value not in LABELS:
                raise EvalSetError(f"{at}: `{column}` {value!r} is not a shop intent, "
                                   f"{OOS!r} or {PRODUCT_QUESTION!r}")
        if row.label_pass1 != row.label_pass2 and not row.note:
            raise EvalSetError(f"{at}: the passes disagree, so `note` must say how it was resolved")
        if not re.fullmatch(r"[0-9a-f]{64}", row.text_sha256):
            raise EvalSetError(f"{at}: `text_sha256` {row.text_sha256!r} is not a hex SHA-256")
        if row.source_dataset == amazon_qa.SPEC.name and not row.product_id:
            raise EvalSetError(f"{at}: an amazon_qa row needs its `product_id` (asin)")
        rows.append(row)
    return rows


def _ecd_texts(rows: list[EvalRow], settings: Settings) -> list[str]:
    pairs = {(p.source_file, p.line): p for p in ecd_taobao_dialogue_sample.load(settings).pairs}
    published = []
    for row in rows:
        match = _ECD_LOCATOR.fullmatch(row.source_locator)
        pair = pairs.get((row.source_file, int(match.group(1)))) if match else None
        turn = int(match.group(2)) if match else -1
        if pair is None or not 0 <= turn < len(pair.context):
            raise EvalSetError(f"{row.where()}: no such line and turn in the data set")
        published.append(pair.context[turn])
    return published


def _amazon_texts(rows: list[EvalRow], settings: Settings) -> list[str]:
    import gzip

    wanted: dict[tuple[str, int], EvalRow] = {}
    for row in rows:
        match = _QA_LOCATOR.fullmatch(row.source_locator)
        if match is None:
            raise EvalSetError(f"{row.where()}: `source_locator` must be 'line N'")
        wanted[(row.source_file, int(match.group(1)))] = row
    found: dict[tuple[str, int], str] = {}
    for file_name in sorted({f for f, _ in wanted}):
        with gzip.open(data_path(amazon_qa.SPEC, file_name, settings), "rt", encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                row = wanted.get((file_name, number))
                if row is None:
                    continue
                try:
                    record = amazon_qa.parse_record(line)
                except ValueError as exc:
                    raise EvalSetError(f"{row.where()}: {exc}") from None
                if record["asin"] != row.product_id:
                    raise EvalSetError(f"{row.where()}: the line is about product "
                                       f"{record['asin']}, the row says {row.product_id}")
                found[(file_name, number)] = record["question"]
    missing = [row.where() for key, row in wanted.items() if key not in found]
    if missing:
        raise EvalSetError(f"{missing[0]}: no such line in the data set")
    return [found[key] for key in wanted]


def _model_text(row: EvalRow, published: str) -> str:
    """What a shopper typed: segmentation spaces removed (ECD), HTML entities decoded (amazon_qa)."""
    if row.source_dataset == ecd_taobao_dialogue_sample.SPEC.name:
        return ecd_taobao_dialogue_sample.unsegment(published)
    return html.unescape(published).strip()


def resolve(rows: list[EvalRow], settings: Settings) -> list[str]:
    """The texts of ``rows`` from the data folder, each checked against its stored SHA-256."""
    by_source: dict[str, list[EvalRow]] = {}
    for row in rows:
        by_source.setdefault(row.source_dataset, []).append(row)
    readers = {
        ecd_taobao_dialogue_sample.SPEC.name: _ecd_texts,
        amazon_qa.SPEC.name: _amazon_texts,
    }
    published: dict[str, str] = {}
    for source, group in by_source.items():
        if source not in readers:
            raise EvalSetError(f"{group[0].where()}: unknown source data set {source!r}")
        for row, text in zip(group, readers[source](group, settings), strict=True):
            digest = text_sha256(text)
            if digest != row.text_sha256:
                raise EvalSetError(
                    f"{row.where()}: the text's SHA-256 is {digest}, the set stored "
                    f"{row.text_sha256}: the data file changed. Restore it (check with "
                    f"`shopintent datasets verify {source}`) or re-label this row."
                )
            published[row.row_id] = text
    return [_model_text(row, published[row.row_id]) for row in rows]


def real_shop_intent_test(settings: Settings | None = None, language: str = "zh") -> RealIntentSet:
    """The real-text test rows of one language with their texts (read and hash-checked)."""
    settings = settings or get_settings()
    rows = read_rows(language)
    return RealIntentSet(language=language, rows=rows, texts=resolve(rows, settings))


def excluded_products() -> frozenset[str]:
    """The amazon_qa products (asin) the English rows come from: train on none of their questions."""
    return frozenset(row.product_id for row in read_rows("en") if row.product_id)
