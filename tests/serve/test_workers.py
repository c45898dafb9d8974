"""``shopintent serve --workers 2`` as a real process: caps across workers, outcomes on any worker, kill -9.

The service runs with the default behaviour model and decision engine, its
state, log and cap ledger in a real redis-server. Real Taobao events (time
order; the log carries no prices, so every item costs 150 and coupons are
open) are posted, then two client threads ask for decisions on 80 live
sessions at once, each request on a new connection so the kernel spreads them
over both workers. One worker is killed with SIGKILL in the middle of the
burst, the other and the store sink right after it: the supervisor restarts
all three, and every outcome posted afterwards lands on a process that did not
make its decision.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path

import httpx
import pytest
import redis
from typer.testing import CliRunner

from benchmarks.support.service_process import ServiceProcess
from shopintent.cli.main import app as cli
from shopintent.intervene import CapConfig
from shopintent.intervene.shared_caps import RedisCapLedger
from shopintent.settings import Settings, get_settings
from tests.serve.conftest import API_KEY, AUTH, taobao_records

PRICE = 150.0
#: Live sessions asked for decisions (each twice by each of two client threads).
SESSIONS = 80


def _children(supervisor: int, marker: bytes) -> list[int]:
    """The supervisor's child processes whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == supervisor and marker in command:
            found.append(int(entry.name))
    return sorted(found)


def _workers(supervisor: int) -> list[int]:
    """The worker processes of a supervisor (its spawned children; not the sink nor the tracker)."""
    return _children(supervisor, b"spawn_main")


def _wait_for_workers(service: ServiceProcess, n: int, gone: set[int], timeout_s: float = 120.0) -> list[int]:
    """Block until ``n`` workers run, none of them in ``gone``, and each answers with its models."""
    assert service.process is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pids = _workers(service.process.pid)
        if len(pids) == n and not gone & set(pids) and _models_ready(service.url, rounds=3 * n):
            return pids
        time.sleep(0.2)
    raise AssertionError(f"{n} fresh workers were not ready in {timeout_s} s (now {_workers(service.process.pid)})")


def _models_ready(url: str, rounds: int) -> bool:
    """Every one of ``rounds`` fresh connections (spread over the workers) has the engine and scores."""
    for _ in range(rounds):
        try:
            models = httpx.get(url + "/readyz", timeout=2).json()["models"]
        except (httpx.TransportError, ValueError, KeyError):
            return False
        if not (models["intervene"]["ready"] and models["behaviour"]["ready"]):
            return False
    return True


def _sessions(url: str, records: list[dict[str, object]]) -> list[str]:
    """Post the events; the ids of the live sessions they opened."""
    sessions: dict[str, None] = {}
    for start in range(0, len(records), 500):
        response = httpx.post(url + "/v1/events", json={"events": records[start:start + 500]},
                              headers=AUTH, timeout=60)
        assert response.status_code == 200, response.text
        sessions.update(dict.fromkeys(r["session_id"] for r in response.json()["results"] if r["session_id"]))
    return list(sessions)


