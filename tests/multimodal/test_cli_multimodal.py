"""``shopintent multimodal eval|index|search`` on a folder of real photos it has never seen, with bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopintent.cli.main import app
from shopintent.settings import get_settings
from tests.multimodal.conftest import ROUND_TRIP_STEPS

runner = CliRunner()


@pytest.fixture
def env(mm_state: Path, session_settings, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(session_settings.data_dir))
    monkeypatch.setenv("SHOPINTENT_STATE_DIR", str(mm_state))
    monkeypatch.setenv("SHOPINTENT_PSEUDONYM_KEY", "cli-test-key-not-secret-32-bytes!")
    monkeypatch.setenv("SHOPINTENT_MULTIMODAL_MIN_STEPS", str(ROUND_TRIP_STEPS))
    get_settings.cache_clear()
    yield mm_state
    get_settings.cache_clear()


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_eval_on_an_unseen_folder_names_every_bad_file_and_scores_the_rest(small_catalogue: Path, env: Path) -> None:
    out = _json(["multimodal", "eval", "--images", str(small_catalogue / "images"),
                 "--labels", str(small_catalogue / "labels.csv"), "--id-col", "sku", "--label-col", "kind",
                 "--title-col", "name", "--seed", "1", "--json"])
    assert out["products"] == 44 and out["test_products"] == 9 and out["classes"] == 2
    skipped = {Path(s["file"]).name: s["error"] for s in out["skipped"]}
    assert set(skipped) == {"broken.jpg", "huge.png", "orphan-without-row.jpg"}
    assert "not an image file" in skipped["broken.jpg"]
    assert "8000x8000" in skipped["huge.png"]
    assert "no row with sku='orphan-without-row'" in skipped["orphan-without-row.jpg"]
    # T-shirts vs casual shoes: trivially told apart by photo and by title
    assert out["image_accuracy"] == 1.0 and out["text_accuracy"] == 1.0 and out["fused_accuracy"] == 1.0
    assert 0.0 < out["text_to_image_recall_at_10"] <= 1.0 and out["gallery"] == 9


def test_index_then_search_finds_a_product_by_its_title_and_answers_chinese(small_catalogue: Path,
                                                                             env: Path) -> None:
    out = _json(["multimodal", "index", "--images", str(small_catalogue / "images"),
                 "--labels", str(small_catalogue / "labels.csv"), "--id-col", "sku", "--title-col", "name",
                 "--label-col", "kind", "--label-col", "colour", "--json"])
    assert out["products"] == 44 and out["attributes"] == ["colour", "kind"] and len(out["skipped"]) == 3
    rows = (small_catalogue / "labels.csv").read_text(encoding="utf-8").splitlines()
    sku, title = rows[30].split(",")[:2]  # a casual shoe
    hits = _json(["multimodal", "search", title, "--k", "5", "--json"])["results"]
    assert sku in [h["id"] for h in hits]
    zh = _json(["multimodal", "search", "男士休闲鞋", "--k", "5", "--json"])["results"]
    assert len(zh) == 5 and all(a["score"] >= b["score"] for a, b in zip(zh, zh[1:], strict=False))


def test_eval_names_a_missing_column(small_catalogue: Path, env: Path) -> None:
    result = runner.invoke(app, ["multimodal", "eval", "--images", str(small_catalogue / "images"),
                                 "--labels", str(small_catalogue / "labels.csv"), "--id-col", "sku",
                                 "--label-col", "articleType", "--title-col", "name", "--json"])
    assert result.exit_code == 2
    assert "no column 'articleType'" in " ".join(result.output.split())
