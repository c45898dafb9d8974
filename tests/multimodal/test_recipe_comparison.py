"""Comparing two fine-tuning recipes product by product on the same validation products (paired noise)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from shopintent.evaluation.benchmarks.multimodal import FinetuneRecipe, paired_comparison, validation_trial
from shopintent.multimodal.encoder import HeadStage, Trunk, pretrained_net
from shopintent.multimodal.fashion import FashionData
from shopintent.multimodal.heads import SoftmaxHead
from shopintent.multimodal.images import read_image
from shopintent.multimodal.views import SHIFT_SETS, view_embeddings
from shopintent.settings import Settings

FIRST_BLOCK = 11  # the bench's cache block


def test_paired_comparison_of_two_view_sets_on_real_photos(fashion: FashionData) -> None:
    """Two classifiers (plain map vs flip + 4 shifts of the same ImageNet top) on 30 real photos of three
    article types: the discordant counts are the products only one gets right, their difference is the
    accuracy difference in products, and swapping the two negates it."""
    products = fashion.products[fashion.products["articleType"].isin(["Tshirts", "Watches", "Casual Shoes"])]
    products = products.groupby("articleType").head(10)
    photos = np.stack([read_image(Path(p)) for p in products["path"]])
    trunk = Trunk(pretrained_net(), stop=FIRST_BLOCK)
    with torch.inference_mode():
        plain = trunk(torch.from_numpy(photos)).numpy()
        mirrored = trunk(torch.from_numpy(np.ascontiguousarray(photos[..., ::-1]))).numpy()
    head = HeadStage(pretrained_net(), FIRST_BLOCK)
    labels = products["articleType"].to_numpy()
    train = np.arange(len(products)) % 2 == 0  # every type in both halves (10 consecutive rows per type)
    right = {}
    for name, emb in (("plain", view_embeddings(plain, head)),
                      ("views", view_embeddings(plain, head, SHIFT_SETS[4], flipped=mirrored))):
        probe = SoftmaxHead(seed=1).fit(emb[train], labels[train])
        right[name] = np.asarray(probe.predict(emb[~train])) == labels[~train]
    out = paired_comparison(right["views"], right["plain"])
    assert out["products"] == int((~train).sum()) == 15
    assert out["only_this_right"] == int((right["views"] & ~right["plain"]).sum())
    assert out["only_reference_right"] == int((right["plain"] & ~right["views"]).sum())
    assert out["net_products"] == int(right["views"].sum()) - int(right["plain"].sum())
    assert out["accuracy_difference"] == round(out["net_products"] / 15, 4)
    back = paired_comparison(right["plain"], right["views"])
    assert back["net_products"] == -out["net_products"] and back["z"] == -out["z"]
    same = paired_comparison(right["views"], right["views"])
    assert same["only_this_right"] == same["only_reference_right"] == 0 and same["z"] == 0.0
    with pytest.raises(ValueError, match="different products"):
        paired_comparison(right["views"], right["plain"][:-1])


def test_a_comparison_never_starts_the_reference_fine_tune(session_settings: Settings, fashion: FashionData) -> None:
    """With an empty state folder the bench recipe's head is not cached: the trial refuses at once, before
    fine-tuning anything (a comparison must not hide a 25-minute training run)."""
    with pytest.raises(ValueError, match="reference recipe's fit-only head is not in the cache"):
        validation_trial(session_settings, replace(FinetuneRecipe(), max_epochs=1), reference=FinetuneRecipe())
    assert not (session_settings.state_dir / "multimodal" / "finetuned").exists()
