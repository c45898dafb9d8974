"""A service start on the prepared default models imports neither scikit-learn, SciPy nor LightGBM.

Why: those imports were about a CPU second of every start (``benchmarks/results/serve_startup.json``)
while serving needs none of them; the served models are scored by NumPy forms of the same fitted
numbers (``inference.trees``, ``*.scoring``/``serving`` modules, each tested for equality with
its estimator). This checks the whole start in a fresh interpreter, as ``shopintent serve`` runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from shopintent.settings import Settings
from tests.serve.conftest import REPO_ROOT

#: Run in a fresh interpreter: import the app, start the service, load every model, use them
#: (a transaction's reason codes too: exact TreeSHAP over the NumPy trees, no LightGBM).
_START = """
import json, sys
import shopintent.serve.app
from shopintent.serve import ServeConfig
from shopintent.serve.service import LOAD_ORDER, Service
from shopintent.settings import get_settings

service = Service(get_settings(), ServeConfig(store_path=":memory:", stream="memory", api_keys=("k",)))
service.start(load_models=False)
loaded = {name: service.models[name].load() for name in LOAD_ORDER}
intent = service.models["text"].get().parse("where is my order").intent
items = service.models["recommend"].get().recommend(["2333346", "1576651"], k=5)
fraud = service.models["risk"].get().transactions.model  # a flagged transaction's reason codes
reasons = fraud.contributions_one([1.0] * len(fraud.feature_names_))
service.stop()
print(json.dumps({"loaded": loaded, "intent": intent, "items": len(items), "reasons": len(reasons),
                  "kinds": {name: service.models[name].card.get("model_id") for name in LOAD_ORDER},
                  "heavy": sorted({m.split(".")[0] for m in sys.modules
                                   if m.split(".")[0] in ("sklearn", "scipy", "lightgbm", "torch")})}))
"""


def test_start_and_model_loads_import_no_sklearn_scipy_or_lightgbm(
        prepared_state: tuple[Settings, dict[str, Any]], tmp_path: Path) -> None:
    prepared = prepared_state[0].state_dir
    state = tmp_path / "state"
    for part in ("behaviour", "recommend", "risk/default", "text/models"):  # the service writes logs here
        shutil.copytree(prepared / part, state / part)
    for file in prepared.glob("recommend/*.json"):
        shutil.copy(file, state / "recommend" / file.name)
    (state / "text" / "use-m3").symlink_to(prepared / "text" / "use-m3", target_is_directory=True)
    env = {**os.environ, "SHOPINTENT_DATA_DIR": str(prepared_state[0].data_dir),
           "SHOPINTENT_STATE_DIR": str(state), "SHOPINTENT_ALLOW_DOWNLOAD": "false",
           "SHOPINTENT_PSEUDONYM_KEY": "test-key-not-secret-32-bytes-long!!"}
    run = subprocess.run([sys.executable, "-c", _START], env=env, cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    served = json.loads(run.stdout.strip().splitlines()[-1])
    assert all(served["loaded"].values()), served
    assert served["intent"] and served["items"] == 5 and served["reasons"] > 0
    assert served["heavy"] == [], f"imported while starting: {served['heavy']}"
    # the cards still name the estimators the scorers were loaded from
    assert served["kinds"]["recommend"].startswith("recommend:Hybrid(")
    assert "IntentClassifier" in served["kinds"]["text"]
