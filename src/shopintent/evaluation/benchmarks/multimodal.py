"""Multimodal benchmark: product photos and titles on the real Fashion Product Images set (issue 17).

Protocol (data: ``fashion_product_images_224``, 9,583 real Myntra catalogue photos with titles):

* **Split.** 80/20 by product id at random, stratified by articleType, seed
  :data:`SEED`; classes with < 20 products dropped per task. Everything below
  trains on the 80 % and is scored on the 20 %. Every choice (fine-tuning
  epochs, image-ensemble and late-fusion weights, whether Chinese templates join the contrastive
  training, int8 or not) is made on a *validation* part: the training products
  split 80/20 again the same way (``fit`` / ``valid``); the test part is never seen.
* **Understanding.** articleType, masterCategory, gender, baseColour; a softmax
  head on each input: frozen ImageNet EfficientNet-Lite0 embedding (``image``),
  the same network with its top fine-tuned on the ``fit`` photos
  (``image_finetuned``: MBConv blocks :data:`FINETUNE_FROM`.. + ``conv_head`` +
  BatchNorm + per-task heads, trained on cached block-:data:`FINETUNE_CACHE_BLOCK`
  features of the photos and of the mirrored photos as augmentation, cosine
  learning rate, label smoothing; the epoch chosen on ``valid`` articleType
  accuracy with early stopping, and test-time flip averaging kept only if it
  wins on ``valid``; see :mod:`shopintent.multimodal.finetune`), the photo-only ensemble of the
  fine-tuned and the frozen image heads (``image_ensemble``: weighted log-probabilities, weight chosen
  on ``valid`` by heads trained on ``fit``), the USE title embedding (``title``),
  late fusion (sum of fine-tuned-image and title log-probabilities), weighted
  late fusion (image weight chosen on ``valid``) and early
  fusion (one head on both). Accuracy and macro-F1 per task and modality.
* **Text -> image search.** The contrastive projection trains on the training
  products' (image, title) pairs plus (image, English label template) pairs,
  and — when that wins on ``valid`` Chinese recall@10 while English titles keep
  recall@10 >= 0.60 there — (image, Chinese label
  template) pairs of the *training* products (same template as the test
  queries, never a test product's text); the variant is chosen on a ``valid``
  gallery by projections trained on ``fit``;
  1,000 test products (seeded sample) are the gallery. Queries: each product's
  title; the English template "Men Black T-shirt"; the same template in
  Chinese ("男士黑色T恤", TEMPLATED by hand-written dictionaries,
  :mod:`shopintent.multimodal.queries`) for every gallery product whose labels
  translate. Recall@1/5/10 and MRR. Image -> similar: share of the 10 nearest
  gallery photos with the query photo's articleType.
* **Attribute filling.** Image-only heads for articleType, baseColour, gender,
  usage; the field hidden on the test products; coverage and precision at
  confidence thresholds.
* **Side features for recommendation** (:mod:`shopintent.recommend.side_features`).
  (a) No staged data set joins photos or titles to interactions, so cold start
  is measured on Amazon Beauty with its attribute codes (categories + brand) as
  the side vectors: 10 % of the catalogue (seeded) becomes *new* — every
  interaction with it removed from training, kept in histories and targets —
  leave-one-out full ranking, V-SKNN alone vs V-SKNN with side-feature cold
  scoring (offset chosen on the validation examples), HR@10 / NDCG@10 on cold
  and warm test targets. (b) "Similar items" from photo and title embeddings on
  the fashion test products: share of the 10 nearest test products with the
  query's articleType / baseColour (labels never used to build the vectors).
* **Speed and ONNX.** The whole image encoder exported to ONNX; max |ONNX - torch|
  on real test photos; images/s through onnxruntime with 2 threads (batches of
  16) and per-image latency (one photo per call, decode included), p50/p99.
  int8: static quantisation (QLinear operators) calibrated on training photos; articleType
  accuracy of the same head on the test gallery's photos encoded by the float
  and the int8 model; kept only within 0.5 point. Speed of both.
  Measured on a shared, busy machine; the 1-minute load average is recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shopintent.evaluation.bench import BenchResult, Measurement
from shopintent.log import get_logger
from shopintent.persist import load_arrays, save_arrays, write_json
from shopintent.multimodal.attributes import FIELDS, filling_report
from shopintent.multimodal.cache import cached_embeddings, cached_trunk
from shopintent.multimodal import encoder as encoder_module
from shopintent.multimodal import finetune as finetune_module
from shopintent.multimodal.encoder import HeadStage, ImageEncoder, block_features, pretrained_net
from shopintent.multimodal.evaluate import retrieval
from shopintent.multimodal.fashion import IMAGES_URL, LABELS_URL, TASKS, FashionData, load_fashion
from shopintent.multimodal.finetune import finetune_head
from shopintent.multimodal.heads import SoftmaxHead, score
from shopintent.multimodal.images import read_image
from shopintent.multimodal.onnx_export import export_encoder, quantize_int8
from shopintent.multimodal.onnx_export import run as run_onnx
from shopintent.multimodal.queries import templated_queries
from shopintent.multimodal.split import kept_classes, split_ids
from shopintent.multimodal.text import embed_texts
from shopintent.multimodal.understanding import task_rows
from shopintent.multimodal.views import SHIFT_SETS, cached_view_embeddings
from shopintent.settings import Settings

log = get_logger(__name__)

SEED = 1
#: The feature cache for fine-tuning holds the input of MBConv block 11 (stage 6), plain and mirrored photos;
#: blocks from FINETUNE_FROM on, the last stage and the task heads are trained (the blocks below stay frozen).
FINETUNE_CACHE_BLOCK = 11
FINETUNE_FROM = 11
#: learning-rate factor per trainable MBConv block below the last (layer-wise decay; 1 = one rate)
FINETUNE_BLOCK_LR_DECAY = 1.0
#: a 15-epoch cap (cosine over 15 epochs, patience 3) was tried on validation and not kept: 0.8998 with its best
#: views, the same as this recipe's (14 vs 14 discordant validation products; docs/multimodal.md)
MAX_FINETUNE_EPOCHS = 10
FINETUNE_PATIENCE = 2
FINETUNE_LR = 5e-4
LABEL_SMOOTHING = 0.1
#: after the epoch count is chosen on validation, train the top again on fit + valid for that many epochs
FINETUNE_REFIT = True
#: cache-side augmentation and weight averaging (shopintent.multimodal.finetune): shift in cells of the
#: cached map, mixup Beta alpha (0 = off), EMA decay of the trained weights (None = off)
FINETUNE_SHIFT = 1
FINETUNE_MIXUP = 0.0
FINETUNE_EMA: float | None = 0.98
#: test-time views of the cached maps (shopintent.multimodal.views.SHIFT_SETS): 0 = the plain map only; 4 or 8 =
#: also its one-cell shifts, a candidate the validation products choose or reject beside plain and flip.
#: 4 chosen on validation (fit-only head): flip + 4 shifts 0.8998, flip + 8 shifts 0.8985, flip 0.8951, plain 0.8918
FINETUNE_TEST_SHIFTS = 4
#: random resized crops of each photo cached as extra training views (shopintent.multimodal.augment); 0 = none
#: 4 views were tried on validation and not kept: 0.8925 (block 11) and 0.8884 (block 9) vs this recipe's 0.8998
FINETUNE_CROP_VIEWS = 0
CONTRASTIVE_EPOCHS = 10
SPEED_IMAGES = 64
CALIBRATION_IMAGES = 128
INT8_TOLERANCE = 0.005
INT8_PHOTOS = 500
TITLE_RECALL_GOAL = 0.60
GOALS = {("articleType", "image"): 0.90, ("articleType", "late_fusion_weighted"): 0.97,
         ("baseColour", "late_fusion_weighted"): 0.80}


def _split_text(n_train: int, n_test: int) -> str:
    return f"80/20 by product id, stratified by articleType, seed {SEED} ({n_train:,} train / {n_test:,} test)"


def _understanding(  # type: ignore[no-untyped-def]
    products, emb, train, test, fit, valid, split, choice=None,
) -> tuple[list[Measurement], dict[str, dict[str, float]]]:
    out, weights, ensembles = [], {}, {}
    for row in task_rows(products, TASKS, emb, train, test, seed=SEED, fit=fit, valid=valid,
                         choice_embeddings=choice):
        task, modality = row["task"], row["modality"]
        photo_only = modality in ("image_finetuned", "image_ensemble")
        goal = GOALS.get((task, modality)) or (GOALS.get((task, "image")) if photo_only else None)
        goal_text = f"; goal >= {goal}" if goal else ""
        extra = ""
        if "fusion_weight" in row:
            weights[task] = float(row["fusion_weight"])
            extra = f"; image weight {row['fusion_weight']} chosen on validation products"
        if "ensemble_weight" in row:
            ensembles[task] = float(row["ensemble_weight"])
            extra = (f"; photo only: fine-tuned head weight {row['ensemble_weight']} against the frozen head, "
                     "chosen on validation products")
        for metric in ("accuracy", "macro_f1"):
            out.append(Measurement(f"{task} {modality} {metric.replace('_', '-')}", float(row[metric]), metric,
                                   f"{split}; {row['test_products']:,} test products, {row['classes']} classes"
                                   f"{extra}{goal_text if metric == 'accuracy' else ''}"))
    return out, {"late_fusion_weights": weights, "image_ensemble_weights": ensembles}


def _query_embeddings(products, state_dir) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """English and Chinese template query embeddings per product (Chinese NaN where labels do not translate)."""
    q = templated_queries(products)
    en_t = embed_texts(q["en"].tolist(), state_dir)
    zh = np.full((len(products), en_t.shape[1]), np.nan, dtype=np.float32)
    have_zh = q["zh"].notna().to_numpy()
    zh[have_zh] = embed_texts(q.loc[have_zh, "zh"].tolist(), state_dir)
    return en_t, zh


def _train_and_rank(image, title, en_t, zh, train, test, with_zh):  # type: ignore[no-untyped-def]
    """Projection trained on ``train`` products' pairs (+ Chinese templates if asked); metrics on a ``test`` gallery."""
    rows = np.flatnonzero(train)
    imgs, txts = [image[rows], image[rows]], [title[rows], en_t[rows]]
    if with_zh:
        rz = rows[~np.isnan(zh[rows, 0])]
        imgs.append(image[rz])
        txts.append(zh[rz])
    pair_img, pair_txt = np.vstack(imgs), np.vstack(txts)
    full_img = np.vstack([image, pair_img])
    full_txt = np.vstack([title, pair_txt])
    tr = np.r_[np.zeros(len(image), bool), np.ones(len(pair_img), bool)]
    te = np.r_[test, np.zeros(len(pair_img), bool)]
    queries = {"en_template": np.vstack([en_t, np.zeros_like(pair_txt)]),
               "zh_template": np.vstack([zh, np.full_like(pair_txt, np.nan)])}
    return retrieval(full_img, full_txt, tr, te, SEED, queries, epochs=CONTRASTIVE_EPOCHS)


