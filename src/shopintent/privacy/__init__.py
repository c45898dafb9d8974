"""Privacy before storage: keyed pseudonyms for ids, personal data scrubbed from text.

* :class:`Pseudonymizer` turns user, session and event ids into stable HMAC
  pseudonyms (the key comes from settings and never leaves the object; its
  :attr:`~Pseudonymizer.key_id` names it without revealing it).
* :mod:`~shopintent.privacy.keys` keeps the key: minimum length, a key file
  created exclusively with mode 0600, :func:`key_id`.
* :func:`keyed_event_ids` gives every event one keyed id, whichever path it came by.
* :func:`find_pii` / :func:`scrub_text` / :func:`scrub_series` find and mask
  personal data in text.
* :func:`protect_events` applies all of it to a canonical event table;
  :func:`scrub_text_columns` re-scrubs rows that were protected before.
"""

from shopintent.privacy.event_ids import EVENT_ID_LENGTH, keyed_event_ids
from shopintent.privacy.events import TEXT_COLUMNS, protect_events, scrub_text_columns
from shopintent.privacy.keys import MIN_KEY_BYTES, PseudonymKeyError, key_id
from shopintent.privacy.pseudonym import Pseudonymizer
from shopintent.privacy.scrub import PiiMatch, find_pii, scrub_series, scrub_text

__all__ = [
    "EVENT_ID_LENGTH",
    "MIN_KEY_BYTES",
    "TEXT_COLUMNS",
    "PiiMatch",
    "PseudonymKeyError",
    "Pseudonymizer",
    "keyed_event_ids",
    "find_pii",
    "key_id",
    "protect_events",
    "scrub_series",
    "scrub_text",
    "scrub_text_columns",
]
