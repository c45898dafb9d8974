"""Nothing raw leaves the ingest path: planted personal data is found nowhere afterwards.

1,200 valid personal-data values (``shopintent.privacy.plant``: phones zh/en in
several spellings incl. full width and separators, e-mails, ID numbers with valid
check characters, Luhn-valid card numbers, IPs, WeChat and QQ ids) are planted in
real Taobao events: each value in the event's ``query`` and, in turn, as its
``user_id``, ``session_id``, ``event_id``, ``item_id`` or ``category_id``. They go
in through every way in:

- ``POST /v1/events`` (sync) and ``POST /v1/events?mode=stream`` into a real
  ``shopintent serve`` process running on a real redis-server (Redis stream and
  Redis session state, decisions on every event, DEBUG logs to a file), plus
  ``POST /v1/intent`` with the raw text;
- ``shopintent store ingest`` of a CSV and of a JSON-lines file (CLI processes);
- ``shopintent store export`` of the service's store and ``store import`` of that
  export into the CLI's store.

Then every artefact is scanned byte-wise for each value (as typed and in its NFKC
form): both DuckDB files (raw bytes and a full text dump of every table), the
Parquet export, every Redis key (strings, hashes, lists, sets, sorted sets,
stream entries), the service's and the CLIs' logs, the decision log, ``/metrics``,
``/v1/dashboard`` and ``/v1/sessions`` JSON. Expected hits: 0.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import duckdb
import httpx
import pandas as pd
import pytest

from benchmarks.support import ServiceProcess
from shopintent.privacy.plant import PlantedValue, insert_pii, plant_pii
from shopintent.settings import Settings
from tests.serve.conftest import API_KEY, taobao_records

N_VALUES = 1_200
ID_FIELDS = ("user_id", "session_id", "event_id", "item_id", "category_id")
#: Id fields kept as catalogue ids (scrubbed like text, not pseudonymised).
SCRUBBED_ID_FIELDS = ("item_id", "category_id")
#: Where each planted value went (for the failure message).
planted_in: dict[str, str] = {}
PATHS = ("http", "stream", "csv", "jsonl")


def _planted_events(settings: Settings) -> tuple[list[dict[str, object]], list[PlantedValue]]:
    """Real Taobao events, each carrying one planted value in its query and one id field."""
    rng = random.Random(11)
    values = plant_pii(rng, N_VALUES)
    records = taobao_records(settings, N_VALUES)
    hosts = ["想买一件白色连衣裙", "where is my order please", "退货 运费谁出", "need size 42 shoes"]
    events = []
    for i, (record, value) in enumerate(zip(records, values, strict=True)):
        event = {k: v for k, v in record.items() if k != "event_id"}
        event["query"] = insert_pii(hosts[i % len(hosts)], value, rng)
        field = ID_FIELDS[i % len(ID_FIELDS)]
        if value.cue and field in SCRUBBED_ID_FIELDS:
            # A bare WeChat/QQ id is recognised only after its cue ("QQ：…"): as an item id
            # it is just a catalogue number, so it goes into a pseudonymised id instead.
            field = "user_id"
        event[field] = value.raw
        planted_in[value.raw] = field
        events.append(event)
    return events, values


def _forms(value: PlantedValue) -> set[bytes]:
    return {value.raw.encode(), unicodedata.normalize("NFKC", value.raw).encode()}


def _found(blob: bytes, form: bytes) -> int:
    """Where ``form`` is in ``blob`` (-1 if nowhere).

    A value of digits only (a QQ number, a phone typed without separators) is looked
    for as a token: not inside a longer run of letters and digits or a decimal
    number, where any 5-to-11-digit string turns up by chance (hex pseudonyms, scores).
    """
    at = blob.find(form)
    if at < 0 or not form.isdigit():  # no literal hit, no token hit: skip the (60x slower) regex
        return at
    hit = re.search(rb"(?<![0-9A-Za-z.])" + re.escape(form) + rb"(?![0-9A-Za-z])", blob)
    return hit.start() if hit else -1


def _context(blob: bytes, value: PlantedValue) -> bytes:
    """A few bytes around the first hit (for the failure message)."""
    for form in _forms(value):
        at = _found(blob, form)
        if at >= 0:
            return blob[max(at - 40, 0): at + len(form) + 40]
    return b""


def _redis_dump(url: str) -> bytes:
    import redis

    client = redis.Redis.from_url(url)
    parts: list[bytes] = []
    for key in client.scan_iter(count=1000):
        parts.append(key)
        kind = client.type(key)
        if kind == b"string":
            parts.append(client.get(key) or b"")
        elif kind == b"hash":
            parts += [b for pair in client.hgetall(key).items() for b in pair]
        elif kind == b"list":
            parts += client.lrange(key, 0, -1)
        elif kind == b"set":
            parts += list(client.smembers(key))
        elif kind == b"zset":
            parts += [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == b"stream":
            for entry_id, fields in client.xrange(key, "-", "+"):
                parts.append(entry_id)
                parts += [b for pair in fields.items() for b in pair]
    client.close()
    return b"\n".join(parts)


def _duckdb_dump(path: Path) -> bytes:
    """Every table of the store as CSV text (what the file holds, decompressed)."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return b"\n".join(con.execute(f'SELECT * FROM "{t}"').df().to_csv(index=False).encode()
                          for t in tables)


