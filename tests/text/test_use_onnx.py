"""The int8 ONNX Runtime run of the USE encoder (``text.use_onnx``), the service's default for the
linear intent model: close to the float encoder on real texts, and a text's vector barely depends
on what else is in its micro-batch (dynamic quantisation scales activations per batch)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shopintent.settings import Settings


def test_int8_use_is_close_to_the_float_encoder_alone_or_batched(
        prepared_state: tuple[Settings, dict[str, Any]]) -> None:
    from shopintent.text import recipes
    from shopintent.text.encoders import USEEncoder
    from shopintent.text.use_onnx import GRAPH_FILE, Int8USE

    settings = prepared_state[0]
    cache = settings.state_dir / "text"
    assert (cache / "use-m3" / GRAPH_FILE).is_file()  # `models prepare` exported it, not the service
    valid = recipes.shop_intent_splits(settings)["validation"].texts
    texts = [*valid[::60], "我想要红色的 XL 2件，200元以内", "", "🙂🙂 ok", "where is my order #12345?"]
    float_use = USEEncoder()
    float_use.weights_cache = cache
    reference = float_use._load().encode(texts)
    int8 = Int8USE(cache)
    batched = int8.encode(texts)
    assert batched.shape == reference.shape
    assert float(np.einsum("ij,ij->i", batched, reference).min()) >= 0.98
    alone = np.vstack([int8.encode([t]) for t in texts[:12]])
    assert float(np.einsum("ij,ij->i", alone, batched[:12]).min()) >= 0.995


def test_only_a_variant_of_the_fitted_encoder_can_be_served_in_its_place() -> None:
    from shopintent.serve.config import ServeConfig
    from shopintent.text.features import TextFeaturizer

    featurizer = TextFeaturizer(encoders=("use",))
    assert featurizer.serve_with({"use": "use-int8"}) == ("use-int8",)
    with pytest.raises(ValueError, match="cannot be served as 'e5'"):
        TextFeaturizer(encoders=("use",)).serve_with({"use": "e5"})
    with pytest.raises(ValueError, match="intent_encoder 'fp16'"):
        ServeConfig(store_path=":memory:", intent_encoder="fp16")
