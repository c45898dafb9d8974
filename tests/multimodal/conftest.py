"""Real product photos for the multimodal tests: a small unseen folder with a few bad files in it."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from shopintent.multimodal.fashion import FashionData, load_fashion
from shopintent.settings import Settings

#: Per class, how many real photos the small catalogue copies (>= 20: the eval keeps classes that size).
PER_CLASS = 22
CLASSES = ("Tshirts", "Casual Shoes")
#: Optimiser steps of the text-image projection in the tests' small round trips (the bench and the CLI's
#: default keep ``contrastive.MIN_STEPS``): enough for a title to find its photo among ~45 products.
ROUND_TRIP_STEPS = 60


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    """The heads are small: one thread is faster than two spin-waiting on a shared CPU."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def fashion(session_settings: Settings) -> FashionData:
    """The staged Fashion Product Images set (counts checked against its provenance)."""
    if not (session_settings.data_dir / "fashion_product_images_224").is_dir():
        pytest.skip("fashion_product_images_224 is not in the data folder")
    return load_fashion(session_settings)


@pytest.fixture(scope="session")
def small_catalogue(fashion: FashionData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """44 real photos (22 T-shirts, 22 casual shoes) copied into a new folder with labels.csv beside it,
    plus three bad files: a text file named .jpg, a 8000x8000 image, and a photo whose id has no row."""
    from PIL import Image

    root = tmp_path_factory.mktemp("catalogue")
    images = root / "images"
    images.mkdir()
    picked = [fashion.products[fashion.products["articleType"] == c].head(PER_CLASS) for c in CLASSES]
    with (root / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "name", "kind", "colour"])
        for frame in picked:
            for row in frame.itertuples():
                shutil.copy(row.path, images / f"{row.id}.jpg")
                writer.writerow([row.id, row.productDisplayName, row.articleType, row.baseColour])
        writer.writerow(["broken", "Broken Men Blue Shirt", "Shirts", "Blue"])
        writer.writerow(["huge", "Huge Men Blue Shirt", "Shirts", "Blue"])
    (images / "broken.jpg").write_bytes(b"this is not a jpeg")
    Image.new("1", (8000, 8000)).save(images / "huge.png")
    shutil.copy(picked[0].iloc[0]["path"], images / "orphan-without-row.jpg")
    return root


@pytest.fixture(scope="session")
def mm_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state folder shared by the multimodal tests, so each photo's features are computed once."""
    return tmp_path_factory.mktemp("mm_state")
