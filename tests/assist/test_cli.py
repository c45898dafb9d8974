"""``shopintent assist eval|index|ask`` on a Q&A file the package has never seen, bad rows included."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopintent.assist.datasets import load_amazon_qa
from shopintent.cli.main import app
from shopintent.settings import Settings

runner = CliRunner()


@pytest.fixture(scope="module")
def shop_faq(tmp_path_factory: pytest.TempPathFactory, session_settings: Settings) -> Path:
    """A shop's own FAQ export: 1,500 real Video Games Q&A rows under its own column names, 3 bad rows."""
    table = load_amazon_qa(session_settings, categories=("Video_Games",)).take(range(1500))
    path = tmp_path_factory.mktemp("shop") / "faq.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["sku", "customer_question", "shop_answer"])
        for q, a, p in zip(table.questions, table.answers, table.products, strict=True):
            out.writerow([p, q, a])
        out.writerow(["X1", "", "an answer to nothing"])
        out.writerow(["X2", "a question with no answer", ""])
        out.writerow(["X3", "\x00\x01", "y" * 10_001])
    return path


COLUMNS = ["--question-col", "customer_question", "--answer-col", "shop_answer", "--product-col", "sku"]


def test_eval_prints_the_contract_keys_and_counts_bad_rows(shop_faq: Path, cli_env: Path) -> None:
    result = runner.invoke(app, ["assist", "eval", "--qa", str(shop_faq), *COLUMNS, "--kind", "bm25",
                                 "--seed", "1", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert 0.2 < found["one_of_100_accuracy"] <= found["mrr"] < 1.0
    assert found["candidates"] == 100 and found["split"] == "product-disjoint"
    assert found["rows"] == 1500 and found["bad_rows"] == 3
    assert [b["where"] for b in found["bad_rows_listed"]] == ["row 1502", "row 1503", "row 1504"]
    assert found["train_rows"] + found["test_rows"] == 1500


def test_index_then_ask_answers_with_a_source_row(shop_faq: Path, cli_env: Path) -> None:
    out = cli_env / "faq-index"
    built = runner.invoke(app, ["assist", "index", "--qa", str(shop_faq), *COLUMNS, "--kind", "bm25",
                                "--out", str(out), "--json"])
    assert built.exit_code == 0, built.output
    assert json.loads(built.stdout)["rows"] == 1500
    asked = runner.invoke(app, ["assist", "ask", "does this game support two players?", "--index", str(out),
                                "--k", "2", "--json"])
    assert asked.exit_code == 0, asked.output
    found = json.loads(asked.stdout)
    assert len(found["answers"]) == 2 and found["answers"][0]["source_id"].startswith("row ")
    assert 0.0 <= found["confidence"] <= 1.0


def test_bad_input_exits_2_with_a_message(cli_env: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "faq.csv"
    wrong.write_text("q,a\nhi,hello\n", encoding="utf-8")
    result = runner.invoke(app, ["assist", "eval", "--qa", str(wrong), "--json"])
    assert result.exit_code == 2 and "no `question` column" in " ".join(result.output.split())
    missing = runner.invoke(app, ["assist", "ask", "hi", "--index", str(tmp_path / "nothing")])
    assert missing.exit_code == 2
