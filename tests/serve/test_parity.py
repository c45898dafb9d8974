"""Live scores equal offline scores: the service's features are the training features.

Real Taobao shoppers: their events before the held-out day (2017-12-03 China
time) go into a DuckDB store through the ingest path the CLI uses; the service
starts on that store and the held-out day is posted over HTTP one event at a
time, with a restart half way through. After every event the session is read
back (``GET /v1/sessions/{id}``) and, for every third event, a decision is
asked for. Each live score must equal, to 1e-6, the default models' prediction
on the offline training row of the same prefix
(:func:`shopintent.behaviour.examples.build_prefix_table`, which knows the
shopper's earlier sessions) — for purchase, abandonment and each next action,
and for the purchase probability and abandonment risk the decision engine saw.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from shopintent.behaviour import load_default_models
from shopintent.behaviour.default import TAOBAO_UTC_OFFSET_HOURS
from shopintent.behaviour.examples import build_prefix_table
from shopintent.behaviour.features import ACTIONS, FEATURE_NAMES
from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.privacy import Pseudonymizer
from shopintent.settings import Settings
from shopintent.store import EventStore, sessionise_frame
from shopintent.store.ingest import ingest_events
from tests.serve.conftest import AUTH, make_client, wait_ready

HELD_OUT_START = pd.Timestamp("2017-12-02T16:00:00Z")  # 2017-12-03 00:00 China time
N_SHOPPERS = 24
TOLERANCE = 1e-6


def _shoppers(events: pd.DataFrame) -> pd.DataFrame:
    """All events of a seeded sample of shoppers active on the held-out day who also shopped before."""
    held_out = set(events.loc[events["timestamp"] >= HELD_OUT_START, "user_id"])
    before = set(events.loc[events["timestamp"] < HELD_OUT_START, "user_id"])
    candidates = sorted(held_out & before)
    chosen = set(np.random.default_rng(0).choice(candidates, size=N_SHOPPERS, replace=False))
    return events[events["user_id"].isin(chosen)].reset_index(drop=True)


def _offline_scores(events: pd.DataFrame, models: dict) -> dict[tuple[str, int, float], dict]:  # type: ignore[type-arg]
    """Offline predictions on the training rows of every held-out prefix, by (user, k, time)."""
    sessions = sessionise_frame(events)
    held = set(sessions.loc[sessions["timestamp"] >= HELD_OUT_START, "session_id"])
    table = build_prefix_table(sessions, max_k=10_000, utc_offset_hours=TAOBAO_UTC_OFFSET_HOURS,
                               sessions=held).frame
    X = table[list(FEATURE_NAMES)].to_numpy(dtype=float)
    predicted = {"purchase": models["purchase"].boosters_["y_purchase"].predict(X),
                 "abandon": models["abandon"].boosters_["y_abandon"].predict(X)}
    for action in ACTIONS:
        predicted[f"next_{action}"] = models["next-action"].boosters_[f"y_next_{action}"].predict(X)
    out = {}
    for i, row in enumerate(table.itertuples(index=False)):
        out[(str(row.user_id), int(row.k), float(row.ts))] = {
            "purchase": None if row.n_purchase > 0 else float(predicted["purchase"][i]),
            "abandon": float(predicted["abandon"][i]) if row.n_add_to_cart > 0 else None,
            "next": {a: float(predicted[f"next_{a}"][i]) for a in ACTIONS},
            "prior_sessions": float(row.prior_sessions),
        }
    return out


def _close(live: float | None, offline: float | None) -> bool:
    if live is None or offline is None:
        return live is None and offline is None
    return math.isclose(live, offline, rel_tol=0.0, abs_tol=TOLERANCE)


@pytest.mark.timeout(600)
def test_live_scores_equal_offline_scores_through_http_and_a_restart(model_settings: Settings,
                                                                        tmp_path) -> None:  # type: ignore[no-untyped-def]
    events = _shoppers(taobao.load(model_settings).events)
    models = load_default_models(model_settings)
    expected = _offline_scores(events, models)

    store_path = tmp_path / "events.duckdb"
    past = events[events["timestamp"] < HELD_OUT_START]
    with EventStore(store_path) as store:
        report = ingest_events(store, past, Pseudonymizer.from_settings(model_settings))
    assert report.appended == len(past)

    day = events[events["timestamp"] >= HELD_OUT_START].sort_values("timestamp", kind="stable")
    records = []
    for row in day.itertuples(index=False):
        records.append({"user_id": str(row.user_id), "timestamp": row.timestamp.isoformat(),
                        "event_type": str(row.event_type), "item_id": str(row.item_id),
                        "category_id": str(row.category_id)})
    halves = (records[: len(records) // 2], records[len(records) // 2:])

    checked = decisions_checked = with_history = 0
    for half in halves:  # the service restarts between the halves (in-process state is lost)
        with make_client(model_settings, store_path=str(store_path), load_models=True,
                         auto_decide="off") as client:
            wait_ready(client, ("behaviour", "intervene"))
            for n, record in enumerate(half):
                body = client.post("/v1/events", json=record, headers=AUTH).json()
                assert body["stored"] == 1, body
                sid = body["results"][0]["session_id"]
                ts = pd.Timestamp(record["timestamp"]).timestamp()
                got = client.get(f"/v1/sessions/{sid}", headers=AUTH).json()["scores"]
                # k counts the session's events before the held-out day (and the restart) too.
                key = (record["user_id"], got["k"], ts)
                assert key in expected, f"live prefix {key} is not an offline prefix"
                want = expected[key]
                assert got["history"] == "shopper"
                assert _close(got["purchase_probability"], want["purchase"]), (record, got, want)
                assert _close(got["abandonment_risk"], want["abandon"]), (record, got, want)
                for action in ACTIONS:
                    assert _close(got["next_action"][action], want["next"][action]), (action, got, want)
                checked += 1
                with_history += want["prior_sessions"] > 0
                if n % 3 == 0:
                    decision = client.post("/v1/decisions", json={"session_id": sid},
                                           headers=AUTH).json()
                    context = decision["context"]
                    purchase = 1.0 if want["purchase"] is None else want["purchase"]
                    abandon = 0.0 if want["abandon"] is None else want["abandon"]
                    assert _close(context["purchase_probability"], purchase), (context, want)
                    assert _close(context["abandonment_risk"], abandon), (context, want)
                    decisions_checked += 1
    assert checked == len(records) and decisions_checked > len(records) // 4
    # The check means something only if history features are live: most prefixes have them.
    assert with_history > checked // 2
