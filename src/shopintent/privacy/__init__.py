"""Privacy before storage: keyed pseudonyms for ids, personal data scrubbed from text.

* :class:`Pseudonymizer` turns user and session ids into stable HMAC pseudonyms
  (the key comes from settings and never leaves the object).
* :func:`find_pii` / :func:`scrub_text` / :func:`scrub_series` find and mask phone
  numbers, e-mails, card numbers, Chinese ID numbers and street addresses.
* :func:`protect_events` applies both to a canonical event table.
"""

from shopintent.privacy.events import protect_events
from shopintent.privacy.pseudonym import Pseudonymizer
from shopintent.privacy.scrub import PiiMatch, find_pii, scrub_series, scrub_text

__all__ = ["PiiMatch", "Pseudonymizer", "find_pii", "protect_events", "scrub_series", "scrub_text"]
