"""SASRec (full cross-entropy, attribute fusion) learns next items on real Beauty data and resumes."""

from __future__ import annotations

import numpy as np
import pytest

from shopintent.persist import ModelFileError
from shopintent.recommend import Recommender, evaluate, make_model
from shopintent.recommend.sasrec import SASRec

FAST = {"hidden": 32, "epochs": 3, "lr": 3e-3, "dropout": 0.2, "valid_users": 500, "threads": 1,
        "batch_size": 128, "seed": 0}


@pytest.fixture(scope="module")
def sasrec(beauty_slice):  # type: ignore[no-untyped-def]
    split, items = beauty_slice
    return SASRec(**FAST).fit(split.train, items=items, catalogue=split.catalogue, valid=split.valid)


def test_sasrec_beats_popularity_on_held_out_test(sasrec, beauty_slice) -> None:  # type: ignore[no-untyped-def]
    split, items = beauty_slice
    pop = make_model("pop").fit(split.train, catalogue=split.catalogue)
    got = evaluate(sasrec, split.test, split.train).metrics
    floor = evaluate(pop, split.test, split.train).metrics
    # Measured: SASRec 3 epochs HR@10 0.113 on this slice (1,000 items); popularity 0.009.
    assert got["HR@10"] > 0.07
    assert got["NDCG@10"] > 2.5 * floor["NDCG@10"]


def test_validation_drives_the_kept_epoch(sasrec) -> None:  # type: ignore[no-untyped-def]
    history = sasrec.history_
    assert [h["epoch"] for h in history] == [1, 2, 3]
    best = max(history, key=lambda h: h["valid_NDCG@10"])
    assert sasrec.best_epoch_ == best["epoch"]
    assert history[-1]["loss"] < history[0]["loss"]
    assert sasrec.metrics_["valid_NDCG@10"] == pytest.approx(best["valid_NDCG@10"])


def test_attributes_are_fused_into_item_vectors(sasrec, beauty_slice) -> None:  # type: ignore[no-untyped-def]
    split, items = beauty_slice
    n_codes = len({c for i in split.catalogue if i in items for c in items[i].attributes})
    assert len(sasrec.attribute_vocab_) == n_codes > 100
    assert sasrec.network_.attributes is not None
    assert sasrec.item_embeddings().shape == (len(split.catalogue), 32)


def test_save_load_round_trip_scores_identically(sasrec, beauty_slice, tmp_path) -> None:  # type: ignore[no-untyped-def]
    split, _ = beauty_slice
    loaded = Recommender.load(sasrec.save(tmp_path / "sasrec"))
    histories = [sasrec.index_.encode(ex.history) for ex in split.test[:64]]
    np.testing.assert_allclose(loaded.score(histories), sasrec.score(histories), rtol=1e-4, atol=1e-4)


def test_training_resumes_from_its_checkpoint(beauty_slice, tmp_path) -> None:  # type: ignore[no-untyped-def]
    split, items = beauty_slice
    small = [s for s in split.train[:600]]
    fit_args = {"items": items, "catalogue": split.catalogue, "valid": split.valid[:300]}
    params = {**FAST, "epochs": 1, "checkpoint_dir": str(tmp_path / "ckpt")}
    first = SASRec(**params).fit(small, **fit_args)
    (tmp_path / "ckpt" / "checkpoint.pt").write_bytes(b"not a pickle: an older checkpoint is never loaded")
    resumed = SASRec(**{**params, "epochs": 2})
    epochs_run: list[int] = []
    resumed.on_epoch = lambda epoch, total, record: epochs_run.append(epoch)
    resumed.fit(small, **fit_args)
    assert epochs_run == [2]  # epoch 1 came from the checkpoint
    assert [h["epoch"] for h in resumed.history_] == [1, 2]
    assert resumed.history_[0] == first.history_[0]
    # network, optimiser and both RNGs restored: the same model as two epochs in one go
    straight = SASRec(**{**FAST, "epochs": 2}).fit(small, **fit_args)
    histories = [e.history for e in split.test[:50]]
    encoded = [straight.index_.encode(h) for h in histories]
    np.testing.assert_allclose(resumed.score(encoded), straight.score(encoded), rtol=1e-5, atol=1e-6)
    checkpoint = tmp_path / "ckpt" / "checkpoint"
    assert sorted(p.name for p in checkpoint.iterdir()) == [
        "manifest.json", "model.json", "state.json", "tensors.safetensors"]


def test_a_changed_checkpoint_is_refused(beauty_slice, tmp_path) -> None:  # type: ignore[no-untyped-def]
    split, items = beauty_slice
    fit_args = {"items": items, "catalogue": split.catalogue, "valid": split.valid[:100]}
    params = {**FAST, "epochs": 1, "checkpoint_dir": str(tmp_path / "ckpt")}
    SASRec(**params).fit(split.train[:300], **fit_args)
    state = tmp_path / "ckpt" / "checkpoint" / "state.json"
    state.write_text(state.read_text().replace('"epoch": 1', '"epoch": 0'))
    with pytest.raises(ModelFileError, match="state.json: changed since it was saved"):
        SASRec(**{**params, "epochs": 2}).fit(split.train[:300], **fit_args)
