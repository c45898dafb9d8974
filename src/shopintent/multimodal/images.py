"""Decode one product image into the encoder's input, refusing files that are not usable images.

Why a module of its own: every entry point (a folder on disk, an HTTP upload)
must give the same clear error for a bad file, naming it, so the rest of a
folder is still processed.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

#: Input side of EfficientNet-Lite0.
IMAGE_SIZE = 224
#: Larger images are refused before decoding (decompression bombs, accidental raw scans).
MAX_PIXELS = 40_000_000
MAX_BYTES = 20 * 1024 * 1024
#: ImageNet normalisation the pretrained weights expect.
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class ImageError(ValueError):
    """A file that cannot be used as a product image; the message names it and says why."""


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Decode image bytes into a normalised (3, 224, 224) float32 array, or raise :class:`ImageError`.

    >>> decode_image(b"not a jpeg", "x.jpg")
    Traceback (most recent call last):
    ...
    shopintent.multimodal.images.ImageError: x.jpg: not an image file (cannot identify image file)
    """
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_BYTES:
        raise ImageError(f"{name}: file is {len(data):,} bytes, over the {MAX_BYTES:,}-byte limit")
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise ImageError(
                    f"{name}: image is {width}x{height} pixels, over the {MAX_PIXELS:,}-pixel limit"
                )
            rgb = img.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image file (cannot identify image file)") from None
    except (OSError, Image.DecompressionBombError, ValueError) as exc:
        raise ImageError(f"{name}: cannot decode image ({exc})") from None
    array = np.asarray(rgb, dtype=np.float32) / 255.0
    return ((array - MEAN) / STD).transpose(2, 0, 1).copy()


def read_image(path: Path) -> np.ndarray:
    """Decode an image file (see :func:`decode_image`); the error names the path."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from None
    if size > MAX_BYTES:
        raise ImageError(f"{path}: file is {size:,} bytes, over the {MAX_BYTES:,}-byte limit")
    return decode_image(path.read_bytes(), str(path))
