"""Public data sets as canonical records: one loader module per data set, and a registry.

``shopintent.datasets.registry`` lists them (licence, citation, source URL,
SHA-256, expected row counts) and verifies them; each module named after a
data set (``shopintent.datasets.taobao_userbehavior_head``…) loads it.
"""

from shopintent.datasets.base import (
    ChecksumMismatch,
    DataFile,
    DataFileMissing,
    DatasetSpec,
    RowCountMismatch,
    data_path,
)
from shopintent.datasets.registry import DATASET_NAMES, all_specs, load, spec, verify

__all__ = [
    "DATASET_NAMES",
    "ChecksumMismatch",
    "DataFile",
    "DataFileMissing",
    "DatasetSpec",
    "RowCountMismatch",
    "all_specs",
    "data_path",
    "load",
    "spec",
    "verify",
]
