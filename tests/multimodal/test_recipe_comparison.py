"""Comparing two fine-tuning recipes product by product on the same validation products (paired noise)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from shopintent.evaluation.benchmarks.multimodal import (
    FinetuneRecipe,
    Finetuned,
    _two_head_ensemble,
    paired_comparison,
    validation_trial,
)
from shopintent.multimodal.encoder import HeadStage, pretrained_net
from shopintent.multimodal.fashion import FashionData
from shopintent.multimodal.heads import SoftmaxHead
from shopintent.multimodal.views import SHIFT_SETS, view_embeddings
from shopintent.settings import Settings
from tests.multimodal.photos import block_maps

FIRST_BLOCK = 11  # the bench's cache block


def test_paired_comparison_and_two_head_ensemble_on_real_photos(fashion: FashionData) -> None:
    """Two classifiers (plain map vs flip + 4 shifts of the same ImageNet top) on 66 real photos of three
    article types: the discordant counts are the products only one gets right, their difference is the
    accuracy difference in products, swapping the two negates it; a head ensembled with itself is itself."""
    products = fashion.products[fashion.products["articleType"].isin(["Tshirts", "Watches", "Casual Shoes"])]
    products = products.groupby("articleType").head(22).reset_index(drop=True)  # >= 20: classes kept
    plain, mirrored = block_maps(products, FIRST_BLOCK)
    head = HeadStage(pretrained_net(), FIRST_BLOCK)
    labels = products["articleType"].to_numpy()
    fit = np.arange(len(products)) % 2 == 0  # every type in both halves
    valid = ~fit
    done = {}
    for name, emb in (("plain", view_embeddings(plain, head)),
                      ("views", view_embeddings(plain, head, SHIFT_SETS[4], flipped=mirrored))):
        probe = SoftmaxHead(seed=1).fit(emb[fit], labels[fit])
        right = np.asarray(probe.predict(emb[valid])) == labels[valid]
        done[name] = Finetuned(head, emb, emb, [], 0, {}, name, {}, right)
    right = {name: f.valid_right for name, f in done.items()}
    out = paired_comparison(right["views"], right["plain"])
    assert out["products"] == int(valid.sum()) == 33
    assert out["only_this_right"] == int((right["views"] & ~right["plain"]).sum())
    assert out["only_reference_right"] == int((right["plain"] & ~right["views"]).sum())
    assert out["net_products"] == int(right["views"].sum()) - int(right["plain"].sum())
    assert out["accuracy_difference"] == round(out["net_products"] / 33, 4)
    back = paired_comparison(right["plain"], right["views"])
    assert back["net_products"] == -out["net_products"] and back["z"] == -out["z"]
    with pytest.raises(ValueError, match="different products"):
        paired_comparison(right["views"], right["plain"][:-1])
    alone = _two_head_ensemble(products, fit, valid, done["views"], done["views"])
    assert alone["only_this_right"] == alone["only_reference_right"] == 0 and alone["z"] == 0.0
    assert alone["valid_accuracy"] == round(float(right["views"].mean()), 4)
    both = _two_head_ensemble(products, fit, valid, done["views"], done["plain"])
    assert both["products"] == 33 and 0.0 <= both["valid_accuracy"] <= 1.0
    assert both["net_products"] == round(both["valid_accuracy"] * 33) - int(right["plain"].sum())


def test_a_comparison_never_starts_the_reference_fine_tune(session_settings: Settings, fashion: FashionData) -> None:
    """With an empty state folder the bench recipe's head is not cached: the trial refuses at once, before
    fine-tuning anything (a comparison must not hide a 25-minute training run)."""
    with pytest.raises(ValueError, match="reference recipe's fit-only head is not in the cache"):
        validation_trial(session_settings, replace(FinetuneRecipe(), max_epochs=1), reference=FinetuneRecipe())
    assert not (session_settings.state_dir / "multimodal" / "finetuned").exists()
