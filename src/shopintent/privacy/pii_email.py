"""E-mail addresses: a pragmatic RFC 5322 subset, read after NFKC normalisation.

The local part's usual characters, a dotted domain and a letters-only top-level
domain. Normalisation first means ``jane＠example．com`` (full-width ``@`` and dot,
as Chinese input methods type them) is the same address as ``jane@example.com``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

# The look-behind keeps the start on the whole local part, so "jane.doe@" is masked whole;
# Chinese text around the address is never swallowed. A dash before or after is a
# sentence's dash ("—jane@qq.com—" once normalised), not part of the address, unless a
# domain label follows it. A digit may follow the top-level domain: in
# "a@b.com13800138000" both pieces are data.
_EMAIL: Final = re.compile(
    r"(?<![A-Za-z0-9_%+])[A-Za-z0-9_%+][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,}(?![A-Za-z]|-[A-Za-z0-9])"
)


def email_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` (already NFKC-normalised) that hold an e-mail address."""
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end()
