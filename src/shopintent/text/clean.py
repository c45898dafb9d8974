"""Making arbitrary user text safe to model: control characters out, length bounded.

Why: shoppers paste anything — emoji, zero-width joiners, NUL bytes, 10 kB of
logs. Models see a cleaned, bounded copy; slot offsets are always computed on
the original text, so the cleaning here never has to preserve positions.
"""

from __future__ import annotations

import re
import unicodedata

#: Characters a model sees at most (encoders cut again at their own limit).
MAX_MODEL_CHARS = 2000

_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
_SPACE = re.compile(r"\s+")


def clean_text(text: object, max_chars: int = MAX_MODEL_CHARS) -> str:
    """NFKC-normalised text without control characters, whitespace collapsed, at most ``max_chars``.

    ``None`` and non-strings become ``""`` or their ``str()``; surrogates that
    cannot be encoded are dropped.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    text = text[: max_chars * 2]
    text = text.encode("utf-8", "ignore").decode("utf-8", "ignore")
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()[:max_chars]