def test_two_workers_share_caps_join_outcomes_and_survive_kill9(model_settings: Settings, redis_url: str,
                                                                  tmp_path: Path) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/9"  # a database of its own: the caps start from zero
    redis.Redis.from_url(url).flushdb()
    service = ServiceProcess(model_settings, tmp_path / "events.duckdb", API_KEY, log_path=tmp_path / "service.log",
                             extra_args=["--workers", "2", "--state", "redis", "--stream", "redis",
                                         "--redis-url", url, "--auto-decide", "off"])
    service.start(ready="/healthz")
    try:
        first = _wait_for_workers(service, 2, set())
        records = [{**r, "price": PRICE} for r in taobao_records(model_settings, 3000)]
        sessions = _sessions(service.url, records)[:SESSIONS]
        assert len(sessions) == SESSIONS

        decisions: list[dict[str, object]] = []
        failures: Counter[str] = Counter()
        lock = threading.Lock()

        def burst(order: list[str]) -> None:
            for _ in range(2):
                for sid in order:
                    try:
                        response = httpx.post(service.url + "/v1/decisions", json={"session_id": sid},
                                              headers=AUTH, timeout=30)
                    except httpx.TransportError as exc:  # a connection the killed worker held
                        with lock:
                            failures[type(exc).__name__] += 1
                        continue
                    with lock:
                        if response.status_code == 200:
                            decisions.append(response.json())
                        else:
                            failures[str(response.status_code)] += 1

        clients = [threading.Thread(target=burst, args=(order,))
                   for order in (sessions, sessions[::-1])]
        for c in clients:
            c.start()
        while len(decisions) < SESSIONS // 2 and any(c.is_alive() for c in clients):
            time.sleep(0.05)
        os.kill(first[0], signal.SIGKILL)  # under load
        for c in clients:
            c.join(timeout=300)
        # The other worker kept answering: only requests the killed worker held were lost.
        assert len(decisions) >= 2 * 2 * SESSIONS - 10, failures
        assert set(failures) <= {"ReadError", "RemoteProtocolError", "ConnectError", "502", "503"}, failures

        caps = CapConfig()
        acted = [d for d in decisions if d["action"] != "nothing"]
        assert acted, "the engine never intervened: the caps were not exercised"
        assert max(Counter(d["session_id"] for d in acted).values()) <= caps.max_per_session
        assert max(Counter(d["context"]["user_id"] for d in acted).values()) <= caps.max_per_user_per_day
        assert all(0.0 < float(d["propensity"]) <= 1.0 for d in decisions)
        cost: Counter[str] = Counter()
        for d in decisions:
            cost[str(d["context"]["timestamp"])[:10]] += float(d["cost"])
        ledger = RedisCapLedger(url, prefix="shopintent:events:").spent
        # The shared ledger holds every worker's charges (a request cut off by the kill may have
        # charged without answering), never over the daily budget, on each (event-time) day.
        assert sum(cost.values()) > 0 and {d.isoformat() for d in ledger} == set(cost)
        for day, amount in ledger.items():
            assert cost[day.isoformat()] - 1e-6 <= amount <= caps.daily_budget + 1e-9
        budget = httpx.get(service.url + "/v1/dashboard", headers=AUTH, timeout=10).json()["budget"]
        assert budget["spent"] == round(ledger.get(date.fromisoformat(budget["day"]), 0.0), 2)

        # Kill the other original worker too, without waiting for the first one's replacement.
        os.kill(first[1], signal.SIGKILL)
        (sink,) = _children(service.process.pid, b"serve\x00sink")  # and the store sink
        os.kill(sink, signal.SIGKILL)
        _wait_for_workers(service, 2, set(first))
        # Neither live worker made any of these decisions: each outcome joins through Redis.
        for d in decisions[:60]:
            response = httpx.post(service.url + "/v1/outcomes", headers=AUTH, timeout=10,
                                  json={"decision_id": d["decision_id"], "kind": "purchase", "value": 1.0})
            assert response.status_code == 200, response.text
        log = (tmp_path / "service.log").read_text()
        assert log.count("worker died; restarting it") == 2 and log.count("sink died; restarting it") == 1
        restarted = _children(service.process.pid, b"serve\x00sink")
        assert len(restarted) == 1 and restarted != [sink]
        children = _children(service.process.pid, b"")
    finally:
        service.stop()
    assert service.process is not None and service.process.returncode == 0
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in children):  # workers and sink stopped with it
        assert time.monotonic() < deadline, [pid for pid in children if Path(f"/proc/{pid}").exists()]
        time.sleep(0.1)


@pytest.mark.parametrize(("args", "needs"), [
    (["--workers", "2"], "--state redis"),
    (["--workers", "2", "--state", "redis", "--redis-url", "redis://127.0.0.1:1/0", "--stream", "file"],
     "--stream redis or --stream kafka"),
])
def test_several_workers_need_shared_state_and_a_shared_log(settings: Settings, args: list[str], needs: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SHOPINTENT_STATE_DIR", str(settings.state_dir))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve", "--no-models", *args])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert needs in result.output
