"""Bodies of ``POST /v1/risk/transactions``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: The most transactions one request may carry.
MAX_TRANSACTIONS = 10_000


class TransactionBatch(BaseModel):
    """Payment-like records to score: each an object of the fraud model's features (DMC 2019 fields:
    ``trustLevel``, ``totalScanTimeInSeconds``, ``grandTotal``, …) plus optional ``transaction_id``,
    ``user_id`` and ``session_id`` (pseudonymised before anything is kept). Records stay loosely typed
    here so a malformed one is answered with its reason while the rest are scored."""

    model_config = ConfigDict(extra="forbid")

    transactions: list[Any] = Field(min_length=1, max_length=MAX_TRANSACTIONS)


class TransactionVerdict(BaseModel):
    """One record's answer: its verdict (``scored``) or why it was not scored (``rejected``)."""

    index: int
    status: Literal["scored", "rejected"]
    transaction_id: str | None = Field(None, description="the pseudonym of the record's transaction_id")
    score: float | None = Field(None, description="calibrated fraud probability")
    action: Literal["allow", "review", "hold", "block"] | None = None
    reasons: list[str] = Field(default_factory=list, description="firing rules, then the features that "
                               "raised the score most")
    rules: list[str] = Field(default_factory=list)
    reason: str | None = Field(None, description="why a rejected record was not scored, naming the field")


class TransactionVerdicts(BaseModel):
    """A verdict per record, in the request's order."""

    scored: int
    rejected: int
    held: int
    results: list[TransactionVerdict]
