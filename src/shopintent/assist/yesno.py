"""Yes/no answer prediction for yes/no product questions (AmazonQA ``answerType`` Y or N).

Why: a yes/no question deserves a yes or a no first. Two readings are
measured, both on product-disjoint splits against the majority answer:

* ``question``: from the question alone (what the shop can say before anyone
  answered; little signal is expected — most answers are "yes");
* ``answer``: from the text of a stored answer, which turns a retrieved answer
  into a "Yes —" / "No —" reply.

The model is a logistic regression over frozen USE-multilingual embeddings
plus word TF-IDF, its regularisation chosen on a validation part.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shopintent.settings import Settings
from shopintent.text.encoders import get_encoder

C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)


class YesNoClassifier:
    """P(yes) from a text: logistic regression on USE embeddings + TF-IDF."""

    def __init__(self, C: float | None = None, settings: Settings | None = None) -> None:
        self.C = C
        self.settings = settings or Settings()
        self.model_: Any = None
        self.vectoriser_: Any = None
        self.validation_: dict[str, float] = {}

    def _features(self, texts: Sequence[str], fit: bool = False) -> Any:
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer

        dense = get_encoder("use", self.settings.state_dir).encode(list(texts))
        if fit:
            self.vectoriser_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
            words = self.vectoriser_.fit_transform(texts)
        else:
            words = self.vectoriser_.transform(texts)
        return sparse.hstack([sparse.csr_matrix(dense), words]).tocsr()

    def fit(self, texts: Sequence[str], labels: Sequence[bool],
            validation: tuple[Sequence[str], Sequence[bool]] | None = None) -> YesNoClassifier:
        """Fit; with ``validation`` and no ``C``, choose ``C`` by balanced accuracy on it."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import balanced_accuracy_score

        x = self._features(texts, fit=True)
        y = np.asarray(labels, dtype=int)
        if self.C is None and validation is not None:
            xv = self._features(validation[0])
            yv = np.asarray(validation[1], dtype=int)
            for c in C_GRID:
                m = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(x, y)
                self.validation_[str(c)] = float(balanced_accuracy_score(yv, m.predict(xv)))
            self.C = float(max(C_GRID, key=lambda c: self.validation_[str(c)]))
        self.model_ = LogisticRegression(C=self.C or 1.0, max_iter=2000, class_weight="balanced").fit(x, y)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(yes) per text."""
        return self.model_.predict_proba(self._features(texts))[:, 1]


def metrics(truth: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro F1."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(truth, predicted)),
            "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
            "macro_f1": float(f1_score(truth, predicted, average="macro"))}
