"""Loader of the real Fashion Product Images set (Myntra catalogue, 9,583 photos with titles and labels).

Why a dedicated loader: the published ``styles.csv`` is unquoted and 22 titles
contain commas, so a plain CSV parser splits them; this loader joins the title
fields back, counts those rows, and checks the counts and checksums that
``fashion_product_images_224/PROVENANCE.txt`` states before anything trains.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shopintent.log import get_logger
from shopintent.settings import Settings, get_settings

log = get_logger(__name__)

NAME = "fashion_product_images_224"
SOURCE_URL = "https://www.kaggle.com/datasets/paramaggarwal/fashion-product-images-small"
IMAGES_URL = (
    "https://github.com/GaneshNeupane01/Fashion-Recommendation-System/tree/"
    "7cf263426a1a818fbcab19006b87c924b4dd0fa1/images"
)
LABELS_URL = (
    "https://github.com/knowrohit/recommendation-using-ResNet50/blob/"
    "45ce40e1a9ea04712319cc33a5eb8c05523db50d/styles.csv.zip"
)
COLUMNS = (
    "id", "gender", "masterCategory", "subCategory", "articleType",
    "baseColour", "season", "year", "usage", "productDisplayName",
)
#: What PROVENANCE.txt states; the loader refuses data that differs.
EXPECTED = {"label_rows": 44_446, "stray_comma_rows": 22, "images": 9_583, "images_with_labels": 9_583}
#: The four tasks of issue 17 and the minimum images per class kept for each.
TASKS = ("articleType", "masterCategory", "gender", "baseColour")
MIN_CLASS_IMAGES = 20


class FashionDataError(ValueError):
    """The staged data set differs from what its provenance states."""


@dataclass(frozen=True)
class FashionData:
    """The labelled products that have a photo, plus the record of how they were read."""

    products: pd.DataFrame  # one row per image, COLUMNS + "path"; index order = sorted id
    counts: dict[str, int] = field(default_factory=dict)
    sha256: str = ""  # images and labels together: what a result records
    images_sha256: str = ""  # images alone: the image-feature cache key
    labels_sha256: str = ""
    source: str = SOURCE_URL


def parse_styles(text: str) -> tuple[pd.DataFrame, int]:
    """Parse the unquoted styles.csv; titles with commas are joined back. Returns (rows, joined count).

    >>> frame, joined = parse_styles("id,gender,masterCategory,subCategory,articleType,baseColour,"
    ...     "season,year,usage,productDisplayName\\n1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A, B shirt")
    >>> (frame.loc[0, "productDisplayName"], joined)
    ('A, B shirt', 1)
    """
    lines = text.splitlines()
    header = lines[0].split(",")
    if tuple(header) != COLUMNS:
        raise FashionDataError(f"styles.csv header is {header}, expected {list(COLUMNS)}")
    rows, joined = [], 0
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) < len(COLUMNS):
            raise FashionDataError(f"styles.csv line {number}: {len(fields)} fields, expected {len(COLUMNS)}")
        if len(fields) > len(COLUMNS):
            joined += 1
            fields = fields[:9] + [",".join(fields[9:])]
        rows.append(fields)
    return pd.DataFrame(rows, columns=list(COLUMNS)), joined


def folder_sha256(paths: list[Path]) -> str:
    """One SHA-256 over many files (name and bytes, in the given order) — the cache key of a data set."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load_fashion(settings: Settings | None = None, check: bool = True) -> FashionData:
    """Read the staged set from ``<data_dir>/fashion_product_images_224`` and check its counts."""
    settings = settings or get_settings()
    folder = settings.data_dir / NAME
    archive = folder / "styles.csv.zip"
    if not archive.is_file():
        raise FileNotFoundError(
            f"data set {NAME}: {archive} is missing (source: {LABELS_URL}); "
            f"set SHOPINTENT_DATA_DIR to a folder holding {NAME}/"
        )
    raw = archive.read_bytes()
    labels_sha = hashlib.sha256(raw).hexdigest()
    with zipfile.ZipFile(archive) as zf:
        styles, joined = parse_styles(zf.read("styles.csv").decode("utf-8"))
    images = {p.stem: p for p in sorted((folder / "images").glob("*.jpg"))}
    products = styles[styles["id"].isin(images)].copy()
    products["path"] = products["id"].map(lambda i: str(images[i]))
    products = products.sort_values("id", key=lambda s: s.astype(int)).reset_index(drop=True)
    counts = {
        "label_rows": len(styles),
        "stray_comma_rows": joined,
        "stray_comma_rows_with_image": int(
            styles["productDisplayName"].str.contains(",", regex=False)[styles["id"].isin(images)].sum()
        ),
        "images": len(images),
        "images_with_labels": len(products),
    }
    if check:
        for key, want in EXPECTED.items():
            if counts[key] != want:
                raise FashionDataError(
                    f"data set {NAME}: {key} is {counts[key]:,}, PROVENANCE.txt states {want:,}"
                )
    images_sha = folder_sha256([Path(p) for p in products["path"]])
    sha = hashlib.sha256((images_sha + labels_sha).encode()).hexdigest()
    log.info("fashion products loaded", **counts, sha256=sha[:12])
    return FashionData(
        products=products, counts=counts, sha256=sha, images_sha256=images_sha, labels_sha256=labels_sha
    )
