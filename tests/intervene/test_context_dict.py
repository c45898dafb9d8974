"""DecisionContext.as_dict: a shallow per-field dict equal to ``dataclasses.asdict``'s answer.

``as_dict`` runs once per decision of every carted session; it no longer deep-copies
(every field is an immutable scalar). The keys, their order and every value must stay
what ``asdict`` plus the ISO timestamp gave, on contexts of real Taobao shoppers.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pytest

from shopintent.datasets import taobao_userbehavior_head
from shopintent.intervene.context import HELP_INTENTS, DecisionContext
from shopintent.settings import Settings


def _reference(context: DecisionContext) -> dict[str, Any]:
    out = asdict(context)
    out["timestamp"] = context.timestamp.isoformat() if context.timestamp else None
    return out


@pytest.fixture(scope="module")
def contexts() -> list[DecisionContext]:
    """Contexts of 300 real Taobao events (shopper, day as session, event time), seeded scores."""
    from tests.conftest import REAL_DATA_DIR

    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    raw = taobao_userbehavior_head.read_raw(Settings(data_dir=REAL_DATA_DIR, allow_download=False))
    rng = random.Random(3)
    intents = [None, "nope", *sorted(HELP_INTENTS)]
    out = []
    for row in raw.head(300).itertuples(index=False):
        when = datetime.fromtimestamp(int(row.timestamp), UTC)
        out.append(DecisionContext(
            user_id=str(row.user_id), session_id=f"{row.user_id}-{when.date()}",
            purchase_probability=rng.random(), abandonment_risk=rng.choice([0, 1, rng.random()]),
            cart_value=rng.choice([0, 0.0, 19.9, 1e6, rng.randrange(500)]),
            intent=rng.choice(intents), segment=rng.choice(["default", "new"]),
            risk_score=rng.random(), timestamp=rng.choice([when, None])))
    return out


def test_as_dict_equals_asdict_keys_order_values_and_types(contexts) -> None:
    for context in contexts:
        mine, reference = context.as_dict(), _reference(context)
        assert list(mine) == list(reference)
        assert json.dumps(mine) == json.dumps(reference)
        assert [type(v) for v in mine.values()] == [type(v) for v in reference.values()]
        assert DecisionContext.from_dict(mine) == context


def test_as_dict_is_a_new_dict_each_time(contexts) -> None:
    first = contexts[0].as_dict()
    first["user_id"] = "changed"
    assert contexts[0].as_dict()["user_id"] == _reference(contexts[0])["user_id"] != "changed"