def _retrieval(products, image, title, train, test, fit, valid, split, state_dir,  # type: ignore[no-untyped-def]
               choice_image=None):
    """``choice_image``: the photo embeddings the variant is chosen with on validation (default ``image``;
    the fit-only fine-tuned head's when the measured head was refit on the validation photos)."""
    en_t, zh = _query_embeddings(products, state_dir)
    choice: dict[str, Any] = {}
    for with_zh in (False, True):
        _, val = _train_and_rank(image if choice_image is None else choice_image, title, en_t, zh, fit, valid,
                                 with_zh)
        choice[f"chinese_pairs={with_zh}"] = {k: round(val[k]["recall_at_10"], 4)
                                               for k in ("title", "en_template", "zh_template")}
    # the variant with the better validation Chinese recall@10, as long as English titles keep the
    # issue's goal (recall@10 >= 0.60) on validation
    base = choice["chinese_pairs=False"]
    with_zh = (choice["chinese_pairs=True"]["zh_template"] > base["zh_template"]
               and choice["chinese_pairs=True"]["title"] >= TITLE_RECALL_GOAL)
    projection, ret = _train_and_rank(image, title, en_t, zh, train, test, with_zh)
    gallery_rows = ret.pop("gallery_rows")
    trained_on = ("(image, title) + (image, English template)"
                  + (" + (image, Chinese template) pairs of training products" if with_zh else " pairs"))
    out = []
    names = {"title": "English title", "en_template": "English template query",
             "zh_template": "Chinese template query (TEMPLATED from labels)"}
    for key, label in names.items():
        metrics = ret[key]
        for metric in ("recall_at_1", "recall_at_5", "recall_at_10", "mrr"):
            goal = "; goal recall@10 >= 0.60 (titles), Chinese within 10 points of English" \
                if metric == "recall_at_10" else ""
            out.append(Measurement(f"text->image {key} {metric.replace('_at_', '@')}", metrics[metric], metric,
                                   f"{label}; {metrics['queries']:,} queries, gallery {metrics['gallery']:,} "
                                   f"test products; projection trained on {trained_on}; {split}{goal}"))
    for variant, recalls in choice.items():
        for key, value in recalls.items():
            out.append(Measurement(f"validation text->image {key} recall@10 ({variant})", value, "recall_at_10",
                                   "projection trained on the fit part of the training products, gallery of up to "
                                   "1,000 validation products (training products held out); used to choose the variant"))
    shared = projection.embed_images(image[gallery_rows])
    types = products["articleType"].to_numpy()[gallery_rows]
    sims = shared @ shared.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1)[:, :10]
    same = (types[top] == types[:, None]).mean()
    out.append(Measurement("image->similar same-articleType@10", float(same), "share",
                           f"10 nearest photos in the shared space among the {len(gallery_rows):,}-product gallery"))
    return out, {"chinese_pairs_in_training": with_zh, "retrieval_validation": choice}


