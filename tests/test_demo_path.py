"""The demo path on an empty state folder: `models prepare` trains, the service only loads.

The long test runs what ``make demo`` runs after the data check: ``shopintent
models prepare --fast-only`` as its own process on real data into an empty
state folder, then ``shopintent serve`` as a real process, and asserts every
model loads (``/readyz``) and ``POST /v1/intent`` understands "where is my
order". The others pin the rule behind it: the service never trains (a missing
model is a 503 saying what to run), and a changed model folder is swapped in
while the old model keeps answering.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.support import ServiceProcess
from shopintent.serve import ServeConfig
from shopintent.serve.adapters.base import ModelSlot
from shopintent.settings import Settings
from tests.conftest import REAL_DATA_DIR, cli_process_env, copy_state, run_cli
from tests.serve.conftest import API_KEY, AUTH, make_client

SERVICE_MODELS = ("intervene", "risk", "behaviour", "recommend", "text")


# ``prepared_state`` (tests/conftest.py): an empty state folder after one real
# `shopintent models prepare --fast-only` run per session; other tests reuse the models it trained.


def ready_text_labels(settings: Settings) -> list[str]:
    """The classes of the shop-intent model `models prepare` saved."""
    meta = json.loads((settings.state_dir / "text" / "models" / "shop_intent" / "model.json").read_text())
    return [str(c) for c in meta["classes"]]


def test_prepare_fast_only_trains_what_the_service_needs_on_an_empty_folder(
        prepared_state: tuple[Settings, dict]) -> None:  # type: ignore[type-arg]
    settings, report = prepared_state
    outcomes = {r["name"]: r["outcome"] for r in report["prepared"]}
    assert outcomes == {"behaviour": "trained", "recommend": "trained",
                        "intervene": "nothing to train", "shop_intent": "trained", "risk": "trained"}
    assert report["background"] is None
    # each training's duration is kept for the next run's estimate
    times = json.loads((settings.state_dir / "models-prepare.json").read_text())
    assert set(times) == {"behaviour", "recommend", "shop_intent", "risk"}
    assert all(0 < t["seconds"] <= report["wall_s"] for t in times.values())

    status = json.loads(run_cli(settings.state_dir, "models", "status", "--json").stdout)
    states = {m["name"]: (m["state"], m["kind"]) for m in status["models"]}
    assert states["shop_intent"] == ("present", "linear")
    assert states["behaviour"] == ("present", "LightGBM")
    assert states["recommend"] == ("present", "hybrid")
    assert states["intervene"] == ("built in", "prior")
    assert states["risk"] == ("present", "Isolation Forest")
    assert states["sentiment"][0] == states["shop_intent_finetuned"][0] == "missing"
    shop = next(m for m in status["models"] if m["name"] == "shop_intent")
    assert shop["score"].startswith("acc. 0.9")  # validation accuracy of the linear default (0.9569)

    again = run_cli(settings.state_dir, "models", "prepare", "--fast-only", "--json")
    assert {r["outcome"] for r in json.loads(again.stdout)["prepared"]} == {"cached", "nothing to train"}


def test_service_after_prepare_loads_every_model_and_answers_an_intent(
        prepared_state: tuple[Settings, dict], tmp_path: Path) -> None:  # type: ignore[type-arg]
    shared, _ = prepared_state
    copy_state(shared, tmp_path / "state")  # the test promotes a model: not in the shared folder
    settings = Settings(data_dir=shared.data_dir, state_dir=tmp_path / "state", allow_download=False,
                        pseudonym_key="test-key-not-secret-32-bytes-long!!")
    service = ServiceProcess(settings, tmp_path / "events.duckdb", API_KEY,
                             log_path=tmp_path / "serve.log")
    service.start(ready="/readyz", timeout_s=180, wait_models=SERVICE_MODELS)
    try:
        ready = httpx.get(service.url + "/readyz", timeout=5).json()
        assert ready["status"] == "ready" and ready["waiting_for"] == []
        assert ready["models"]["text"]["version"].startswith("linear (USE + TF-IDF), validation")
        labels = set(ready_text_labels(settings))
        answer = httpx.post(service.url + "/v1/intent", json={"text": "where is my order"},
                            headers=AUTH, timeout=30)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        # the everyday phrasing the old template-only default called oos (issue 12)
        assert body["language"] == "en" and body["intent"] == "track_order"
        assert "product_question" in labels and 0.5 < body["confidence"] <= 1.0
        tracked = httpx.post(service.url + "/v1/intent", json={"text": "I want to track my order"},
                             headers=AUTH, timeout=30).json()
        assert tracked["intent"] == "track_order" and tracked["confidence"] > 0.9
        # A better-scoring candidate is promoted while the service runs: the service swaps it in.
        # (The real candidate is the fine-tuned model, minutes to train; this one is the linear
        # model saved again with a higher recorded validation accuracy, to exercise the path.)
        from shopintent.text import defaults
        from shopintent.text.intent import IntentClassifier

        candidate = IntentClassifier.load(defaults.model_path(settings, "shop_intent"))
        candidate.metrics_ = {**candidate.metrics_, "validation_accuracy": 0.99991,
                              "validation_accuracy_by_language": {"zh": 0.99991, "en": 0.99991}}
        candidate.save(defaults.candidate_path(settings))
        assert defaults.promote_if_better(settings)
        deadline = time.monotonic() + 60
        while "0.9999" not in httpx.get(service.url + "/readyz", timeout=5).json()["models"]["text"][
                "version"]:
            assert time.monotonic() < deadline, "the promoted model was not swapped in"
            time.sleep(0.5)
        assert httpx.post(service.url + "/v1/intent", json={"text": "I want to track my order"},
                          headers=AUTH, timeout=30).json()["intent"] == "track_order"

        # Ctrl-C: uvicorn shuts down without waiting on the model loader thread
        assert service.process is not None
        stopping = time.perf_counter()
        service.process.send_signal(signal.SIGINT)
        returncode = service.process.wait(timeout=20)
        assert time.perf_counter() - stopping < 15
    finally:
        service.stop()
    assert returncode in (0, 130, -signal.SIGINT)  # uvicorn re-raises the signal it handled
    log = (tmp_path / "serve.log").read_text()
    assert "terminate called" not in log and "Traceback" not in log
    assert "training" not in log.lower()


def test_service_on_an_empty_folder_trains_nothing_and_says_what_to_run(settings: Settings) -> None:
    with make_client(settings, load_models=True) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        deadline = time.monotonic() + 60
        while not all(service.models[m].state == "unavailable"
                      for m in ("behaviour", "recommend", "text")):
            assert time.monotonic() < deadline, {m: s.status() for m, s in service.models.items()}
            time.sleep(0.05)
        response = client.post("/v1/intent", json={"text": "where is my order"}, headers=AUTH)
        assert response.status_code == 503
        assert "run `shopintent models prepare`" in response.json()["detail"]
        assert str(settings.state_dir) not in response.text
        assert client.get("/readyz").status_code == 503
        assert service.models["intervene"].ready  # the prior policy needs no files
    # nothing was trained or saved: no model folder exists
    assert not (settings.state_dir / "behaviour").exists()
    assert not (settings.state_dir / "recommend").exists()
    assert not (settings.state_dir / "text" / "models").exists()


def test_training_in_the_service_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shopintent models prepare"):
        ServeConfig(train_missing=True)
    refused = run_cli(tmp_path / "state", "serve", "--train-missing", "--port", "1")
    assert refused.returncode == 2 and "shopintent models prepare" in refused.stderr


def test_a_changed_model_folder_is_swapped_in_and_a_broken_one_keeps_the_old_model() -> None:
    files = {"version": 1}
    loads: list[int] = []

    def load() -> tuple[str, dict[str, object]]:
        if files["version"] == 3:
            raise ValueError("manifest.json: listed but missing")  # caught mid-copy
        loads.append(files["version"])
        return f"model v{files['version']}", {"version": str(files["version"])}

    slot = ModelSlot("text", load, watch=lambda: files["version"])
    assert slot.load() and slot.get() == "model v1"
    assert not slot.reload_if_changed()  # nothing changed: no reload
    files["version"] = 2
    assert slot.changed() and slot.reload_if_changed()
    assert slot.get() == "model v2" and slot.card["version"] == "2"
    files["version"] = 3
    assert not slot.reload_if_changed()
    assert slot.get() == "model v2"  # the broken files did not replace the working model
    assert not slot.changed()  # and are not retried until they change again
    assert loads == [1, 2]


def test_a_slot_whose_files_are_not_prepared_never_calls_its_loader() -> None:
    prepared_files: list[str] = []
    calls: list[int] = []
    slot = ModelSlot("behaviour", lambda: (calls.append(1), ("model", {"version": "1"}))[1],
                     requires=lambda: None if prepared_files else "not prepared: run it")
    assert not slot.load()
    assert slot.status() == {"name": "behaviour", "ready": False, "reason": "not prepared: run it"}
    assert calls == [] and slot.state == "unavailable"
    prepared_files.append("manifest.json")
    assert slot.load() and calls == [1] and slot.get() == "model"


def test_ctrl_c_while_preparing_exits_130_with_a_message(tmp_path: Path) -> None:
    """SIGINT (what Ctrl-C sends) mid-preparation: a clean exit, no C++ abort, nothing half-saved."""
    state = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "shopintent.cli.main", "models", "prepare", "--only", "behaviour"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_process_env(state))
    assert process.stdout is not None
    for line in process.stdout:  # without a terminal, each model's start is a plain line
        if line.startswith("behaviour: preparing"):
            break
    time.sleep(3.0)  # inside the training run (loading the events, sessions, LightGBM)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err[-2000:]
    assert "interrupted while preparing behaviour" in err
    assert "terminate called" not in err and "Traceback" not in err
    assert not any((state / "behaviour" / "default").glob("*/manifest.json"))


def test_ctrl_c_inside_a_duckdb_query_is_still_an_interrupt(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB turns SIGINT into ``RuntimeError: Query interrupted``: still exit 130 and the message
    (the first CI run of the test above met this when the signal landed in the store's insert)."""
    import threading

    import duckdb
    from typer.testing import CliRunner

    from shopintent.cli.main import app
    from shopintent.prepare import runner

    def a_long_query(settings: Settings, name: str) -> None:
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        duckdb.connect().execute("SELECT count(*) FROM range(10000000000) a").fetchall()

    monkeypatch.setattr(runner, "prepare_one", a_long_query)
    monkeypatch.setenv("SHOPINTENT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(REAL_DATA_DIR))
    handler_before = signal.getsignal(signal.SIGINT)  # Python's, or Spark's after a Spark test
    result = CliRunner().invoke(app, ["models", "prepare", "--only", "behaviour"])
    assert result.exit_code == 130, result.output
    assert "interrupted while preparing behaviour" in result.output
    assert signal.getsignal(signal.SIGINT) is handler_before  # handler given back


REPO_ROOT = Path(__file__).resolve().parents[1]


def test_make_writes_dotenv_once_and_the_cli_run_beside_it_uses_its_folders(tmp_path: Path) -> None:
    """`make demo` writes .env (data and state folder) unless one exists; `shopintent` reads it from
    the working directory, so the CLI run from the repo finds the demo's data and models."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    state = tmp_path / "demo-state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPINTENT_")}
    env.update({"SHOPINTENT_DATA_DIR": str(tmp_path / "data"), "SHOPINTENT_STATE_DIR": str(state)})
    made = subprocess.run(["make", "-s", "-f", str(REPO_ROOT / "Makefile"), ".env"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / ".env").read_text().splitlines() == [
        f"SHOPINTENT_DATA_DIR={tmp_path / 'data'}", f"SHOPINTENT_STATE_DIR={state}"]
    (tmp_path / ".env").write_text(f"SHOPINTENT_STATE_DIR={state}\n# mine\n")
    subprocess.run(["make", "-s", "-f", str(REPO_ROOT / "Makefile"), ".env"], cwd=tmp_path, env=env,
                   capture_output=True, text=True, timeout=60, check=True)
    assert (tmp_path / ".env").read_text().endswith("# mine\n")  # never overwritten

    bare = {k: v for k, v in os.environ.items() if not k.startswith("SHOPINTENT_")}
    status = subprocess.run([sys.executable, "-m", "shopintent.cli.main", "models", "status", "--json"],
                            cwd=tmp_path, env=bare, capture_output=True, text=True, timeout=120,
                            check=False)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["state_dir"] == str(state)
