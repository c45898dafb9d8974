"""bench text: a section re-run replaces only its own rows, and no section writes the service's defaults."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from shopintent.evaluation.bench import Measurement
from shopintent.evaluation.benchmarks import text
from shopintent.settings import Settings


def test_refresh_replaces_a_sections_rows_keeps_the_rest_and_records_the_run(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "text.json"
    old_rows = [
        {"name": f"{text.SHOP_LINEAR}: in-scope accuracy", "value": 0.5, "unit": "accuracy", "detail": "old"},
        {"name": "default shop-intent model (fine-tuned USE, ONNX fp32): OOS recall", "value": 0.4,
         "unit": "recall", "detail": "old recipe"},
        {"name": "zh e-commerce NER entity F1 (BiLSTM-CRF + gazetteers)", "value": 0.75, "unit": "F1",
         "detail": "kept"},
    ]
    results.write_text(json.dumps({"area": "text", "parameters": {"seed": 13},
                                   "measurements": old_rows, "notes": ""}))

    def fake_section(_: Settings, out: list[Measurement]) -> None:
        out.append(Measurement(f"{text.SHOP_LINEAR}: in-scope accuracy", 0.9, "accuracy", "new"))

    monkeypatch.setitem(text.SECTIONS, "shop_intent", (fake_section, text.SECTIONS["shop_intent"][1]))
    record = text.refresh(settings, results, ["shop_intent"])
    names = {m["name"]: m for m in record["measurements"]}
    assert names[f"{text.SHOP_LINEAR}: in-scope accuracy"]["value"] == 0.9
    assert "default shop-intent model (fine-tuned USE, ONNX fp32): OOS recall" not in names
    assert names["zh e-commerce NER entity F1 (BiLSTM-CRF + gazetteers)"]["detail"] == "kept"
    (entry,) = record["parameters"]["refreshed"]
    assert entry["section"] == "shop_intent" and "benchmarks.text shop_intent" in entry["command"]
    assert json.loads(results.read_text()) == record
    with pytest.raises(KeyError, match="unknown section 'magic'"):
        text.refresh(settings, results, ["magic"])


def test_the_text_benchmark_saves_only_into_its_own_folder(settings: Settings) -> None:
    source = inspect.getsource(text)
    assert "defaults.model_path" not in source and "_save_tagger" not in source
    assert "ensure_model" not in source
    folder = text.bench_dir(settings, "shop_intent")
    assert folder.parent == Path(settings.state_dir) / "bench" / "text"
