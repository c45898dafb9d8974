"""A saved TF-IDF featurizer loads to the same rows it was fitted to compute, without a refit at load."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from shopintent.settings import Settings
from shopintent.text.clean import clean_text
from shopintent.persist import load_arrays
from shopintent.text.features import TextFeaturizer, _tfidf


def _utterances(settings: Settings, split: str) -> list[str]:
    path = settings.data_dir / "bitext_customer_service" / f"Bitext_Sample_Customer_Service_{split}_Dataset.csv"
    with path.open(newline="", encoding="utf-8") as f:
        return [row["utterance"] for row in csv.DictReader(f)]


def test_loaded_tfidf_rows_equal_the_fitted_featurizers_on_held_out_bitext_texts(
        settings: Settings, tmp_path: Path) -> None:
    fitted = TextFeaturizer(encoders=(), tfidf_max_features=20_000).fit(_utterances(settings, "Training")[::5])
    fitted.save(tmp_path)
    loaded = TextFeaturizer.load(tmp_path, fitted.params())
    texts = _utterances(settings, "Testing")[:400] + ["我要退货", "", "ｆｕｌｌｗｉｄｔｈ", "emoji 😀 ok"]
    cleaned = [clean_text(t) for t in texts]

    # the load before this change: a fit on [""] over the fixed vocabulary, then the saved idf
    refitted = _tfidf(20_000).set_params(vocabulary=loaded.tfidf_.vocabulary_, min_df=1, max_features=None)
    refitted.fit([""])
    refitted.idf_ = load_arrays(tmp_path / "tfidf_idf.safetensors")["idf"]

    assert fitted.tfidf_ is not None and loaded.tfidf_ is not None
    assert loaded.tfidf_.vocabulary_ == fitted.tfidf_.vocabulary_ == refitted.vocabulary_
    old = TextFeaturizer.load(tmp_path, fitted.params())
    old.tfidf_ = refitted
    # sklearn's own transform and the service's direct path (TextFeaturizer.tfidf), each with the
    # same values as after the old load (and as the fitted featurizer's, to float32 rounding of the
    # saved idf)
    pairs = ((loaded.tfidf_.transform(cleaned), refitted.transform(cleaned)),
             (loaded.tfidf(cleaned), old.tfidf(cleaned)))
    for got, before in pairs:
        assert got is not None and before is not None
        assert got.shape == before.shape and got.nnz == before.nnz > 10 * len(texts)
        assert (got != before).nnz == 0
        assert np.allclose(got.toarray(), fitted.tfidf_.transform(cleaned).toarray(), rtol=1e-5, atol=1e-6)
