"""Product understanding study: every task scored from the image, the title and both (issue 17 item 1).

Why one function: the benchmark and the tests must compute the same table —
accuracy and macro-F1 per (task, modality) on the held-out products — so the
fusion gain is read from one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from shopintent.multimodal.fusion import choose_weight, fuse
from shopintent.multimodal.heads import SoftmaxHead, score
from shopintent.multimodal.split import kept_classes

#: Rows of the table, in order; "image" is the frozen ImageNet embedding, "image_finetuned" the fine-tuned top;
#: "image_ensemble" weighs the fine-tuned and the frozen image heads' log-probabilities (photo only; weight chosen
#: on validation); "late_fusion" sums the image and title heads' log-probabilities, "late_fusion_weighted" weighs
#: them (weight chosen on validation).
MODALITIES = ("image", "image_finetuned", "image_ensemble", "title", "late_fusion", "late_fusion_weighted",
              "early_fusion")


def task_rows(
    products: pd.DataFrame,
    tasks: Sequence[str],
    embeddings: Mapping[str, np.ndarray],
    train: np.ndarray,
    test: np.ndarray,
    seed: int = 0,
    fit: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    choice_embeddings: Mapping[str, np.ndarray] | None = None,
) -> list[dict[str, object]]:
    """Accuracy and macro-F1 per task and modality on the ``test`` products.

    ``embeddings`` holds "image", "title" and optionally "image_finetuned";
    fusion uses the fine-tuned image embedding when present. Only classes with
    at least 20 products are kept (others dropped from train and test).
    With ``fit`` and ``valid`` (a partition of ``train``) the late-fusion image
    weight is chosen on ``valid`` by heads trained on ``fit``, then applied to
    heads trained on all of ``train`` ("late_fusion_weighted", weight in the row); with "image_finetuned"
    too, the weight of the fine-tuned against the frozen image head is chosen the same way
    ("image_ensemble", ``ensemble_weight`` in the row): two views of the same photo, since the fine-tuned
    top forgets some of what the ImageNet top knew.
    ``choice_embeddings`` replaces inputs for those validation choices only (e.g. "image_finetuned" by a
    top trained on ``fit`` alone, when the measured top was refit on ``fit`` + ``valid`` and so has seen
    the validation photos).
    """
    chooser = {**embeddings, **(choice_embeddings or {})}
    image = embeddings.get("image_finetuned", embeddings["image"])
    title = embeddings["title"]
    rows: list[dict[str, object]] = []
    for task in tasks:
        labels = products[task].astype(str).to_numpy()
        keep = np.isin(labels, list(kept_classes(products[task].astype(str))))
        tr, te = train & keep, test & keep
        preds: dict[str, np.ndarray] = {}
        logp: dict[str, np.ndarray] = {}
        for name in ("image", "image_finetuned", "title"):
            if name not in embeddings:
                continue
            head = SoftmaxHead(seed=seed).fit(embeddings[name][tr], labels[tr])
            logp[name] = head.log_proba(embeddings[name][te])
            preds[name] = head.classes_[logp[name].argmax(1)]
            classes = head.classes_
        img_key = "image_finetuned" if "image_finetuned" in logp else "image"
        preds["late_fusion"] = classes[(logp[img_key] + logp["title"]).argmax(1)]
        weight = ensemble = None
        if fit is not None and valid is not None and "image_finetuned" in logp and "image" in logp:
            ensemble = _fusion_weight(chooser["image_finetuned"], chooser["image"], labels, fit & keep,
                                      valid & keep, seed)
            preds["image_ensemble"] = classes[fuse(logp["image_finetuned"], logp["image"], ensemble).argmax(1)]
        if fit is not None and valid is not None:
            weight = _fusion_weight(chooser[img_key], chooser["title"], labels, fit & keep, valid & keep, seed)
            preds["late_fusion_weighted"] = classes[fuse(logp[img_key], logp["title"], weight).argmax(1)]
        both = np.hstack([image, title])
        preds["early_fusion"] = SoftmaxHead(seed=seed).fit(both[tr], labels[tr]).predict(both[te])
        for modality in MODALITIES:
            if modality in preds:
                rows.append({
                    "task": task, "modality": modality, **score(labels[te], preds[modality]),
                    "test_products": int(te.sum()), "classes": int(len(classes)),
                    **({"fusion_weight": weight} if modality == "late_fusion_weighted" else {}),
                    **({"ensemble_weight": ensemble} if modality == "image_ensemble" else {}),
                })
    return rows


def _fusion_weight(
    first: np.ndarray, second: np.ndarray, labels: np.ndarray, fit: np.ndarray, valid: np.ndarray, seed: int
) -> float:
    """The weight of the ``first`` input's head (the image in late fusion) against the ``second``'s, chosen on
    ``valid`` rows by heads trained on ``fit`` rows."""
    one = SoftmaxHead(seed=seed).fit(first[fit], labels[fit])
    two = SoftmaxHead(seed=seed).fit(second[fit], labels[fit])
    known = valid & np.isin(labels, one.classes_)
    codes = np.searchsorted(one.classes_, labels[known])
    weight, _ = choose_weight(one.log_proba(first[known]), two.log_proba(second[known]), codes)
    return weight
