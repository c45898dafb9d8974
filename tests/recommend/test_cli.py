"""``shopintent recommend evaluate|train|predict`` on files the commands have never seen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopintent.cli.main import app
from shopintent.datasets import amazon_seqrec

runner = CliRunner()


def _flat(text: str) -> str:
    """Rich wraps long messages; compare with the line breaks taken out."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def beauty_file(session_settings, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """The first 1,200 Beauty users as a plain seqtxt file."""
    source = amazon_seqrec.read_sequences("Beauty", session_settings)[:1200]
    path = tmp_path_factory.mktemp("cli") / "shop.txt"
    path.write_text("".join(f"{s.user_id} {' '.join(s.items)}\n" for s in source))
    return path


def test_evaluate_with_defaults_prints_full_ranking_metrics(beauty_file) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["recommend", "evaluate", "--sequences", str(beauty_file), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] == "sknn" and report["protocol"] == "leave-one-out"
    assert report["sequences"] == 1200 and report["test"]["examples"] == 1200
    for name in ("HR@10", "NDCG@10", "HR@20", "NDCG@20", "MRR@20"):
        assert 0.0 <= report["test"][name] <= 1.0
    assert report["test"]["HR@20"] >= report["test"]["HR@10"] > 0.01
    assert len(report["train_checksum"]) == 64


def test_train_then_predict_round_trip(beauty_file, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "model"
    result = runner.invoke(app, ["recommend", "train", "--sequences", str(beauty_file), "--model", "pop",
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "model.json").read_text())["kind"] == "pop"
    first_line = beauty_file.read_text().splitlines()[0].split()
    history = " ".join(first_line[1:4])
    result = runner.invoke(app, ["recommend", "predict", "--model", str(out), "--history", history,
                                 "--k", "5", "--json"])
    assert result.exit_code == 0, result.output
    recs = json.loads(result.stdout)
    assert len(recs) == 5 and not set(history.split()) & {r["item_id"] for r in recs}


def test_evaluate_reads_an_event_log(taobao_events, tmp_path) -> None:  # type: ignore[no-untyped-def]
    events = taobao_events
    head = events[events["user_id"].isin(events["user_id"].unique()[:150])]
    path = tmp_path / "events.csv"
    head[["user_id", "item_id", "category_id", "event_type", "timestamp"]].to_csv(path, index=False)
    result = runner.invoke(app, ["recommend", "evaluate", "--sequences", str(path), "--format", "events",
                                 "--by", "session", "--model", "content", "--include-seen", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["test"]["exclude_seen"] is False and report["test"]["examples"] > 100


def test_bad_input_is_reported_with_exit_code_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = runner.invoke(app, ["recommend", "evaluate", "--sequences", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "does not exist" in _flat(missing.output)
    short = tmp_path / "short.txt"
    short.write_text("u1 a b\n")
    result = runner.invoke(app, ["recommend", "evaluate", "--sequences", str(short)])
    assert result.exit_code == 2 and "at least 3 items" in _flat(result.output)
    unknown = runner.invoke(app, ["recommend", "evaluate", "--sequences", str(short), "--model", "magic"])
    assert unknown.exit_code == 2 and "'magic' is not one of 'pop', 'sknn'" in _flat(unknown.output)
