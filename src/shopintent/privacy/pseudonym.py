"""Keyed pseudonyms for user and session ids (HMAC-SHA256).

A pseudonym is ``<prefix>_<hex>``: the first ``length`` hex digits of
``HMAC-SHA256(key, namespace + "\\x00" + raw_id)``. The prefix names the
namespace so a reader can tell ids apart at a glance: ``u_`` for users,
``s_`` for sessions, ``e_`` for events (both a client's event id, namespace
``event``, and an id made from an event's content, namespace ``event_content``;
see :mod:`shopintent.privacy.event_ids`), and the namespace itself for any
other (``order_…``).

* The same raw id, key and namespace always give the same pseudonym, so joins
  and per-user features still work on pseudonymised tables.
* A different key gives unrelated pseudonyms: rotating the key unlinks old
  tables from new ones.
* The namespace is mixed into the MAC, so user ``"42"`` and session ``"42"``
  get unrelated pseudonyms and cannot be matched to each other.
* Without the key the mapping cannot be recomputed, even for ids that are easy
  to enumerate (a plain hash of a numeric id can be reversed by brute force).
  The key must hold at least 32 bytes (:data:`~shopintent.privacy.keys.MIN_KEY_BYTES`).
* :attr:`Pseudonymizer.key_id` names the key without revealing it; stores and
  exports record it so data written under two keys is never mixed.

Example::

    >>> p = Pseudonymizer(b"not-a-real-key-only-for-the-docs!")
    >>> p.pseudonymize("1000001")
    'u_...'
    >>> p.pseudonymize("1000001", namespace="session").startswith("s_")
    True
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shopintent.privacy.keys import check_key_length, key_id

if TYPE_CHECKING:
    from shopintent.settings import Settings

#: Short prefixes for the namespaces every table uses; others use their own name.
NAMESPACE_PREFIXES: dict[str, str] = {"user": "u", "session": "s", "event": "e", "event_content": "e"}

_NAMESPACE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MIN_LENGTH, _MAX_LENGTH = 8, 64
#: SHA-256's block size: HMAC pads (or first hashes) the key to it (RFC 2104).
_BLOCK = 64


class Pseudonymizer:
    """Turn raw ids into stable keyed pseudonyms; the key never leaves this object.

    ``length`` is the number of hex digits kept (8–64). The default, 16 digits
    (64 bits), keeps the chance of any collision among ten million ids below
    one in 300,000.
    """

    __slots__ = ("_key", "_length", "_bases", "_key_id", "_pads")

    def __init__(self, key: bytes, length: int = 16) -> None:
        if not isinstance(key, bytes | bytearray):
            raise TypeError(f"key must be bytes, not {type(key).__name__}")
        check_key_length(bytes(key), "the pseudonym key")
        if not isinstance(length, int) or not _MIN_LENGTH <= length <= _MAX_LENGTH:
            raise ValueError(f"length must be an integer from {_MIN_LENGTH} to {_MAX_LENGTH}, "
                             f"not {length!r}")
        self._key = bytes(key)
        self._length = length
        self._key_id = key_id(self._key)
        # One keyed HMAC state per namespace, copied per value: saves re-keying every call.
        self._bases: dict[str, hmac.HMAC] = {}
        # The same per namespace as two hash states (see ``pseudonymize_many``).
        self._pads: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {}

    @classmethod
    def from_settings(cls, settings: Settings | None = None, length: int = 16) -> Pseudonymizer:
        """Build one from the configured key (created and persisted on first use)."""
        if settings is None:
            from shopintent.settings import get_settings

            settings = get_settings()
        return cls(settings.resolved_pseudonym_key(), length=length)

    @property
    def length(self) -> int:
        """Hex digits in each pseudonym (after the prefix), unless a call asks for another."""
        return self._length

    @property
    def key_id(self) -> str:
        """The public name of this key (:func:`~shopintent.privacy.keys.key_id`): safe to store."""
        return self._key_id

    def __repr__(self) -> str:
        return f"Pseudonymizer(key=<hidden>, length={self._length})"

    __str__ = __repr__

    def __reduce__(self) -> object:
        # Pickling (e.g. to worker processes) must carry the key; the cache is rebuilt.
        return (type(self), (self._key, self._length))

    def _base(self, namespace: str) -> hmac.HMAC:
        base = self._bases.get(namespace)
        if base is None:
            if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
                raise ValueError(
                    f"namespace {namespace!r} must be lower-case letters, digits or '_', "
                    "starting with a letter (e.g. 'user', 'session')"
                )
            base = hmac.new(self._key, namespace.encode("ascii") + b"\x00", hashlib.sha256)
            self._bases[namespace] = base
        return base

    @staticmethod
    def prefix(namespace: str) -> str:
        """The readable prefix (with its ``_``) of pseudonyms in ``namespace``."""
        return NAMESPACE_PREFIXES.get(namespace, namespace) + "_"

    def _digits(self, length: int | None) -> int:
        if length is None:
            return self._length
        if not isinstance(length, int) or not _MIN_LENGTH <= length <= _MAX_LENGTH:
            raise ValueError(f"length must be an integer from {_MIN_LENGTH} to {_MAX_LENGTH}, "
                             f"not {length!r}")
        return length

    def pseudonymize(self, value: str, namespace: str = "user", length: int | None = None) -> str:
        """Return the pseudonym of one raw id, e.g. ``'u_3f9a…'`` for a user.

        ``length`` overrides the hex digits kept for this call (event ids keep more).
        """
        if not isinstance(value, str):
            raise TypeError(f"value must be str, not {type(value).__name__} ({value!r}); "
                            "convert ids to text first")
        digits = self._digits(length)
        mac = self._base(namespace).copy()
        mac.update(value.encode("utf-8"))
        return self.prefix(namespace) + mac.hexdigest()[:digits]

    def _pad_states(self, namespace: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
        """Copiers of HMAC's inner state (key ^ ipad, then the namespace) and outer state (key ^
        opad): RFC 2104 spelled with :mod:`hashlib`, which skips the :class:`hmac.HMAC` wrapper's
        Python-level work per value (a third of a pseudonym's cost)."""
        pads = self._pads.get(namespace)
        if pads is None:
            self._base(namespace)  # checks the namespace
            key = self._key if len(self._key) <= _BLOCK else hashlib.sha256(self._key).digest()
            key = key.ljust(_BLOCK, b"\0")
            inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
            inner.update(namespace.encode("ascii") + b"\x00")
            outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
            pads = self._pads[namespace] = (inner.copy, outer.copy)
        return pads

    def pseudonymize_many(self, values: Iterable[str | None], namespace: str = "user",
                          length: int | None = None) -> list[str | None]:
        """:meth:`pseudonymize` of each value, ``None`` kept: the row-wise ingest path's batch form.

        Each distinct value is hashed once (a request's events repeat their shopper), with
        the same HMAC-SHA256 as :meth:`pseudonymize`, so the pseudonyms are identical.
        """
        digits = self._digits(length)
        prefix = self.prefix(namespace)
        inner, outer = self._pad_states(namespace)
        done: dict[str, str] = {}
        out: list[str | None] = []
        for value in values:
            if value is None:
                out.append(None)
                continue
            pseudonym = done.get(value)
            if pseudonym is None:
                if not isinstance(value, str):
                    raise TypeError(f"value must be str, not {type(value).__name__} ({value!r}); "
                                    "convert ids to text first")
                first = inner()
                first.update(value.encode("utf-8"))
                second = outer()
                second.update(first.digest())
                pseudonym = done[value] = prefix + second.hexdigest()[:digits]
            out.append(pseudonym)
        return out

    def pseudonymize_series(self, series: pd.Series, namespace: str = "user",
                            length: int | None = None) -> pd.Series:
        """Pseudonymise a column: each distinct id is hashed once; nulls stay null.

        Non-text ids are hashed through ``str(value)``, so the integer ``42``
        and the text ``"42"`` share a pseudonym. The result is a ``string``
        column with the input's index and name.
        """
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        base = self._base(namespace)
        prefix, length = self.prefix(namespace), self._digits(length)
        mapped = np.empty(len(uniques) + 1, dtype=object)
        fresh = base.copy  # bound once: this loop runs per distinct id
        for i, raw in enumerate(uniques):
            mac = fresh()
            mac.update((raw if isinstance(raw, str) else str(raw)).encode("utf-8"))
            mapped[i] = prefix + mac.hexdigest()[:length]
        mapped[-1] = pd.NA  # code -1 (null) picks the last slot
        return pd.Series(mapped[codes], index=series.index, name=series.name, dtype="string")
