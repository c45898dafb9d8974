"""The shopintent command line, driven as a user would, on the real data."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopintent.cli.main import app
from shopintent.settings import get_settings
from tests.conftest import REAL_DATA_DIR

runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("datasets", "store", "bench", "demo", "version"):
        assert command in result.output
    sub = runner.invoke(app, ["store", "--help"])
    for command in ("ingest", "summary", "sessions", "export", "import"):
        assert command in sub.output


def test_datasets_list_json_shows_all_17_present(cli_env: Path) -> None:
    result = runner.invoke(app, ["datasets", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 17
    assert all(row["present"] for row in rows)
    taobao = next(r for r in rows if r["name"] == "taobao_userbehavior_head")
    assert taobao["rows"] == 84_474


def test_datasets_verify_fails_with_exit_1_on_a_corrupted_file(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = cli_env / "data"
    shutil.copytree(REAL_DATA_DIR / "smp2019_zh_intent", data / "smp2019_zh_intent")
    labels = data / "smp2019_zh_intent" / "intent_labels.txt"
    labels.chmod(0o644)
    labels.write_text(labels.read_text() + "EXTRA\n")
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(data))
    get_settings.cache_clear()

    result = runner.invoke(app, ["datasets", "verify", "smp2019_zh_intent", "--json"])
    assert result.exit_code == 1
    check = json.loads(result.output)["datasets"][0]
    assert check["ok"] is False
    assert any("intent_labels.txt: SHA-256" in error for error in check["errors"])


def test_datasets_verify_names_the_missing_file_and_where_to_put_it(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(cli_env / "empty"))
    get_settings.cache_clear()
    result = runner.invoke(app, ["datasets", "verify", "cdnow", "--json"])
    assert result.exit_code == 1
    errors = json.loads(result.output)["datasets"][0]["errors"]
    assert any("CDNOW_master.txt: missing (expected at" in e and str(cli_env / "empty") in e for e in errors)


def test_store_ingest_keeps_good_rows_and_names_bad_ones(cli_env: Path) -> None:
    events = cli_env / "events.csv"
    events.write_text(
        "user_id,item_id,event_type,timestamp,price\n"
        "alice,sku1,view,2024-05-01T10:00:00Z,\n"
        ",sku1,view,2024-05-01T10:01:00Z,\n"
        "alice,sku1,teleport,2024-05-01T10:02:00Z,\n"
        "alice,sku1,purchase,2024-05-01T10:03:00Z,abc\n"
        "alice,sku1,purchase,garbage,9.99\n"
        "alice,sku1,add_to_cart,2024-05-01T10:04:00Z,9.99\n"
        "alice,sku1,purchase,2024-05-01T10:05:00Z,9.99\n"
    )
    result = runner.invoke(app, ["store", "ingest", str(events), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["input"] == 7
    assert report["accepted"] == 3
    assert report["appended"] == 3
    assert report["rejected"] == 4
    assert report["reasons"] == [
        "row 2: `user_id` '' is missing",
        "row 3: `event_type` 'teleport' is not an event type "
        "(view, search, add_to_cart, remove_from_cart, favourite, purchase)",
        "row 4: `price` 'abc' is not a number",
        "row 5: `timestamp` 'garbage' is not a date (ISO-8601 or unix seconds)",
    ]

    summary = json.loads(runner.invoke(app, ["store", "summary", "--json"]).output)
    assert summary["events"] == 3
    assert summary["sessions"] == 1
    assert summary["users"] == 1


def test_store_ingest_of_an_unknown_format_exits_2_with_a_reason(cli_env: Path) -> None:
    path = cli_env / "events.xlsx"
    path.write_text("x")
    result = runner.invoke(app, ["store", "ingest", str(path)])
    assert result.exit_code == 2
    assert "unknown format '.xlsx'" in result.output


def test_bench_of_an_unknown_area_exits_2_and_lists_the_areas(cli_env: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["bench", "nonsense", "--results-dir", str(tmp_path / "r"), "--markdown", str(tmp_path / "B.md")]
    )
    assert result.exit_code == 2
    assert "'nonsense' is not one of 'all', 'store'" in result.output
    assert not (tmp_path / "r").exists()


# -- user text and errors are printed as plain text, never as rich markup ---------------------

MARKUP = "x[/]"


def test_datasets_verify_of_a_name_with_markup_exits_2_naming_it(cli_env: Path) -> None:
    result = runner.invoke(app, ["datasets", "verify", MARKUP])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "'x[/]' is not one of 'amazon_alexa_reviews'" in result.output


def test_store_ingest_of_a_missing_file_with_markup_in_its_name_exits_2_naming_it(
    cli_env: Path,
) -> None:
    result = runner.invoke(app, ["store", "ingest", "x[/]y.csv"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.output.strip() == "event file x[/]y.csv does not exist"


def test_store_ingest_prints_rejected_values_with_markup_as_typed(cli_env: Path) -> None:
    events = cli_env / "events.csv"
    events.write_text(
        "user_id,item_id,event_type,timestamp\n"
        "alice,sku1,view,2024-05-01T10:00:00Z\n"
        "alice,sku1,[red]teleport[/red],2024-05-01T10:02:00Z\n"
    )
    result = runner.invoke(app, ["store", "ingest", str(events)])
    assert result.exit_code == 0, result.output
    assert "2 rows read: 1 accepted" in result.output
    assert "row 2: `event_type` '[red]teleport[/red]' is not an event type" in result.output


def test_intent_parse_prints_shopper_text_with_markup_as_typed(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shopintent.datasets import bitext_customer_service
    from shopintent.text import IntentClassifier, Parser

    # A real (TF-IDF only, so fast) intent model on Bitext rows instead of the default models,
    # which take minutes to train on first use.
    frame = bitext_customer_service.load(get_settings()).frame()
    train = frame[frame["split"] == "train"].groupby("intent").head(20)
    model = IntentClassifier(encoders=(), random_state=0).fit(train["text"].tolist(),
                                                              train["intent"].tolist())
    parser = Parser(intent_model=model)
    parse_module = importlib.import_module("shopintent.text.parse")  # `text.parse` is also a function
    monkeypatch.setattr(parse_module, "load_default_parser", lambda *_a, **_k: parser)

    texts = [MARKUP, "[bold]cancel my order[/bold]", "refund [/] please"]
    result = runner.invoke(app, ["intent", "parse", *texts])
    assert result.exit_code == 0, result.output
    starts = [line.split("  lang=")[0] for line in result.output.splitlines() if "  lang=" in line]
    assert starts == texts
    assert "[bold]cancel my order[/bold]  lang=en intent=cancel_order" in result.output
