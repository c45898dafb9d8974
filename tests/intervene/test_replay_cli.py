"""Replay over the real Taobao events and the `shopintent intervene` commands."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from shopintent.cli.main import app
from shopintent.datasets import taobao_userbehavior_head
from shopintent.intervene import CapConfig, DecisionEngine, read_decisions, to_feedback, DEFAULT_ACTIONS
from shopintent.intervene.replay import replay_events


@pytest.fixture(scope="module")
def taobao_head(session_settings) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    events = taobao_userbehavior_head.load(session_settings).events
    first_users = events["user_id"].drop_duplicates().head(150)
    return events[events["user_id"].isin(first_users)]


def test_replay_respects_budget_and_caps_and_logs_outcomes(taobao_head, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = DecisionEngine(caps=CapConfig(daily_budget=100.0, max_per_session=1, max_per_user_per_day=2),
                            log_path=tmp_path / "replay.jsonl", random_state=0)
    report = replay_events(taobao_head, engine)
    engine.close()
    assert report.n_events == len(taobao_head)
    assert report.n_decisions > 500
    assert all(amount <= 100.0 + 1e-9 for amount in report.spent.values())
    assert report.caps_hit.get("cap_session", 0) > 0
    frame = read_decisions(tmp_path / "replay.jsonl")
    assert len(frame) == report.n_decisions
    assert ((frame["propensity"] > 0) & (frame["propensity"] <= 1)).all()
    acted = frame[frame["action"] != "nothing"]
    assert acted.groupby("session_id").size().max() <= 1
    assert acted.assign(day=acted["timestamp"].dt.date).groupby(["day", "user_id"]).size().max() <= 2
    # Outcomes are joined by id: decisions followed by a purchase carry reward 1+.
    assert (frame["reward"] > 0).sum() == report.decisions_followed_by_purchase > 0
    # Decisions are in time order, as replayed.
    assert frame["timestamp"].is_monotonic_increasing
    feedback = to_feedback(frame, DEFAULT_ACTIONS)
    assert feedback.n_rounds == len(frame)


def test_cli_ope_prints_every_estimator_as_json(session_settings) -> None:  # type: ignore[no-untyped-def]
    base = session_settings.data_dir / "obd_sample"
    result = CliRunner().invoke(app, ["intervene", "ope", "--logs", str(base / "random/men/men.csv"),
                                      "--target-logs", str(base / "bts/men/men.csv"),
                                      "--bootstrap", "50", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    names = [e["estimator"] for e in out["estimators"]]
    assert names == ["dm", "ips", "snips", "dr", "switch_dr", "clipped_ips"]
    assert out["target_on_policy"]["value"] == pytest.approx(0.0069)
    ips = out["estimators"][1]
    assert ips["ci_low"] < ips["estimate"] < ips["ci_high"] and "relative_error" in ips


def test_cli_ope_names_a_missing_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["intervene", "ope", "--logs", str(tmp_path / "nope.csv"),
                                      "--target-logs", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "nope.csv" in result.output
