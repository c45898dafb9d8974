"""Keyed event ids: one scheme for every way an event enters shopintent.

An event's id decides whether a re-sent event is a duplicate, so every path
(HTTP, stream, CLI file ingest, data-set loaders) must give the same event the
same id. The id must also not link back to a person: an unkeyed hash of a raw
record (user id, time, item) can be recomputed by anyone who guesses the record.
So ids are HMAC-SHA256 pseudonyms under the pseudonym key, ``e_`` + 32 hex digits
(128 bits: no collision is expected among billions of events):

* An event that came with a client ``event_id`` gets ``pseudonymize(event_id,
  "event")``: a raw client id may itself be personal (``"jane-order-7"``).
* An event without one gets ``pseudonymize(content, "event_content")``, where
  ``content`` is its *canonical, validated* row (the output of
  :func:`~shopintent.schema.validation.validate_events`: timestamps as UTC
  microseconds, event-type aliases resolved, numbers parsed, blanks as nulls)
  plus its occurrence number among identical rows of the same batch. The same
  event spelled differently by a JSON client and a CSV file (``"buy"`` vs
  ``"purchase"``, ``"2017-12-03T10:00:00Z"`` vs ``1512295200``, ``"9.50"`` vs
  ``9.5``) therefore gets one id, a retried batch is a no-op, and two genuine
  identical clicks in one batch are both kept.

The two namespaces keep a client id from ever colliding with a content id.

Example::

    >>> from shopintent.privacy import Pseudonymizer
    >>> from shopintent.schema.validation import validate_events
    >>> p = Pseudonymizer(b"not-a-real-key-only-for-the-docs!")
    >>> rows = [{"user_id": "1", "timestamp": "2017-12-03T10:00:00Z", "event_type": "buy",
    ...          "item_id": "7", "price": "9.50"},
    ...         {"user_id": "1", "timestamp": 1512295200, "event_type": "purchase",
    ...          "item_id": "7", "price": 9.5}]
    >>> ids = keyed_event_ids(validate_events(rows).valid, p, groups=[0, 1])
    >>> ids[0] == ids[1], ids[0][:2], len(ids[0])
    (True, 'e_', 34)
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from shopintent.privacy.pseudonym import Pseudonymizer
from shopintent.schema.validation import EVENT_COLUMNS

#: Hex digits of an event id (after ``e_``).
EVENT_ID_LENGTH = 32
#: Namespace of a client's own event id, and of an id made from an event's content.
CLIENT_ID_NAMESPACE, CONTENT_NAMESPACE = "event", "event_content"
#: The columns an event's content id covers, in a fixed order.
CONTENT_COLUMNS: tuple[str, ...] = tuple(c for c in EVENT_COLUMNS if c != "event_id")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _field(column: pd.Series) -> list[str]:
    """One column as unambiguous text: ``-`` for null, else ``<length>=<value>``.

    The length prefix makes the encoding unambiguous without escaping: no text
    in one field can pass for a field boundary.
    """
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        # Microseconds since the epoch: one spelling per instant, whatever the input said.
        micros = column.dt.tz_convert("UTC").astype("datetime64[us, UTC]").array.asi8.tolist()
        values = [None if gone else str(v) for v, gone in zip(micros, column.isna().tolist(),
                                                               strict=True)]
    elif pd.api.types.is_float_dtype(column.dtype):
        values = [None if v != v else repr(v)  # v != v: NaN
                  for v in column.to_numpy(dtype=float, na_value=np.nan).tolist()]
    elif pd.api.types.is_integer_dtype(column.dtype):
        values = [None if v is None else str(v)
                  for v in column.to_numpy(dtype=object, na_value=None).tolist()]
    else:
        values = [v if v is None or isinstance(v, str) else str(v)
                  for v in column.to_numpy(dtype=object, na_value=None).tolist()]
    return [_cell(v) for v in values]


def _cell(text: str | None) -> str:
    # The length prefix makes the encoding unambiguous without escaping.
    return "-" if text is None else f"{len(text)}={text}"


def _with_occurrence(content: str, occurrence: int) -> str:
    """What a content id is made of: the content and its occurrence among identical rows."""
    return f"{content}|#{occurrence}"


def _value_text(value: object) -> str | None:
    """One canonical value as :func:`_field` spells its column's dtype."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return str((value - _EPOCH) // _MICROSECOND)
    if isinstance(value, float):
        return None if value != value else repr(value)
    return value if isinstance(value, str) else str(value)


