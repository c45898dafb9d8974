"""DP release of real counts: the noise is shown, and the error shrinks as ε grows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopintent.cli.main import app
from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.fairness import dp
from shopintent.privacy import Pseudonymizer
from shopintent.settings import Settings, get_settings
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events


@pytest.fixture(scope="module")
def funnel(session_settings: Settings) -> dict[str, int]:
    return dp.shopper_funnel(taobao.load(session_settings).events)


def test_funnel_release_shows_noise_and_splits_epsilon_across_stages(funnel: dict[str, int]) -> None:
    assert funnel == {"view": 813, "add_to_cart": 601, "purchase": 559}
    release = dp.release_counts("funnel", funnel, 1.0, "sequential")
    table = release.table
    assert list(table["count"]) == ["view", "add_to_cart", "purchase"]
    assert (table["released"] == (table["exact"] + table["noise"]).clip(lower=0)).all()
    assert table["epsilon"].tolist() == pytest.approx([1 / 3] * 3)
    # one shopper moves all three stages: OpenDP certifies scale 3/ε for L1 sensitivity 3
    assert table["scale"].tolist() == pytest.approx([3.0] * 3)
    assert (table["noise"] != 0).any()


def test_release_error_on_real_counts_falls_with_epsilon(funnel: dict[str, int]) -> None:
    errors = [dp.release_error(funnel, eps, "sequential", repeats=100)["mean_abs_error"]
              for eps in dp.EPSILONS]
    assert errors[0] > errors[1] > errors[2]
    # Discrete Laplace noise at ε/3 per stage has mean |noise| = 2e^(-ε/3)/(1-e^(-2ε/3)); at ε=0.1 about 30
    # shoppers. OpenDP's noise is unseeded, so the bounds leave room (300 draws: standard error about 2).
    assert 20 < errors[0] < 45 and errors[2] < 0.5


def test_rates_spend_half_the_budget_on_each_count_and_certify_the_scale() -> None:
    release = dp.release_rates("rates", {"new": 40, "returning": 300}, {"new": 200, "returning": 1500}, 1.0)
    table = release.table
    assert table["exact_rate"].tolist() == pytest.approx([0.2, 0.2])
    assert table["epsilon"].tolist() == pytest.approx([0.5, 0.5])
    assert table["scale"].tolist() == pytest.approx([2.0, 2.0])
    mechanism = dp.count_mechanism(1.0, 2)
    assert mechanism.measurement.map(2) <= 1.0  # the library's own privacy map, not our arithmetic


def test_bad_release_input_is_refused() -> None:
    with pytest.raises(ValueError, match="epsilon must be positive"):
        dp.release_counts("x", {"a": 1}, 0.0, "parallel")
    with pytest.raises(ValueError, match="non-negative integers"):
        dp.release_counts("x", {"a": -3}, 1.0, "parallel")
    with pytest.raises(ValueError, match="group 'b' has a numerator but no denominator"):
        dp.release_rates("x", {"b": 1}, {"a": 2}, 1.0)


def test_store_export_releases_its_own_tables_under_one_budget_without_exact_counts(
        settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    events = taobao.load(settings).events.iloc[:6_000]
    pseudonymizer = Pseudonymizer.from_settings(settings)
    path = tmp_path / "events.duckdb"
    with EventStore(path, key_id=pseudonymizer.key_id) as store:
        ingest_events(store, events, pseudonymizer)
    monkeypatch.setenv("SHOPINTENT_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    runner = CliRunner()
    done = runner.invoke(app, ["audit", "release", "--store", str(path), "--epsilon", "1.5", "--json"])
    missing = runner.invoke(app, ["audit", "release", "--store", str(tmp_path / "none.duckdb")])
    get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    export = json.loads(done.output)
    assert export["epsilon"] == 1.5 and [t["epsilon"] for t in export["tables"]] == pytest.approx([0.5] * 3)
    funnel, sizes, rates = export["tables"]
    # The scales OpenDP certifies at ε/3 = 0.5 per table: L1 sensitivity 3 (funnel), 1 (disjoint sizes), 2 (rates).
    for table, scale in ((funnel, 6.0), (sizes, 2.0), (rates, 4.0)):
        assert [r["scale"] for r in table["rows"]] == pytest.approx([scale] * len(table["rows"])), table["name"]
    assert [r["count"] for r in funnel["rows"]] == ["view", "add_to_cart", "purchase"] and len(sizes["rows"]) == 5
    assert all(0.0 <= r["released_rate"] <= 1.0 for r in rates["rows"])
    keys = {k for t in export["tables"] for r in t["rows"] for k in r}
    assert not keys & {"exact", "exact_rate", "noise", "numerator_noise", "denominator_noise"}  # nothing exact leaves
    assert missing.exit_code == 2 and "no event store" in missing.output
