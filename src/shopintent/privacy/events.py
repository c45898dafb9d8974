"""Make a canonical event table safe to store: keyed ids, scrubbed free text.

This is the last step before events reach the store (or a stream): user,
session and event ids are replaced by keyed pseudonyms (so per-user features,
joins and de-duplication still work, but the raw ids are gone) and every
free-text column loses any personal data typed into it.

Which columns are free text is derived from the canonical schema, not listed
by hand: every text column of :data:`~shopintent.schema.validation.EVENT_COLUMNS`
that is neither a pseudonymised id nor the (validated, closed-set) event type.
Today that is ``item_id``, ``category_id`` and ``query``: a client can put
anything into an item or category id, so those are scrubbed too (a scrubbed id
is still a usable id). A new text column is scrubbed without touching this module.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from shopintent.log import get_logger
from shopintent.privacy.event_ids import keyed_event_ids, keyed_event_ids_rows
from shopintent.privacy.pseudonym import Pseudonymizer
from shopintent.privacy.scrub import scrub_series, scrub_value
from shopintent.schema.validation import EVENT_COLUMNS

log = get_logger(__name__)

#: Id columns rewritten by :func:`protect_events` and the pseudonym namespace of each.
ID_NAMESPACES: dict[str, str] = {"user_id": "user", "session_id": "session"}
#: Columns from a closed set, checked by validation: nothing personal can hide there.
_CLOSED_COLUMNS = frozenset({"event_type"})
#: Every free-text column: scrubbed by :func:`protect_events` and :func:`scrub_text_columns`.
TEXT_COLUMNS: tuple[str, ...] = tuple(
    c for c, dtype in EVENT_COLUMNS.items()
    if dtype == "string" and c not in ID_NAMESPACES and c != "event_id" and c not in _CLOSED_COLUMNS
)


def _check_frame(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"not a canonical event frame: missing column(s) {missing}; "
                         "run validate_events first")
    for column in columns:
        if not (pd.api.types.is_string_dtype(frame[column]) or frame[column].dtype == object):
            raise TypeError(f"column {column!r} must hold text, not {frame[column].dtype}")


def scrub_text_columns(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """A copy of ``frame`` with every :data:`TEXT_COLUMNS` column scrubbed; and how many cells changed.

    Scrubbing is idempotent, so this is also the step for rows that were protected
    before (an import, a stream message): text that is already clean stays as it
    is, and raw text that slipped in is cleaned.
    """
    _check_frame(frame, TEXT_COLUMNS)
    out = frame.copy()
    changed = 0
    for column in TEXT_COLUMNS:
        scrubbed = scrub_series(frame[column])
        changed += int((scrubbed != frame[column]).fillna(False).sum())
        out[column] = scrubbed
    return out, changed


def protect_events(frame: pd.DataFrame, pseudonymizer: Pseudonymizer,
                   groups: Sequence[int] | np.ndarray | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with keyed ids and every free-text column scrubbed.

    ``frame`` is a canonical event table (the ``valid`` frame of
    :func:`~shopintent.schema.validation.validate_events`), still holding the raw
    values. ``event_id`` becomes the keyed id of :func:`~shopintent.privacy.event_ids.keyed_event_ids`
    (computed on the raw row, so it is the same on every path; ``groups`` as there),
    ``user_id`` is pseudonymised in namespace ``"user"``, ``session_id`` in
    ``"session"``, and each of :data:`TEXT_COLUMNS` goes through
    :func:`~shopintent.privacy.scrub.scrub_series`; nulls stay null (except
    ``event_id``, which every row gets), every other column, the index and all
    dtypes are unchanged.

    Not idempotent: protecting a protected table pseudonymises the pseudonyms
    (use :func:`scrub_text_columns` for rows that are already protected). Only
    row counts are logged, never ids, text or the key.
    """
    _check_frame(frame, ("event_id", *ID_NAMESPACES, *TEXT_COLUMNS))
    ids = keyed_event_ids(frame, pseudonymizer, groups=groups)
    protected, changed = scrub_text_columns(frame)
    protected["event_id"] = ids.astype(frame["event_id"].dtype)
    for column, namespace in ID_NAMESPACES.items():
        pseudonyms = pseudonymizer.pseudonymize_series(frame[column], namespace=namespace)
        protected[column] = pseudonyms.astype(frame[column].dtype)
    log.debug("events protected", rows=len(protected), texts_scrubbed=changed)
    return protected


def protect_rows(rows: Sequence[Mapping[str, Any]], pseudonymizer: Pseudonymizer,
                 groups: Sequence[Hashable] | None = None) -> list[dict[str, Any]]:
    """:func:`protect_events` for canonical row dicts: the same ids, pseudonyms and scrubbed text.

    ``rows`` are the ``valid`` rows of
    :func:`~shopintent.schema.validation.validate_rows`; each comes back as a new dict
    with its keys in the same order, ``event_id`` keyed
    (:func:`~shopintent.privacy.event_ids.keyed_event_ids_rows`, ``groups`` as there),
    the :data:`ID_NAMESPACES` ids pseudonymised and :data:`TEXT_COLUMNS` scrubbed.
    Column by column, each distinct value once (:meth:`Pseudonymizer.pseudonymize_many`,
    :func:`_scrub_many`): a write group of hundreds of events repeats its shoppers,
    items and categories.
    """
    ids = keyed_event_ids_rows(rows, pseudonymizer, groups=groups)
    columns: dict[str, list[Any]] = {
        column: pseudonymizer.pseudonymize_many([row[column] for row in rows], namespace=namespace)
        for column, namespace in ID_NAMESPACES.items()}
    for column in TEXT_COLUMNS:
        columns[column] = _scrub_many([row[column] for row in rows])
    out = []
    for i, (row, event_id) in enumerate(zip(rows, ids, strict=True)):
        protected = dict(row)
        protected["event_id"] = event_id
        for column, values in columns.items():
            protected[column] = values[i]
        out.append(protected)
    return out  # not logged: this runs per request, and a row count of one says nothing


def _scrub_many(values: Sequence[Any]) -> list[Any]:
    """:func:`~shopintent.privacy.scrub.scrub_value` of each value, each distinct text once."""
    done: dict[Any, Any] = {}
    out = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        try:
            out.append(done[value])
        except KeyError:
            out.append(done.setdefault(value, scrub_value(value)))
    return out