def row_content(row: Mapping[str, object]) -> str:
    """:func:`canonical_content` of one canonical row dict (a row of ``validate_rows``)."""
    return "|".join([_cell(_value_text(row[c])) for c in CONTENT_COLUMNS])


def keyed_event_ids_rows(rows: Sequence[Mapping[str, object]], pseudonymizer: Pseudonymizer,
                         groups: Sequence[Hashable] | None = None) -> list[str]:
    """:func:`keyed_event_ids` of canonical row dicts: the same id for the same row and request.

    For a few rows (one request) the ids are computed one by one instead of over a table;
    ``groups`` as in :func:`keyed_event_ids`.
    """
    if groups is not None and len(groups) != len(rows):
        raise ValueError(f"groups has {len(groups)} labels for {len(rows)} rows")
    seen: dict[tuple[Hashable, str], int] = {}
    # What each row's id is made of, by namespace; hashed per namespace in one call each.
    made_of: dict[str, tuple[list[int], list[str]]] = {CLIENT_ID_NAMESPACE: ([], []),
                                                       CONTENT_NAMESPACE: ([], [])}
    for i, row in enumerate(rows):
        given = row["event_id"]
        if given is not None:
            at, texts = made_of[CLIENT_ID_NAMESPACE]
            at.append(i)
            texts.append(str(given))
            continue
        content = row_content(row)
        key = (0 if groups is None else groups[i], content)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        at, texts = made_of[CONTENT_NAMESPACE]
        at.append(i)
        texts.append(_with_occurrence(content, occurrence))
    ids: list[str] = [""] * len(rows)
    for namespace, (at, texts) in made_of.items():
        if texts:
            keyed = pseudonymizer.pseudonymize_many(texts, namespace, length=EVENT_ID_LENGTH)
            for i, event_id in zip(at, keyed, strict=True):
                ids[i] = str(event_id)
    return ids


def canonical_content(frame: pd.DataFrame) -> pd.Series:
    """Each row's :data:`CONTENT_COLUMNS` as one string (the input of its content id)."""
    missing = [c for c in CONTENT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"not a canonical event frame: missing column(s) {missing}; "
                         "run validate_events first")
    fields = [_field(frame[c]) for c in CONTENT_COLUMNS]
    return pd.Series(["|".join(parts) for parts in zip(*fields, strict=True)], index=frame.index,
                     dtype=object)


def keyed_event_ids(frame: pd.DataFrame, pseudonymizer: Pseudonymizer,
              groups: Sequence[int] | np.ndarray | pd.Series | None = None) -> pd.Series:
    """The keyed ``event_id`` of every row of a canonical (validated, not yet protected) frame.

    Rows with an ``event_id`` get its pseudonym; rows without one get the keyed id
    of their content and occurrence. ``groups`` (one label per row) says which rows
    came in the same request, so the occurrence count restarts per request: a row
    must get the same id whether its request was stored alone or in a write group
    with others. Without ``groups`` the whole frame is one batch. Returns a
    ``string`` series with the frame's index.
    """
    if "event_id" not in frame.columns:
        raise ValueError("not a canonical event frame: missing column 'event_id'")
    out = pd.Series(pd.NA, index=frame.index, dtype="string", name="event_id")
    if frame.empty:
        return out
    given = frame["event_id"].notna().to_numpy()
    if given.any():
        out[given] = pseudonymizer.pseudonymize_series(
            frame.loc[given, "event_id"], CLIENT_ID_NAMESPACE, length=EVENT_ID_LENGTH).to_numpy()
    anonymous = ~given
    if anonymous.any():
        if groups is not None and len(groups) != len(frame):
            raise ValueError(f"groups has {len(groups)} labels for {len(frame)} rows")
        rows = frame[anonymous]
        content = canonical_content(rows)
        batch = (pd.Series(np.zeros(len(rows), dtype=np.int64), index=rows.index) if groups is None
                 else pd.Series(np.asarray(groups)[anonymous], index=rows.index))
        occurrence = content.groupby([batch, content], sort=False).cumcount().tolist()
        keyed = pd.Series([_with_occurrence(c, n) for c, n in zip(content.tolist(), occurrence,
                                                                   strict=True)],
                          index=rows.index, dtype=object)
        out[anonymous] = pseudonymizer.pseudonymize_series(
            keyed, CONTENT_NAMESPACE, length=EVENT_ID_LENGTH).to_numpy()
    return out