def _cli(settings: Settings, *args: str, log: Path) -> None:
    env = dict(os.environ, SHOPINTENT_DATA_DIR=str(settings.data_dir),
               SHOPINTENT_STATE_DIR=str(settings.state_dir), SHOPINTENT_LOG_LEVEL="DEBUG",
               SHOPINTENT_PSEUDONYM_KEY=settings.pseudonym_key.get_secret_value())  # type: ignore[union-attr]
    with log.open("ab") as out:
        done = subprocess.run([sys.executable, "-m", "shopintent.cli.main", *args], env=env,
                              stdout=out, stderr=out, timeout=300, check=False)
    assert done.returncode == 0, log.read_text(errors="replace")[-2000:]


@pytest.mark.timeout(900)
def test_planted_personal_data_reaches_no_store_stream_log_or_export(
        model_settings: Settings, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events, values = _planted_events(model_settings)
    by_path = {p: events[i::len(PATHS)] for i, p in enumerate(PATHS)}
    background = json.dumps(taobao_records(model_settings, N_VALUES)).encode()
    # A short value that is also in the unplanted events (an item id, a time) proves nothing.
    checked = [v for v in values if not any(f in background for f in _forms(v))]
    assert len(checked) >= 1_000

    monkeypatch.setenv("SHOPINTENT_LOG_LEVEL", "DEBUG")
    service_store, service_log = tmp_path / "service.duckdb", tmp_path / "service.log"
    service = ServiceProcess(model_settings, service_store, API_KEY,
                             ["--stream", "redis", "--state", "redis", "--redis-url", redis_url,
                              "--auto-decide", "every", "--no-train-missing"], log_path=service_log)
    service.start("/readyz", wait_models=("behaviour", "intervene"))
    auth = {"X-API-Key": API_KEY}
    try:
        with httpx.Client(base_url=service.url, headers=auth, timeout=60) as client:
            for start in range(0, len(by_path["http"]), 50):
                body = client.post("/v1/events", json={"events": by_path["http"][start:start + 50]})
                assert body.status_code == 200, body.text
                assert body.json()["stored"] + body.json()["duplicates"] == len(
                    by_path["http"][start:start + 50])
            published = 0
            for start in range(0, len(by_path["stream"]), 50):
                sent = client.post("/v1/events", params={"mode": "stream"},
                                   json={"events": by_path["stream"][start:start + 50]})
                assert sent.status_code == 202, sent.text
                published += sent.json()["accepted"]
            for event in by_path["http"][:40]:  # raw text to the intent endpoint (503: no text model)
                assert client.post("/v1/intent", json={"text": event["query"]}).status_code in (200, 503)
            deadline = time.monotonic() + 120
            assert published >= len(by_path["stream"]) * 0.9
            expected = len(by_path["http"]) + published
            while sum(client.get("/v1/dashboard").json()["events"][k]
                      for k in ("stored", "duplicates", "rejected")) < expected:
                assert time.monotonic() < deadline, "the stream consumer did not store the events"
                time.sleep(0.5)
            served = [client.get("/metrics").content, client.get("/v1/dashboard").content,
                      client.get("/v1/sessions", params={"limit": 500}).content]
    finally:
        service.stop()

    cli_store, cli_log = tmp_path / "cli.duckdb", tmp_path / "cli.log"
    pd.DataFrame(by_path["csv"]).to_csv(tmp_path / "events.csv", index=False)
    with (tmp_path / "events.jsonl").open("w") as out:
        for event in by_path["jsonl"]:
            out.write(json.dumps(event, ensure_ascii=False) + "\n")
    _cli(model_settings, "store", "ingest", str(tmp_path / "events.csv"), "--store", str(cli_store), log=cli_log)
    _cli(model_settings, "store", "ingest", str(tmp_path / "events.jsonl"), "--store", str(cli_store),
         log=cli_log)
    export = tmp_path / "export.parquet"
    _cli(model_settings, "store", "export", str(export), "--store", str(service_store), log=cli_log)
    _cli(model_settings, "store", "import", str(export), "--store", str(cli_store), log=cli_log)
    with duckdb.connect(str(cli_store), read_only=True) as con:
        stored = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert stored >= len(by_path["csv"]) + len(by_path["jsonl"]) + len(by_path["http"])

    decision_log = model_settings.state_dir / "intervene" / "decisions.jsonl"
    assert decision_log.is_file() and decision_log.stat().st_size > 0
    artefacts = {
        "service store file": service_store.read_bytes(),
        "service store tables": _duckdb_dump(service_store),
        "cli store file": cli_store.read_bytes(),
        "cli store tables": _duckdb_dump(cli_store),
        "parquet export": export.read_bytes(),
        "parquet export rows": pd.read_parquet(export).to_csv(index=False).encode(),
        "redis": _redis_dump(redis_url),
        "service log": service_log.read_bytes(),
        "cli log": cli_log.read_bytes(),
        "decision log": decision_log.read_bytes(),
        "metrics, dashboard and sessions JSON": b"\n".join(served),
    }
    hits = [(name, v.kind, v.spelling, planted_in.get(v.raw), _context(blob, v)) for v in checked for name, blob in artefacts.items()
            if any(_found(blob, f) >= 0 for f in _forms(v))]
    summary = pd.DataFrame(hits, columns=["artefact", "kind", "spelling", "field", "context"]).value_counts(
        ["kind", "field"]) if hits else None
    assert not hits, f"{len(hits)} planted values found, e.g. {hits[:10]}\n{summary}"