def _attributes(products, image, train, test, split) -> list[Measurement]:  # type: ignore[no-untyped-def]
    out = []
    for field in FIELDS:
        labels = products[field].astype(str).to_numpy()
        keep = np.isin(labels, list(kept_classes(products[field].astype(str))))
        tr, te = train & keep, test & keep
        head = SoftmaxHead(seed=SEED).fit(image[tr], labels[tr])
        for row in filling_report(head, image[te], labels[te]):
            t = row["threshold"]
            detail = (f"{field} hidden on {te.sum():,} test products, filled from the photo where confidence >= {t}; "
                      f"{split}")
            out.append(Measurement(f"fill {field} conf>={t} coverage", row["coverage"], "share", detail))
            out.append(Measurement(f"fill {field} conf>={t} precision", row["precision"], "accuracy", detail))
    return out


def _similar_items(products, image, title, test) -> list[Measurement]:  # type: ignore[no-untyped-def]
    """Image/title side vectors for "similar items": label agreement of the 10 nearest test products."""
    from shopintent.recommend.side_features import side_matrix, similar_items

    ids = products["id"].astype(str).tolist()
    rows = np.flatnonzero(test) + 1  # side_matrix row 0 is padding
    out = []
    blocks = {"image": {"image": dict(zip(ids, image, strict=True))},
              "title": {"title": dict(zip(ids, title, strict=True))}}
    blocks["image+title"] = {**blocks["image"], **blocks["title"]}
    for name, block in blocks.items():
        near = similar_items(side_matrix(ids, block), rows, k=10, among=rows)
        for field in ("articleType", "baseColour"):
            labels = np.r_[[""], products[field].astype(str).to_numpy()]
            share = float((labels[near] == labels[rows][:, None]).mean())
            out.append(Measurement(f"similar items ({name}) same-{field}@10", share, "share",
                                   f"10 nearest of each of the {len(rows):,} test products among the test products "
                                   f"(cosine of side vectors: fine-tuned photo embedding and/or USE title; "
                                   f"labels held out)"))
    return out


