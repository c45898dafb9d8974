"""Shared fixtures: settings pointed at the real data and a throwaway state folder."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from shopintent.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]


def _real_data_dir() -> Path | None:
    configured = os.environ.get("SHOPINTENT_DATA_DIR")
    candidates = [Path(configured)] if configured else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for candidate in candidates:
        if (candidate / "taobao_userbehavior_head").is_dir():
            return candidate.resolve()
    return None


REAL_DATA_DIR = _real_data_dir()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings over the real data (read-only, no downloads) and a fresh state folder."""
    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    return Settings(
        data_dir=REAL_DATA_DIR,
        state_dir=tmp_path / "state",
        allow_download=False,
        pseudonym_key="test-key-not-secret-32-bytes-long!!",
    )


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Like ``settings`` but shared by a whole test session (for expensive loads)."""
    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    return Settings(
        data_dir=REAL_DATA_DIR,
        state_dir=tmp_path_factory.mktemp("state"),
        allow_download=False,
        pseudonym_key="test-key-not-secret-32-bytes-long!!",
    )


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI's settings (read from the environment) on the real data and a throwaway state folder."""
    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(REAL_DATA_DIR))
    monkeypatch.setenv("SHOPINTENT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SHOPINTENT_PSEUDONYM_KEY", "cli-test-key-not-secret-32-bytes!")
    monkeypatch.setenv("SHOPINTENT_ALLOW_DOWNLOAD", "false")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def cli_process_env(state_dir: Path) -> dict[str, str]:
    """The environment of a `shopintent` process on the real data and the given state folder."""
    assert REAL_DATA_DIR is not None
    return {**os.environ, "SHOPINTENT_DATA_DIR": str(REAL_DATA_DIR),
            "SHOPINTENT_STATE_DIR": str(state_dir), "SHOPINTENT_ALLOW_DOWNLOAD": "false",
            "SHOPINTENT_LOG_LEVEL": "WARNING"}


def run_cli(state_dir: Path, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``shopintent ARGS`` as its own process (what a user types), output captured."""
    return subprocess.run([sys.executable, "-m", "shopintent.cli.main", *args], capture_output=True,
                          text=True, env=cli_process_env(state_dir), timeout=timeout_s, check=False)


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (xdist workers share what one of them builds)."""
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's temporary root: under pytest-xdist, the folder every worker's own one is in."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def prepared_state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, Any]]:
    """An empty state folder after ``shopintent models prepare --fast-only`` (a real process).

    Why once per session: it trains every default model the service needs
    (behaviour, recommend, shop_intent, risk: ~90 s on CI). The demo-path test
    asserts on this very run; tests that need a trained default reuse it
    instead of training the same model again. Shared read-only: a test that
    changes models copies the folder (:func:`copy_state`) first. Under
    pytest-xdist the first worker that needs it runs the command, under a
    file lock, and the others wait for it and read its report.
    """
    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    root = _run_root(tmp_path_factory)
    state, saved = root / "demo" / "state", root / "demo" / "prepare-report.json"
    with _exclusive(root / "demo.lock"):
        if saved.is_file():
            report = json.loads(saved.read_text())
        else:
            if state.exists():  # a run cut short (it failed in another worker): start afresh
                shutil.rmtree(state)
            state.parent.mkdir(exist_ok=True)
            started = time.perf_counter()
            # ~90 s on CI; the limit only guards against a hang (a shared, busy host takes many times that)
            done = run_cli(state, "models", "prepare", "--fast-only", "--json", timeout_s=1800)
            assert done.returncode == 0, done.stderr[-3000:]
            report = json.loads(done.stdout)
            report["wall_s"] = time.perf_counter() - started
            saved.write_text(json.dumps(report))
    settings = Settings(data_dir=REAL_DATA_DIR, state_dir=state, allow_download=False,
                        pseudonym_key="test-key-not-secret-32-bytes-long!!")
    return settings, report


def copy_state(source: Settings, target: Path, *parts: str) -> None:
    """Copy the prepared state folder (or only its ``parts``, e.g. ``behaviour/default``) under ``target``."""
    for part in parts or (".",):
        shutil.copytree(source.state_dir / part, target / part, dirs_exist_ok=True)


@pytest.fixture(scope="session")
def model_settings(session_settings: Settings, prepared_state: tuple[Settings, dict[str, Any]]) -> Settings:
    """``session_settings`` whose state folder holds the default behaviour and recommendation models.

    They are the ones the session's ``models prepare`` run trained (:func:`prepared_state`, the
    same ``load_default_models`` / ``load_default_recommender`` calls), copied rather than trained
    a second time (~45 s on CI); loading them here checks their manifests as a service start does.
    """
    from shopintent.behaviour import load_default_models
    from shopintent.recommend import load_default_recommender

    for part in ("behaviour/default", "recommend"):
        if not (session_settings.state_dir / part).exists():
            copy_state(prepared_state[0], session_settings.state_dir, part)
    load_default_models(session_settings)
    load_default_recommender(session_settings)
    return session_settings


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local Spark session for every Spark test (each start costs 15-20 s of JVM start-up).

    Tests wrap it in ``SparkEngine(session=spark_session)``, whose ``stop()`` leaves a shared
    session running. Its settings suit all of them: two shuffle partitions for two cores, no
    UI, no empty trailing micro-batch; the streaming source runs in Spark's Python workers,
    which must import shopintent, so they start with this interpreter (PYSPARK_PYTHON is read
    when the session starts).
    """
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.fail("the Spark tests need Java 17+ on PATH (apt-get install openjdk-17-jre-headless)")
    from shopintent.store.spark_engine import SparkEngine

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYSPARK_PYTHON", sys.executable)
        engine = SparkEngine(master="local[2]", config={
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.streaming.noDataMicroBatches.enabled": "false"})
        yield engine.session
        engine.stop()


#: Folders whose files may run on different pytest-xdist workers: their expensive fixtures are
#: shared across workers (``prepared_state``, behind a file lock) or cheap. Every other folder's
#: files stay on one worker, so its session fixtures (text models, risk data...) are built once.
_SPLIT_BY_FILE = {"tests", "serve"}
#: The files that use the JVM (``spark_session``): one worker runs them all, so one Spark starts.
_SPARK_FILES = {"tests/store/test_spark_stream.py", "tests/store/test_spark_duckdb_equal.py",
                "tests/profile/test_spark.py", "tests/forecast/test_demand_engines.py"}


def _xdist_scope(nodeid: str) -> str:
    """The unit one pytest-xdist worker runs whole: a folder, a file (:data:`_SPLIT_BY_FILE`), or Spark."""
    path = nodeid.split("::", 1)[0]
    if path in _SPARK_FILES:
        return "spark"
    folder = path.rpartition("/")[0]
    return path if folder.rpartition("/")[2] in _SPLIT_BY_FILE else folder


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``pytest -n 2 --dist loadscope``: each scope is :func:`_xdist_scope`'s unit, not a module.

    Why not ``--dist loadgroup`` with marks: pytest-xdist 3.8 renames node ids through a private
    attribute that pytest 9 no longer reads, so its groups are ignored; a scheduler's scope is
    the documented extension point (``_split_scope``, as xdist's own ``loadfile`` uses).
    """
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FolderScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _xdist_scope(nodeid)

    return FolderScheduling(config, log)
