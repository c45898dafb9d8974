"""The understanding-only partial update of the multimodal record labels what was re-run and what was kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from benchmarks.multimodal_understanding import _is_understanding_row, record_trials, update_results

RECORD = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "multimodal.json"


def test_partial_update_replaces_only_the_understanding_rows_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "multimodal.json"
    shutil.copy(RECORD, path)
    full = json.loads(path.read_text(encoding="utf-8"))
    rerun = [m for m in full["measurements"] if _is_understanding_row(m["name"])]
    others = [m for m in full["measurements"] if not _is_understanding_row(m["name"])]
    full_run = full.get("full_run_created_at", full["created_at"])  # the committed record may be updated already
    assert {m["name"] for m in rerun} >= {"articleType image accuracy", "baseColour late_fusion_weighted macro-f1",
                                          "fine-tune best epoch (validation articleType accuracy)"}
    assert any(m["name"].startswith("text->image") for m in others)  # search rows are not the understanding part
    new_rows = [{**m, "value": 0.5} for m in rerun]
    record = {"measurements": new_rows, "parameters": {"finetune_best_epoch": 7}, "created_at": "2026-12-02T21:00:00",
              "cpu_seconds": 1.0, "wall_seconds": 2.0}
    for _ in range(2):  # applying it again keeps one label per row
        update_results(path, record)
    updated = json.loads(path.read_text(encoding="utf-8"))
    by_name = {m["name"]: m for m in updated["measurements"]}
    assert len(updated["measurements"]) == len(full["measurements"])
    assert all(by_name[m["name"]]["value"] == 0.5 for m in rerun)
    kept = by_name["text->image title recall@10"]
    assert kept["detail"].count("[kept from the full run of " + full_run) == 1
    assert updated["notes"].startswith("PARTIAL UPDATE") and updated["notes"].count("PARTIAL UPDATE") == 1
    assert updated["parameters"]["finetune_best_epoch"] == 7 and "partial_update" in updated["parameters"]
    assert updated["full_run_created_at"] == full_run and full_run in updated["command"]


def test_recording_trials_adds_them_once_and_rescores_nothing(tmp_path: Path) -> None:
    path = tmp_path / "multimodal.json"
    shutil.copy(RECORD, path)
    full = json.loads(path.read_text(encoding="utf-8"))
    before = full["parameters"].get("finetune_recipe_trials", [])
    trial = {"recipe": {"train_from": 11, "max_epochs": 15}, "created_at": "2026-12-03T10:50:00+00:00",
             "valid_history": [0.73, 0.84], "best_epoch": 2}
    for _ in range(2):  # a second call finds the trial already recorded
        record_trials(path, [trial, *before[:1]])
    updated = json.loads(path.read_text(encoding="utf-8"))
    assert updated["parameters"]["finetune_recipe_trials"] == [*before, trial]
    assert updated["measurements"] == full["measurements"] and updated["notes"] == full["notes"]
    assert updated["command"] == full["command"] and updated["created_at"] == full["created_at"]
