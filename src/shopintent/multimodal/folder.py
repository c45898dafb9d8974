"""Any folder of product images plus a CSV of titles (and labels): the input of ``shopintent multimodal``.

Why its own module: the generic commands must accept a shop's own catalogue,
match each image to its CSV row by id (the file name without extension), and
report every file it cannot use — not an image, too large, no CSV row —
by name, while the rest of the folder is processed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shopintent.log import get_logger
from shopintent.multimodal.fashion import folder_sha256

log = get_logger(__name__)

class CatalogueError(ValueError):
    """The CSV or folder cannot be used at all (missing column, no matching image)."""


@dataclass
class Catalogue:
    """Products that have both an image file and a CSV row, and the files that were skipped."""

    products: pd.DataFrame  # columns: id, title, path, + label column when asked
    skipped: dict[str, str] = field(default_factory=dict)  # file or row -> reason
    images_sha256: str = ""


def read_catalogue(
    images: Path, labels: Path, id_col: str, title_col: str, label_col: str | None = None
) -> Catalogue:
    """Match image files (``<id>.<ext>``) to CSV rows; an image without a row is skipped, named."""
    images, labels = Path(images), Path(labels)
    if not images.is_dir():
        raise CatalogueError(f"--images {images}: not a folder")
    try:
        table = pd.read_csv(labels, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"--labels {labels}: cannot read as CSV ({exc})") from None
    wanted = [c for c in (id_col, title_col, label_col) if c]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise CatalogueError(
            f"--labels {labels}: no column {', '.join(map(repr, missing))}; columns are {list(table.columns)}"
        )
    table = table.drop_duplicates(subset=id_col, keep="first").set_index(id_col)
    files = sorted(p for p in images.iterdir() if p.is_file())
    skipped: dict[str, str] = {}
    rows = []
    for path in files:
        # Any suffix is tried: a shop may name files oddly; decoding decides. Only the row match is checked here.
        key = path.stem
        if key not in table.index:
            skipped[str(path)] = f"{path}: no row with {id_col}={key!r} in {labels}"
            log.warning("image skipped", file=str(path), reason="no title row")
            continue
        row = table.loc[key]
        title = str(row[title_col]).strip()
        if not title:
            skipped[str(path)] = f"{path}: row {id_col}={key!r} has an empty {title_col!r}"
            continue
        item = {"id": key, "title": title, "path": str(path)}
        if label_col:
            item["label"] = str(row[label_col]).strip()
        rows.append(item)
    if not rows:
        raise CatalogueError(
            f"--images {images}: none of {len(files)} files matches a row of {labels} by {id_col!r}"
        )
    products = pd.DataFrame(rows)
    sha = folder_sha256([Path(p) for p in products["path"]])
    return Catalogue(products=products, skipped=skipped, images_sha256=sha)