def _cold_start(settings: Settings) -> tuple[list[Measurement], dict[str, Any]]:
    """Beauty cold-start protocol (module docstring, side features (a))."""
    from shopintent.datasets import amazon_seqrec
    from shopintent.recommend.content import attribute_matrix
    from shopintent.recommend.data import leave_one_out
    from shopintent.recommend.evaluate import evaluate, metrics_from_ranks
    from shopintent.recommend.registry import make_model
    from shopintent.recommend.side_features import SideFeatureColdStart
    from shopintent.schema.records import InteractionSequence

    sequences = amazon_seqrec.read_sequences("Beauty", settings)
    items = amazon_seqrec.read_items("Beauty", settings)
    split = leave_one_out(sequences)
    rng = np.random.default_rng(SEED)
    new = set(rng.choice(np.asarray(split.catalogue), size=len(split.catalogue) // 10, replace=False).tolist())
    train = [InteractionSequence(q.user_id, tuple(i for i in q.items if i not in new)) for q in split.train]
    train = [q for q in train if q.items]
    matrix, _ = attribute_matrix(split.catalogue, items)
    side = {item: matrix[r + 1].toarray().ravel() for r, item in enumerate(split.catalogue)}
    cold = np.asarray([ex.target in new for ex in split.test])
    wrapped = SideFeatureColdStart(make_model("sknn"), side).fit(
        train, items, catalogue=split.catalogue, valid=split.valid)
    base = wrapped.base_  # V-SKNN alone: the wrapped copy, fitted on the same training sequences and catalogue
    protocol = (f"Amazon Beauty leave-one-out test, full ranking over {len(split.catalogue):,} items, history "
                f"excluded; {len(new):,} items (10 %, seed {SEED}) made new: all their training interactions "
                f"removed; {int(cold.sum()):,} cold / {int((~cold).sum()):,} warm test targets; side vectors = "
                f"attribute codes (categories + brand), no photos or titles join these interactions")
    out = []
    for label, model in (("V-SKNN", base), ("V-SKNN + side-feature cold start", wrapped)):
        ranks = evaluate(model, split.test).ranks
        for part, mask in (("cold", cold), ("warm", ~cold), ("all", np.ones_like(cold))):
            m = metrics_from_ranks(ranks[mask], (10,))
            for metric in ("HR@10", "NDCG@10"):
                out.append(Measurement(f"cold start Beauty · {label} · {part} targets {metric}", m[metric], "",
                                       protocol + (f"; offset {wrapped.offset_} chosen on validation examples"
                                                   if model is wrapped else "")))
    return out, {"cold_start_selection": wrapped.selection_, "cold_start_new_items": len(new)}


def _beauty_files():  # type: ignore[no-untyped-def]
    from shopintent.datasets import amazon_seqrec

    return [f for f in amazon_seqrec.SPEC.files if f.path.startswith("Beauty")]


def _encode(onnx_file: Path, paths: list[Path], flip_average: bool) -> np.ndarray:
    """1280-d embeddings of photos through an exported encoder, 16 at a time (mean with the mirrored
    photo's when the benchmark's embeddings are flip-averaged, so the head sees what it was trained on)."""
    parts = []
    for i in range(0, len(paths), 16):
        batch = np.stack([read_image(p) for p in paths[i : i + 16]])
        emb = run_onnx(onnx_file, batch, threads=2)
        if flip_average:
            emb = (emb + run_onnx(onnx_file, np.ascontiguousarray(batch[..., ::-1]), threads=2)) / 2
        parts.append(emb)
    return np.concatenate(parts)


def _speed(onnx_file: Path, images: list[np.ndarray], paths: list[Path]) -> tuple[float, list[float]]:
    run_onnx(onnx_file, np.stack(images[:16]), threads=2)  # warm-up
    started = time.perf_counter()
    for i in range(0, len(images), 16):
        run_onnx(onnx_file, np.stack(images[i : i + 16]), threads=2)
    rate = len(images) / (time.perf_counter() - started)
    per_image = []
    for path in paths:
        t0 = time.perf_counter()
        run_onnx(onnx_file, read_image(path)[None], threads=2)
        per_image.append((time.perf_counter() - t0) * 1000)
    return rate, per_image


def _speed_and_onnx(  # type: ignore[no-untyped-def]
    paths: list[Path], encoder: ImageEncoder, calibration: list[Path], accuracy_paths: list[Path],
    head: SoftmaxHead, truth: np.ndarray, flip_average: bool,
) -> tuple[list[Measurement], dict[str, Any]]:
    load = os.getloadavg()[0]
    images = [read_image(p) for p in paths]
    busy = f"measured on a shared, busy machine (1-min load average {load:.1f} on 2 cores)"
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        onnx_file = export_encoder(Path(tmp) / "encoder.onnx", encoder)
        batch = np.stack(images[:32])
        with torch.inference_mode():
            want = encoder(torch.from_numpy(batch)).numpy()
        diff = float(np.abs(run_onnx(onnx_file, batch, threads=2) - want).max())
        out.append(Measurement("onnx max |onnx - torch|", diff, "abs difference of 1280-d embeddings",
                               "whole image encoder exported (opset 17), 32 real test photos"))
        int8_file = quantize_int8(onnx_file, Path(tmp) / "encoder-int8.onnx",
                                  np.stack([read_image(p) for p in calibration]))
        accuracy = {}
        for name, file in (("float32", onnx_file), ("int8", int8_file)):
            accuracy[name] = score(truth, head.predict(_encode(file, accuracy_paths, flip_average)))["accuracy"]
        kept = accuracy["float32"] - accuracy["int8"] <= INT8_TOLERANCE
        detail = (f"articleType accuracy of the fine-tuned image head on {len(accuracy_paths):,} test photos "
                  f"encoded end to end by the ONNX model{' (photo and mirrored photo averaged)' if flip_average else ''}; int8 = static QLinear operators, per-channel int8 "
                  f"weights, activations calibrated (MinMax) on {len(calibration)} training photos; kept only within "
                  f"{INT8_TOLERANCE * 100:.1f} point: {'kept' if kept else 'NOT kept'}")
        for name, value in accuracy.items():
            out.append(Measurement(f"onnx {name} articleType image accuracy", value, "accuracy", detail))
        for name, file in (("float32", onnx_file), ("int8", int8_file)):
            rate, per_image = _speed(file, images, paths)
            out += [
                Measurement(f"images/s onnxruntime 2 threads ({name})", rate, "images/s",
                            f"{len(images)} real photos, batches of 16, preprocessed; {busy}"),
                Measurement(f"per-image latency p50 ({name})", float(np.percentile(per_image, 50)), "ms",
                            f"one photo per call, JPEG decode + encoder, {len(paths)} photos; {busy}"),
                Measurement(f"per-image latency p99 ({name})", float(np.percentile(per_image, 99)), "ms",
                            f"one photo per call, JPEG decode + encoder, {len(paths)} photos; {busy}"),
            ]
    return out, {"loadavg_1min_at_speed": round(load, 2), "int8_kept": bool(kept)}


@dataclass(frozen=True)
class FinetuneRecipe:
    """How the encoder's top is fine-tuned (module docstring); the bench's constants by default.

    Why one object: the development script tries other recipes on the validation products
    (``benchmarks/multimodal_understanding.py --validation-only``) through exactly this code.
    """

    train_from: int = FINETUNE_FROM
    block_lr_decay: float = FINETUNE_BLOCK_LR_DECAY
    max_epochs: int = MAX_FINETUNE_EPOCHS
    patience: int = FINETUNE_PATIENCE
    lr: float = FINETUNE_LR
    label_smoothing: float = LABEL_SMOOTHING
    refit: bool = FINETUNE_REFIT
    cache_block: int = FINETUNE_CACHE_BLOCK
    shift: int = FINETUNE_SHIFT
    mixup: float = FINETUNE_MIXUP
    ema: float | None = FINETUNE_EMA
    test_shifts: int = FINETUNE_TEST_SHIFTS  # inference only: not part of the fine-tuned head's cache key
    crop_views: int = FINETUNE_CROP_VIEWS

    def describe(self) -> str:
        """What is trained, in words (the results' ``finetuned`` parameter)."""
        decay = (f", learning rate x{self.block_lr_decay} per block below 15" if self.train_from < 15
                 and self.block_lr_decay != 1.0 else "")
        extra = "".join((f", random shift of the cached maps by up to {self.shift} cells" if self.shift else "",
                         f", mixup alpha {self.mixup}" if self.mixup else "",
                         f", EMA of the weights (decay {self.ema}) scored and kept" if self.ema else "",
                         f", {self.crop_views} cached random resized crops per photo as extra training views"
                         if self.crop_views else ""))
        return (f"MBConv blocks {self.train_from}..15 + conv_head + bn1 + per-task linear heads "
                f"(blocks below {self.train_from} frozen; features cached at block {self.cache_block}), "
                f"real horizontal-flip augmentation (mirrored photos cached), cosine learning rate {self.lr}"
                f"{decay}, label smoothing {self.label_smoothing}{extra}")


@dataclass
class Finetuned:
    """The fine-tuning outcome: the head whose embeddings are measured, and the validation record behind it."""

    head: HeadStage  # the refit head when the recipe refits, else the head trained on ``fit``
    tuned: np.ndarray  # its embeddings of every product (flip-averaged when chosen on validation)
    choice: np.ndarray  # embeddings by the head trained on ``fit`` only: what validation choices are made on
    history: list[float]  # validation articleType accuracy per epoch of the ``fit`` run
    best_epoch: int
    flip_choice: dict[str, float]  # validation accuracy per test-time view set (plain, flip-averaged, + shifts)
    views: str = "plain"  # the view set validation chose: what ``tuned`` and ``choice`` are averaged over
    # per other view set: validation products only it, or only flip averaging, gets right (paired noise)
    view_pairs: dict[str, dict[str, int]] = dataclass_field(default_factory=dict)
    # per validation product with a kept articleType class (row order): whether the probe on ``choice`` gets it
    # right; what two recipes are compared with, product by product (:func:`paired_comparison`)
    valid_right: np.ndarray | None = None


def paired_comparison(right: np.ndarray, reference_right: np.ndarray) -> dict[str, float | int]:
    """How two classifiers differ on the same products, counted in products (McNemar's discordant pairs).

    Why paired: two recipes scored on the same 1,534 validation products share most of their errors, so the
    noise of their accuracy difference is set by the products only one of them gets right (``b`` and ``c``),
    not by each accuracy's own binomial spread. A net gain ``b - c`` smaller than about ``sqrt(b + c)`` (one
    paired standard error, ``z`` below 1) is noise; ``z`` near 2 is McNemar's 5 % level."""
    right, reference_right = np.asarray(right, bool), np.asarray(reference_right, bool)
    if right.shape != reference_right.shape:
        raise ValueError(f"the two classifiers were scored on different products: {right.shape} vs "
                         f"{reference_right.shape}")
    only_this, only_reference = int((right & ~reference_right).sum()), int((~right & reference_right).sum())
    spread = math.sqrt(only_this + only_reference)
    return {"products": int(right.size), "only_this_right": only_this, "only_reference_right": only_reference,
            "net_products": only_this - only_reference,
            "accuracy_difference": round((only_this - only_reference) / max(right.size, 1), 4),
            "paired_standard_error_products": round(spread, 2),
            "z": round((only_this - only_reference) / spread, 2) if spread else 0.0}


def _cached_finetune(
    state_dir: Path, key: dict[str, Any], first_block: int, train: Callable[[], HeadStage],
) -> HeadStage:
    """A fine-tuned head from ``state_dir`` when the same ``key`` (data, rows, recipe, code) was trained
    before, else ``train()``'s, saved. Why: the development script chooses a recipe on validation and the
    understanding re-run then measures it; on the shared CPU a deep fine-tune costs most of an hour."""
    weights, record = _head_files(state_dir, key)
    # Safetensors + JSON, as every saved model (no pickle, so no torch.load of a cached file).
    if weights.is_file() and record.is_file():
        saved = json.loads(record.read_text())
        head = HeadStage(pretrained_net(), first_block)
        head.load_state_dict({name: torch.from_numpy(array) for name, array in load_arrays(weights).items()})
        head.history_ = [float(h) for h in saved["history"]]  # type: ignore[assignment]
        head.best_epoch_ = int(saved["best_epoch"])  # type: ignore[assignment]
        log.info("fine-tuned head read from the cache", file=weights.name)
        return head.eval()
    head = train()
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_arrays(weights, {name: tensor.detach().cpu().numpy() for name, tensor in head.state_dict().items()})
    write_json(record, {"history": [float(h) for h in head.history_], "best_epoch": int(head.best_epoch_)})
    return head


def _head_files(state_dir: Path, key: dict[str, Any]) -> tuple[Path, Path]:
    """The safetensors weights and JSON record a fine-tuned head of ``key`` is cached as."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    folder = Path(state_dir) / "multimodal" / "finetuned"
    return folder / f"{digest}.safetensors", folder / f"{digest}.json"


def _finetune_key(data: FashionData, recipe: FinetuneRecipe, rows: np.ndarray, valid: np.ndarray | None,
                  epochs: int) -> dict[str, Any]:
    """What determines a fine-tuned head: data, training and validation rows, recipe, seed and the code."""
    code = hashlib.sha256()
    for module in (finetune_module, encoder_module):
        code.update(Path(module.__file__).read_bytes())
    return {"data": data.sha256, "labels": data.labels_sha256, "seed": SEED,
            # the fit run is the same with or without a refit, and with any test-time views
            "recipe": {k: v for k, v in asdict(replace(recipe, refit=False)).items() if k != "test_shifts"},
            "epochs": epochs, "cache_block": recipe.cache_block, "code": code.hexdigest(),
            "rows": hashlib.sha256(np.packbits(rows).tobytes()).hexdigest(),
            "valid": None if valid is None else hashlib.sha256(np.packbits(valid).tobytes()).hexdigest()}


def _finetune(settings, data, paths, products, fit, valid, recipe: FinetuneRecipe,  # type: ignore[no-untyped-def]
              train=None, state_dir: Path | None = None) -> Finetuned:
    """Fine-tune the encoder's top on the fit photos (epoch chosen on valid); embeddings of every product,
    flip-averaged when that scores better on the validation products. With ``recipe.refit`` (needs
    ``train`` = fit + valid) the top is trained again on all training products for the chosen number of
    epochs under the same cosine schedule, and its embeddings are the ones measured; the validation
    choices downstream read the fit-only head's embeddings (``Finetuned.choice``), since the refit head
    has seen the validation photos (module docstring)."""
    start = recipe.train_from
    mid, mirrored, crops = training_maps(settings, data, paths, recipe)
    labels = {t: products[t].to_numpy() for t in TASKS}
    state_dir = settings.state_dir if state_dir is None else state_dir
    common = {"lr": recipe.lr, "seed": SEED, "flipped": mirrored, "first_block": start, "views": crops,
              "label_smoothing": recipe.label_smoothing, "block_lr_decay": recipe.block_lr_decay,
              "shift": recipe.shift, "mixup": recipe.mixup, "ema": recipe.ema}
    head = _cached_finetune(
        state_dir, _finetune_key(data, recipe, fit, valid, recipe.max_epochs), start,
        lambda: finetune_head(mid, labels, fit, epochs=recipe.max_epochs, valid=valid,
                              patience=recipe.patience, **common))
    fit_key = _finetune_key(data, recipe, fit, valid, recipe.max_epochs)
    variants = _view_variants(recipe.test_shifts)
    embeddings = {name: cached_view_embeddings(state_dir, fit_key, mid, head, SHIFT_SETS[shifts],
                                               flipped=mirrored if flip else None)
                  for name, (flip, shifts) in variants.items()}
    types, keep = _article_types(products)
    choice, right = {}, {}
    for name, emb in embeddings.items():
        probe = SoftmaxHead(seed=SEED).fit(emb[fit & keep], types[fit & keep])
        predicted = probe.predict(emb[valid & keep])
        choice[name] = round(score(types[valid & keep], predicted)["accuracy"], 4)
        right[name] = np.asarray(predicted) == types[valid & keep]
    # the paired noise of each comparison with flip averaging: products only one of the two gets right
    # (McNemar's discordant pairs; a gain of d products against b + c discordant ones is noise when d < ~sqrt(b + c))
    pairs = {name: {"only_this_right": int((right[name] & ~right["flip-averaged"]).sum()),
                    "only_flip_averaged_right": int((~right[name] & right["flip-averaged"]).sum())}
             for name in right if name != "flip-averaged"}
    picked = max(choice, key=lambda name: choice[name])  # ties keep the cheaper view set (listed first)
    flip_average, shifts = variants[picked]
    chosen = embeddings[picked]
    measured, tuned = head, chosen
    if recipe.refit:
        if train is None:
            raise ValueError("a refitting recipe needs the training rows (fit + valid)")
        best = int(head.best_epoch_)
        refit_key = _finetune_key(data, recipe, train, None, best)
        measured = _cached_finetune(
            state_dir, refit_key, start,
            lambda: finetune_head(mid, labels, train, epochs=best, schedule_epochs=recipe.max_epochs, **common))
        tuned = cached_view_embeddings(state_dir, refit_key, mid, measured, SHIFT_SETS[shifts],
                                       flipped=mirrored if flip_average else None)
    return Finetuned(measured, tuned, chosen, [float(h) for h in head.history_], int(head.best_epoch_), choice,
                     picked, pairs, right[picked])


def training_maps(  # type: ignore[no-untyped-def]
    settings: Settings, data, paths: list[Path], recipe: FinetuneRecipe,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The maps the recipe's first trained block reads, for every product: of the photos, of the mirrored
    photos and of each cached random resized crop (``recipe.crop_views``). The frozen blocks between the
    feature cache and the first trained block run once, here."""
    cache, start = recipe.cache_block, recipe.train_from

    def maps(**variant: Any) -> np.ndarray:
        trunk = cached_trunk(paths, data.images_sha256, settings.state_dir, stop=cache, **variant)[0]
        return block_features(trunk, cache, start)

    return maps(), maps(flip=True), [maps(crop=k) for k in range(1, recipe.crop_views + 1)]


def _view_variants(test_shifts: int) -> dict[str, tuple[bool, int]]:
    """The test-time view sets validation chooses among: name -> (flip-averaged, shift set of SHIFT_SETS).
    Plain and flip-averaged always; with ``test_shifts`` also flip-averaged over that many one-cell shifts."""
    variants = {"plain": (False, 0), "flip-averaged": (True, 0)}
    if test_shifts:
        if test_shifts not in SHIFT_SETS:
            raise ValueError(f"test_shifts={test_shifts} is not one of {sorted(SHIFT_SETS)}")
        variants[f"flip-averaged + {test_shifts} shifts"] = (True, test_shifts)
    return variants


def validation_trial(
    settings: Settings, recipe: FinetuneRecipe, threads: int = 1, reference: FinetuneRecipe | None = None,
) -> dict[str, Any]:
    """Fine-tune with ``recipe`` on the fit products only and return its validation record (no test number):
    articleType accuracy per epoch, the best epoch, the flip choice. What recipes are chosen with.

    ``reference`` (e.g. the bench's recipe): also compare the two product by product on the validation
    products (:func:`paired_comparison` of their probes, each on its own chosen views), so a gain can be told
    from noise. Its fit-only head must already be cached: a comparison never starts a fine-tune of its own."""
    torch.set_num_threads(threads)
    data = load_fashion(settings)
    products = data.products
    paths = [Path(p) for p in products["path"]]
    train, _, fit, valid = _splits(products)
    if reference is not None:
        ref_key = _finetune_key(data, replace(reference, refit=False), fit, valid, reference.max_epochs)
        if not all(f.is_file() for f in _head_files(settings.state_dir, ref_key)):
            raise ValueError("the reference recipe's fit-only head is not in the cache under "
                             f"{settings.state_dir}: run its --validation-only trial first")
    started = time.process_time()
    done = _finetune(settings, data, paths, products, fit, valid, replace(recipe, refit=False))
    paired: dict[str, Any] = {}
    if reference is not None:
        ref = _finetune(settings, data, paths, products, fit, valid, replace(reference, refit=False))
        assert done.valid_right is not None and ref.valid_right is not None
        paired = {"paired_vs_reference": {"reference_recipe": asdict(reference), "reference_views": ref.views,
                                          "reference_valid_accuracy": ref.flip_choice[ref.views],
                                          "this_views": done.views, "this_valid_accuracy": done.flip_choice[done.views],
                                          **paired_comparison(done.valid_right, ref.valid_right)},
                  "two_head_ensemble_with_reference": _two_head_ensemble(products, fit, valid, done, ref)}
    return {"recipe": asdict(recipe), "valid_history": [round(h, 4) for h in done.history],
            "best_epoch": done.best_epoch, "best_valid": round(max(done.history), 4),
            "validation_flip_choice": done.flip_choice, "validation_views": done.views,
            "validation_view_discordant_vs_flip": done.view_pairs,
            "cpu_seconds": round(time.process_time() - started, 1),
            "fit_products": int(fit.sum()), "validation_products": int(valid.sum()), **paired}


def _two_head_ensemble(  # type: ignore[no-untyped-def]
    products, fit, valid, done: Finetuned, ref: Finetuned,
) -> dict[str, Any]:
    """Validation articleType accuracy of the two recipes' probes averaged (mean log-probability, each probe on
    its own fit-only embeddings and chosen views), paired against the reference alone.

    Why: two heads that get different validation products right may be worth keeping together (an ensemble of
    two fine-tuned tops, at twice the top's inference cost); this says whether validation supports it before
    any refit is spent on it."""
    types, keep = _article_types(products)
    logp = []
    for emb in (done.choice, ref.choice):
        probe = SoftmaxHead(seed=SEED).fit(emb[fit & keep], types[fit & keep])
        logp.append(probe.log_proba(emb[valid & keep]))
    right = probe.classes_[(logp[0] + logp[1]).argmax(1)] == types[valid & keep]
    assert ref.valid_right is not None
    return {"valid_accuracy": round(float(right.mean()), 4), **paired_comparison(right, ref.valid_right)}


def _article_types(products) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Each product's articleType and whether its class is kept (:func:`kept_classes`): what the articleType
    probes train and score on."""
    types = products["articleType"].astype(str)
    return types.to_numpy(), np.isin(types.to_numpy(), list(kept_classes(types)))


def _splits(products) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """train/test by product id, then fit/valid inside train (module docstring, Split)."""
    train, test = split_ids(products["id"], products["articleType"], seed=SEED)
    inner_train, inner_valid = split_ids(products["id"][train], products["articleType"][train], seed=SEED)
    fit, valid = np.zeros_like(train), np.zeros_like(train)
    fit[np.flatnonzero(train)[inner_train]] = True
    valid[np.flatnonzero(train)[inner_valid]] = True
    return train, test, fit, valid


@dataclass
class Prepared:
    """What every part of the benchmark reads: the data, its split, the embeddings and the fine-tuned top."""

    data: FashionData
    paths: list[Path]
    image: np.ndarray  # frozen ImageNet embeddings
    title: np.ndarray
    train: np.ndarray
    test: np.ndarray
    fit: np.ndarray
    valid: np.ndarray
    split: str
    recipe: FinetuneRecipe
    finetuned: Finetuned

    @property
    def head(self) -> HeadStage:
        return self.finetuned.head

    @property
    def tuned(self) -> np.ndarray:
        return self.finetuned.tuned

    @property
    def flip_choice(self) -> dict[str, float]:
        return self.finetuned.flip_choice


def prepare(settings: Settings, threads: int = 1, recipe: FinetuneRecipe | None = None) -> Prepared:
    """Load the photos' cached features, split the products (train/test, then fit/valid) and fine-tune
    (``threads``: torch's; one by default, the bench shares the CPU with its speed measurements)."""
    torch.set_num_threads(threads)
    recipe = FinetuneRecipe() if recipe is None else recipe
    data = load_fashion(settings)
    products = data.products
    paths = [Path(p) for p in products["path"]]
    trunk, _, errors = cached_trunk(paths, data.images_sha256, settings.state_dir)
    if errors:
        raise ValueError(f"{len(errors)} staged photos did not decode: {sorted(errors)[:3]}")
    image = cached_embeddings(trunk, data.images_sha256, settings.state_dir)
    title = embed_texts(products["productDisplayName"].tolist(), settings.state_dir)
    train, test, fit, valid = _splits(products)
    split = _split_text(int(train.sum()), int(test.sum()))
    finetuned = _finetune(settings, data, paths, products, fit, valid, recipe, train=train)
    return Prepared(data, paths, image, title, train, test, fit, valid, split, recipe, finetuned)


def understanding_part(p: Prepared) -> tuple[list[Measurement], dict[str, Any]]:
    """Accuracy and macro-F1 per task and modality on the test products, with the validation choices behind
    them (what ``benchmarks/multimodal_understanding.py`` runs alone during development)."""
    recipe, done = p.recipe, p.finetuned
    measurements, chosen = _understanding(p.data.products,
                                           {"image": p.image, "image_finetuned": p.tuned, "title": p.title},
                                           p.train, p.test, p.fit, p.valid, p.split,
                                           choice={"image_finetuned": done.choice})
    measurements.append(Measurement("fine-tune best epoch (validation articleType accuracy)",
                                    float(done.best_epoch), "epochs",
                                    f"of at most {recipe.max_epochs} (stop after {recipe.patience} without a "
                                    f"gain), trained on {int(p.fit.sum()):,} fit products, chosen on "
                                    f"{int(p.valid.sum()):,} validation products"
                                    + (f"; then refit on all {int(p.train.sum()):,} training products for "
                                       f"{done.best_epoch} epochs" if recipe.refit else "")))
    for name, value in p.flip_choice.items():
        measurements.append(Measurement(f"validation articleType image_finetuned accuracy ({name})", value, "accuracy",
                                        "softmax head trained on the fit products' fine-tuned embeddings, scored on "
                                        "the validation products; used to choose the test-time views (plain, flip-"
                                        "averaged, flip-averaged over one-cell shifts of the cached maps)"))
    params = {"seed": SEED, "test_fraction": 0.2, "validation": "20 % of the training products, same split",
              "min_class_products": 20, "max_finetune_epochs": recipe.max_epochs,
              "finetune_patience": recipe.patience, "finetune_lr": recipe.lr,
              "finetune_from_block": recipe.train_from, "finetune_block_lr_decay": recipe.block_lr_decay,
              "label_smoothing": recipe.label_smoothing,
              "finetune_best_epoch": done.best_epoch,
              "finetune_valid_history": [round(h, 4) for h in done.history],
              "finetuned": recipe.describe(),
              "finetune_refit": (f"yes: after the epoch count was chosen on validation, the top was trained "
                                 f"again on all {int(p.train.sum()):,} training products (fit + validation) for "
                                 f"{done.best_epoch} epochs under the same {recipe.max_epochs}-epoch cosine "
                                 f"schedule; the measured fine-tuned embeddings are that head's, every "
                                 f"validation choice (flip averaging, ensemble and fusion weights) was made with "
                                 f"the fit-only head's" if recipe.refit else "no"),
              "test_time_flip_average": done.views != "plain",
              "test_time_views": done.views,
              "validation_view_discordant_vs_flip": done.view_pairs,
              "validation_flip_choice": p.flip_choice,
              **chosen}
    return measurements, params


def run(settings: Settings) -> BenchResult:
    """Measure every part of the protocol (module docstring)."""
    started = time.perf_counter()
    p = prepare(settings)
    data, products, paths, head, tuned = p.data, p.data.products, p.paths, p.head, p.tuned
    title, train, test, fit, valid, split = p.title, p.train, p.test, p.fit, p.valid, p.split
    log.info("multimodal benchmark: fine-tuned", seconds=round(time.perf_counter() - started))
    measurements, understanding_params = understanding_part(p)
    log.info("multimodal benchmark: understanding done")
    retrieval_rows, retrieval_params = _retrieval(products, tuned, title, train, test, fit, valid, split,
                                                  settings.state_dir, choice_image=p.finetuned.choice)
    measurements += retrieval_rows
    log.info("multimodal benchmark: retrieval done")
    measurements += _attributes(products, tuned, train, test, split)
    measurements += _similar_items(products, tuned, title, test)
    cold_rows, cold_params = _cold_start(settings)
    measurements += cold_rows
    log.info("multimodal benchmark: side features done")
    rng = np.random.default_rng(SEED)
    speed_paths = [paths[i] for i in sorted(rng.choice(np.flatnonzero(test), SPEED_IMAGES, replace=False))]
    calibration = [paths[i] for i in sorted(rng.choice(np.flatnonzero(fit), CALIBRATION_IMAGES, replace=False))]
    types, keep = _article_types(products)
    type_head = SoftmaxHead(seed=SEED).fit(tuned[train & keep], types[train & keep])
    pool = np.flatnonzero(test & keep)
    gallery = np.sort(rng.choice(pool, min(INT8_PHOTOS, len(pool)), replace=False))
    flip_average = p.finetuned.views != "plain"  # the ONNX rows mirror the photo; shifts are a cache-side view
    speed, speed_params = _speed_and_onnx(speed_paths, ImageEncoder(head), calibration,
                                          [paths[i] for i in gallery], type_head, types[gallery], flip_average)
    measurements += speed
    measurements.append(Measurement("benchmark run time", time.perf_counter() - started, "s",
                                    "image features read from the cache (computed once per data SHA-256)"))
    return BenchResult(
        area="multimodal", measurements=measurements,
        data={"fashion_product_images_224 (images + styles.csv.zip)": data.sha256,
              "fashion_product_images_224/styles.csv.zip": data.labels_sha256,
              **{f"amazon_seqrec/{f.path} (cold-start protocol)": f.sha256
                 for f in _beauty_files()}},
        parameters={**understanding_params,
                    "text_encoder": "use (multilingual USE v3)", "image_encoder": "EfficientNet-Lite0 ImageNet",
                    "gallery": 1000, "contrastive_epochs": CONTRASTIVE_EPOCHS, "counts": data.counts, "source": data.source,
                    "images_url": IMAGES_URL, "labels_url": LABELS_URL,
                    **retrieval_params, **cold_params, **speed_params},
        notes=("Chinese queries are TEMPLATED from the product labels (gender + colour + type, hand-written "
               "dictionaries), not written by shoppers; when Chinese templates join the contrastive training they "
               "are those of training products only. No staged data set joins photos or titles to interactions: "
               "cold start is measured with attribute side vectors on Amazon Beauty, photo/title side vectors "
               "only on similar items. Speed measured on a shared, busy machine; the load average is in the "
               "parameters."),
    )
