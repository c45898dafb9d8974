"""Weighted late fusion and the cache-side flip: small real-shaped arrays, milliseconds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shopintent.multimodal.finetune import flip_maps
from shopintent.multimodal.fusion import choose_weight, fuse


def test_choose_weight_trusts_the_input_that_is_right_on_validation() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, 200)
    title = np.log(np.full((200, 4), 0.1))
    title[np.arange(200), codes] = np.log(0.7)  # the title head is always right
    image = np.log(rng.dirichlet(np.ones(4), 200))  # the image head is noise
    weight, table = choose_weight(image, title, codes)
    assert weight < 0.5 and table[weight] == 1.0 and table[1.0] < 0.5
    with pytest.raises(ValueError, match="shape"):
        fuse(image[:, :3], title, 0.5)


def test_flip_maps_mirrors_only_the_chosen_rows() -> None:
    x = torch.arange(2 * 1 * 2 * 3, dtype=torch.float32).reshape(2, 1, 2, 3)
    out = flip_maps(x, torch.tensor([True, False]))
    assert torch.equal(out[0, 0, 0], torch.tensor([2.0, 1.0, 0.0])) and torch.equal(out[1], x[1])


def test_photo_only_ensemble_weighs_the_fine_tuned_head_by_validation() -> None:
    import pandas as pd

    from shopintent.multimodal.understanding import task_rows

    rng = np.random.default_rng(0)
    n = 240
    products = pd.DataFrame({"articleType": rng.choice(["Tshirts", "Watches", "Casual Shoes"], n)})
    codes = products["articleType"].map({"Tshirts": 0, "Watches": 1, "Casual Shoes": 2}).to_numpy()
    emb = {"image": rng.normal(size=(n, 8)) + 2 * codes[:, None],  # the frozen view separates the classes
           "image_finetuned": rng.normal(size=(n, 8)),  # this "fine-tuned" view is noise
           "title": rng.normal(size=(n, 8)) + 2 * codes[:, None]}
    idx = np.arange(n)
    train, fit = idx < 180, idx < 120
    rows = {r["modality"]: r for r in task_rows(products, ["articleType"], emb, train, ~train, seed=0,
                                                   fit=fit, valid=train & ~fit)}
    ensemble = rows["image_ensemble"]
    assert ensemble["ensemble_weight"] < 0.5  # validation trusts the frozen head over the noise
    assert ensemble["accuracy"] > rows["image_finetuned"]["accuracy"] + 0.3
    assert ensemble["test_products"] == 60 and "fusion_weight" not in ensemble


def test_validation_choices_read_the_choice_embeddings_when_given() -> None:
    """A refit fine-tuned top has seen the validation photos: the ensemble weight must then be chosen with
    the fit-only top's embeddings (``choice_embeddings``), while the test rows use the refit one's."""
    import pandas as pd

    from shopintent.multimodal.understanding import task_rows

    rng = np.random.default_rng(0)
    n = 240
    products = pd.DataFrame({"articleType": rng.choice(["Tshirts", "Watches", "Casual Shoes"], n)})
    codes = products["articleType"].map({"Tshirts": 0, "Watches": 1, "Casual Shoes": 2}).to_numpy()
    informative = rng.normal(size=(n, 8)) + 2 * codes[:, None]
    noise = rng.normal(size=(n, 8))
    emb = {"image": noise, "image_finetuned": informative, "title": informative}
    idx = np.arange(n)
    train, fit = idx < 180, idx < 120
    plain = {r["modality"]: r for r in task_rows(products, ["articleType"], emb, train, ~train, seed=0,
                                                    fit=fit, valid=train & ~fit)}
    chosen_on_noise = {r["modality"]: r for r in task_rows(
        products, ["articleType"], emb, train, ~train, seed=0, fit=fit, valid=train & ~fit,
        choice_embeddings={"image_finetuned": rng.normal(size=(n, 8))})}
    assert plain["image_ensemble"]["ensemble_weight"] > 0.5  # the fine-tuned view is the informative one
    assert chosen_on_noise["image_ensemble"]["ensemble_weight"] < plain["image_ensemble"]["ensemble_weight"]
    # the measured rows still come from the given embeddings, not the choice ones
    assert chosen_on_noise["image_finetuned"]["accuracy"] == plain["image_finetuned"]["accuracy"]
