"""``shopintent intent train/eval/predict`` on a CSV and a JSONL file it has never seen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopintent.cli.main import app
from shopintent.settings import Settings, get_settings
from shopintent.text import recipes

runner = CliRunner()


@pytest.fixture
def shop_files(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Path]:
    """A shop's own files: Bitext rows + CLINC oos rows, as CSV (train) and JSONL (test), odd column names."""
    monkeypatch.setenv("SHOPINTENT_STATE_DIR", str(session_settings.state_dir))
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(session_settings.data_dir))
    get_settings.cache_clear()
    shop = recipes.shop_intent_splits(session_settings)
    train_csv = tmp_path / "shop_train.csv"
    lines = (
        ["message,category"]
        + [
            f'"{t.replace(chr(34), chr(39))}",{label}'
            for t, label in zip(shop["train"].texts[::10], shop["train"].labels[::10], strict=True)
        ]
        + [",empty_text_row"]
    )
    train_csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    test_jsonl = tmp_path / "shop_test.jsonl"
    test_jsonl.write_text(
        "\n".join(
            json.dumps({"message": t, "category": label}, ensure_ascii=False)
            for t, label in zip(shop["test"].texts[::6], shop["test"].labels[::6], strict=True)
        )
        + "\n",
        encoding="utf-8",
    )
    yield {"train": train_csv, "test": test_jsonl}
    get_settings.cache_clear()


def _evaluate(model_dir: Path, test_file: Path):  # type: ignore[no-untyped-def]
    """``shopintent intent eval --json`` of a model on the shop's JSONL test file."""
    return runner.invoke(
        app,
        [
            "intent",
            "eval",
            "--model",
            str(model_dir),
            "--test",
            str(test_file),
            "--text-col",
            "message",
            "--label-col",
            "category",
            "--json",
        ],
    )


def test_train_eval_predict_on_unseen_files(shop_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "model"
    trained = runner.invoke(
        app,
        [
            "intent",
            "train",
            "--train",
            str(shop_files["train"]),
            "--text-col",
            "message",
            "--label-col",
            "category",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)
    assert summary["classes"] == 29  # 27 intents + product_question + oos
    assert (out / "model.json").is_file()
    # without --C the head's C (and TF-IDF on/off) is chosen on the validation rows, and recorded
    assert summary["C_chosen_on"] == "validation" and summary["tfidf"] in {"on", "off"}
    record = json.loads((out / "model.json").read_text())
    assert record["parameters"]["C"] is None and record["head"]["C"] == summary["C"]
    assert set(record["languages"]["training_rows"]) == {"zh", "en"}

    evaluated = _evaluate(out, shop_files["test"])
    assert evaluated.exit_code == 0, evaluated.output
    scores = json.loads(evaluated.stdout)
    assert scores["in_scope_accuracy"] >= 0.9  # measured 0.97
    assert scores["oos_recall"] >= 0.6  # measured 0.8
    assert {"accuracy", "macro_f1", "ece", "oos_precision"} <= set(scores)

    predicted = runner.invoke(
        app,
        [
            "intent",
            "predict",
            "--model",
            str(out),
            "--json",
            "I want to get a refund",
            "tell me a joke",
        ],
    )
    assert predicted.exit_code == 0, predicted.output
    rows = json.loads(predicted.stdout)
    assert rows[0]["label"] in {"get_refund", "track_refund", "check_refund_policy"}
    assert rows[1]["label"] == "oos"


def test_missing_column_is_reported_with_the_columns_that_exist(
    shop_files: dict[str, Path], tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["intent", "train", "--train", str(shop_files["train"]), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 2
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "no column 'text'" in said and "columns are category, message" in said


def test_fine_tuned_kind_trains_exports_onnx_and_evaluates(
    shop_files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "tuned"
    trained = runner.invoke(
        app,
        [
            "intent",
            "train",
            "--train",
            str(shop_files["train"]),
            "--text-col",
            "message",
            "--label-col",
            "category",
            "--kind",
            "finetune",
            "--epochs",
            "2",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["classes"] == 29
    meta = json.loads((out / "model.json").read_text())
    assert meta["kind"] == "FineTunedClassifier" and meta["onnx"]["fp32_max_abs_diff"] < 1e-3
    assert any((out / name).is_file() for name in ("network.int8.onnx", "network.onnx"))
    evaluated = _evaluate(out, shop_files["test"])
    assert evaluated.exit_code == 0, evaluated.output
    scores = json.loads(evaluated.stdout)
    assert scores["in_scope_accuracy"] >= 0.85
    assert scores["oos_recall"] >= 0.5
    bad = runner.invoke(
        app,
        ["intent", "train", "--train", str(shop_files["train"]), "--kind", "magic", "--out", str(out)],
    )
    assert bad.exit_code == 2 and "'--kind': Value error, 'magic' is not one of 'linear'" in bad.output
