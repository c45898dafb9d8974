"""The registry of public data sets shopintent knows, and their verification.

A data set's name is its folder name under ``SHOPINTENT_DATA_DIR`` and the name
of the module in this package that loads it. Every such module exposes

- ``SPEC``: a :class:`~shopintent.datasets.base.DatasetSpec` (licence, citation,
  source URL, files with SHA-256, the counts its provenance states);
- ``load(settings=None)``: the data as canonical records or tables;
- ``counts(settings=None)``: the counts computed from the files.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

from shopintent.datasets.base import DataFileMissing, DatasetSpec, sha256_of
from shopintent.settings import Settings, get_settings

#: Every data set, by name (= folder name = module name).
DATASET_NAMES: tuple[str, ...] = (
    "amazon_alexa_reviews",
    "amazon_qa",
    "amazon_seqrec",
    "bitext_customer_service",
    "cdnow",
    "clinc150",
    "diginetica_sample",
    "dmc2019_selfcheckout_fraud",
    "ecd_taobao_dialogue_sample",
    "mg_shopdial",
    "obd_sample",
    "online_shopping_10_cats",
    "smp2019_zh_intent",
    "talkingdata_adtracking_sample",
    "taobao_userbehavior_head",
    "uci_online_shoppers",
    "zh_ecommerce_ner_ding2019",
)


def module(name: str) -> ModuleType:
    """The loader module of one data set."""
    if name not in DATASET_NAMES:
        known = ", ".join(DATASET_NAMES)
        raise KeyError(f"unknown data set {name!r}; known: {known}")
    return importlib.import_module(f"shopintent.datasets.{name}")


def spec(name: str) -> DatasetSpec:
    """The registry entry (licence, files, expected counts) of one data set."""
    return module(name).SPEC


def all_specs() -> list[DatasetSpec]:
    """Every registered data set's spec, in name order."""
    return [spec(name) for name in DATASET_NAMES]


def load(name: str, settings: Settings | None = None) -> Any:
    """Load one data set as its canonical records/tables."""
    return module(name).load(settings)


@dataclass
class FileCheck:
    """One file's presence and checksum."""

    path: str
    present: bool
    sha256_ok: bool | None
    sha256: str | None


@dataclass
class DatasetCheck:
    """Everything :func:`verify` found about one data set."""

    name: str
    present: bool
    files: list[FileCheck] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    expected_counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.present and not self.errors

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def verify(name: str, settings: Settings | None = None) -> DatasetCheck:
    """Check one data set's files (presence, SHA-256) and row counts against its spec."""
    settings = settings or get_settings()
    dataset_spec = spec(name)
    folder = dataset_spec.directory(settings)
    check = DatasetCheck(
        name=name,
        present=dataset_spec.is_present(settings),
        expected_counts=dict(dataset_spec.expected_counts),
    )
    for data_file in dataset_spec.files:
        path = folder / data_file.path
        if not path.is_file():
            check.files.append(FileCheck(data_file.path, False, None, None))
            check.errors.append(f"{data_file.path}: missing (expected at {path})")
            continue
        digest = sha256_of(path)
        matches = digest == data_file.sha256
        check.files.append(FileCheck(data_file.path, True, matches, digest))
        if not matches:
            check.errors.append(
                f"{data_file.path}: SHA-256 {digest} differs from the published {data_file.sha256}"
            )
    if not check.present:
        return check
    try:
        check.counts = module(name).counts(settings)
    except (DataFileMissing, ValueError, OSError) as exc:
        check.errors.append(f"loading failed: {exc}")
        return check
    for key, expected in dataset_spec.expected_counts.items():
        got = check.counts.get(key)
        if got != expected:
            check.errors.append(f"count {key}: got {got}, expected {expected}")
    return check
