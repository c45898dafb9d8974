"""Make a canonical event table safe to store: pseudonymous ids, scrubbed queries.

This is the last step before events reach the store: user and session ids are
replaced by keyed pseudonyms (so per-user features and joins still work, but the
raw ids are gone) and search queries lose any personal data typed into them.
"""

from __future__ import annotations

import pandas as pd

from shopintent.log import get_logger
from shopintent.privacy.pseudonym import Pseudonymizer
from shopintent.privacy.scrub import scrub_series

log = get_logger(__name__)

#: Columns rewritten by :func:`protect_events` and the pseudonym namespace of each id.
ID_NAMESPACES: dict[str, str] = {"user_id": "user", "session_id": "session"}
TEXT_COLUMNS: tuple[str, ...] = ("query",)


def protect_events(frame: pd.DataFrame, pseudonymizer: Pseudonymizer) -> pd.DataFrame:
    """A copy of ``frame`` with ids pseudonymised and free text scrubbed.

    ``frame`` is a canonical event table (the ``valid`` frame of
    :func:`~shopintent.schema.validation.validate_events`). ``user_id`` is
    pseudonymised in namespace ``"user"``, ``session_id`` in ``"session"`` and
    ``query`` goes through :func:`~shopintent.privacy.scrub.scrub_series`; nulls
    stay null, every other column, the index and all dtypes are unchanged.

    Not idempotent: protecting a protected table pseudonymises the pseudonyms. Only
    row counts are logged, never ids, text or the key.
    """
    missing = [c for c in (*ID_NAMESPACES, *TEXT_COLUMNS) if c not in frame.columns]
    if missing:
        raise ValueError(f"not a canonical event frame: missing column(s) {missing}; "
                         "run validate_events first")
    for column in (*ID_NAMESPACES, *TEXT_COLUMNS):
        if not (pd.api.types.is_string_dtype(frame[column]) or frame[column].dtype == object):
            raise TypeError(f"column {column!r} must hold text, not {frame[column].dtype}")
    protected = frame.copy()
    for column, namespace in ID_NAMESPACES.items():
        pseudonyms = pseudonymizer.pseudonymize_series(frame[column], namespace=namespace)
        protected[column] = pseudonyms.astype(frame[column].dtype)
    changed = 0
    for column in TEXT_COLUMNS:
        scrubbed = scrub_series(frame[column])
        changed += int((scrubbed != frame[column]).fillna(False).sum())
        protected[column] = scrubbed
    log.debug("events protected", rows=len(protected), texts_scrubbed=changed)
    return protected
