"""WeChat ids and QQ numbers, taken only where the text says what they are.

Neither has a checksum, and both look like ordinary words or numbers (a WeChat id
is 6-20 letters, digits, ``_`` or ``-`` starting with a letter; a QQ number is 5-11
digits not starting with 0), so the rule is cue-gated:

* **WeChat** -- a cue (``微信``, ``薇信``, ``威信``, ``V信``, ``WeChat``, ``Weixin``,
  ``wx``, ``vx``; any case or width) then an optional label (``号``, ``ID``, ``账号``)
  and separator (``:``, ``是``, ``为``, spaces), then the id. After an English cue
  the id must be set off by a space or separator, and an id of letters only is
  taken only after an explicit label or separator (``WeChat ID: janedoe``), so
  ``wechat account`` stays text; after a Chinese cue any Latin token is the id
  (``加微信 janedoe``).
* **QQ** -- a cue (``QQ``, ``扣扣``, ``企鹅``; optional ``号``/``号码``/``群``) then a
  5-11 digit number, e.g. ``QQ：710959285``, ``QQ群 12345678``.

A WeChat id that is a phone number (``微信同号``, ``vx 13800138000``) is found by
the phone rule instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

_WECHAT: Final = re.compile(
    r"(?:(?P<zh>微信|薇信|威信|v信)|(?<![a-z])(?P<en>wechat|weixin|wx|vx)(?![a-z]))"
    r"(?P<label>[ ]?(?:号|id|账号|帐号))?(?P<sep>[ ]*(?:[:是为][ ]*)?)"
    r"(?P<id>[a-z][a-z0-9_-]{5,19})(?![a-z0-9_-])",
    re.IGNORECASE | re.ASCII,
)
_QQ: Final = re.compile(
    r"(?:(?<![a-z])qq(?![a-z])|扣扣|企鹅)(?:号码|号|群)?[ ]*(?:[:是为#][ ]*)?"
    r"(?P<id>[1-9][0-9]{4,10})(?![0-9])",
    re.IGNORECASE | re.ASCII,
)
#: Cue words, lower case, as the pre-filter looks for them in a digit-free text.
WECHAT_CUES: Final = ("微信", "薇信", "威信", "v信", "wechat", "weixin", "wx", "vx")


def wechat_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of WeChat ids after a WeChat cue in ``text`` (already NFKC-normalised)."""
    for m in _WECHAT.finditer(text):
        explicit = bool(m.group("label")) or bool(m.group("sep").strip())
        if m.group("en") and not (m.group("label") or m.group("sep")):
            continue  # "wxabc123": a cue glued to a word is no cue
        if m.group("en") and not explicit and m.group("id").isalpha():
            continue
        yield m.start("id"), m.end("id")


def qq_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of QQ numbers after a QQ cue in ``text`` (already NFKC-normalised)."""
    for m in _QQ.finditer(text):
        yield m.start("id"), m.end("id")
