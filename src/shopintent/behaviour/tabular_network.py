"""A fitted scikit-learn tabular pipeline as plain arrays: scaling, one-hot, logistic or MLP head.

Why: a saved model must hold numbers, not a pickle (``joblib`` runs code
from the file it loads). :class:`SessionPurchaseModel` fits its logistic and
MLP families with scikit-learn, then exports the fitted pipeline once with
:meth:`TabularNetwork.from_pipeline`: the signed-log + standard scaling of
numeric columns (mean, scale), the one-hot layout of categorical columns
(each known value → its output column, rare values → the shared
"infrequent" column, unknown values → none) and the dense layers (weights,
biases, hidden activation, logistic output). Every prediction, before and
after a save, comes from these arrays, so a round trip is exact; a test
checks the export reproduces scikit-learn's own ``predict_proba``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from shopintent.persist import load_arrays, read_json, save_arrays, write_json

_ACTIVATIONS = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "logistic": expit,
}
NETWORK_FILE = "network.safetensors"
LAYOUT_FILE = "network.json"


def signed_log1p(X: np.ndarray) -> np.ndarray:
    """``sign(x)·log(1+|x|)`` with NaN as 0: tames heavy-tailed counts and durations before scaling."""
    X = np.asarray(X, dtype=float)
    return np.nan_to_num(np.sign(X) * np.log1p(np.abs(X)), nan=0.0)


@dataclass
class OneHotColumn:
    """Where each known value of one categorical column lands among the one-hot outputs."""

    column: str
    values: list[Any]
    outputs: list[int]
    width: int


@dataclass
class TabularNetwork:
    """Numeric scaling + one-hot inputs feeding dense layers with a logistic output (P(class 1))."""

    numeric: list[str]
    mean: np.ndarray
    scale: np.ndarray
    one_hot: list[OneHotColumn]
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    hidden_activation: str

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> TabularNetwork:
        """Export a fitted ``Pipeline([("prep", ColumnTransformer), ("model", LogisticRegression | MLPClassifier)])``.

        The preprocessing must be ``num``: (signed log, ``StandardScaler``) and
        ``cat``: ``OneHotEncoder(handle_unknown="ignore")``, the layout
        :class:`~shopintent.behaviour.session_purchase.SessionPurchaseModel` builds.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import MLPClassifier

        prep, model = pipeline.named_steps["prep"], pipeline.named_steps["model"]
        numeric: list[str] = []
        mean = scale = np.zeros(0)
        one_hot: list[OneHotColumn] = []
        for name, transformer, columns in prep.transformers_:
            if name == "num" and len(columns):
                scaler = transformer.named_steps["scale"]
                numeric, mean, scale = list(columns), scaler.mean_.copy(), scaler.scale_.copy()
            elif name == "cat" and len(columns):
                one_hot = _one_hot_layout(transformer, list(columns))
            elif name not in ("num", "cat", "remainder"):
                raise ValueError(f"cannot export the pipeline step {name!r}")
        if isinstance(model, LogisticRegression):
            if len(model.classes_) != 2:
                raise ValueError("only a binary LogisticRegression can be exported")
            weights, biases, activation = [model.coef_.T.copy()], [model.intercept_.copy()], "identity"
        elif isinstance(model, MLPClassifier):
            if model.out_activation_ != "logistic" or model.n_outputs_ != 1:
                raise ValueError("only a binary MLPClassifier (logistic output) can be exported")
            weights = [w.copy() for w in model.coefs_]
            biases = [b.copy() for b in model.intercepts_]
            activation = model.activation
        else:
            raise ValueError(f"cannot export a {type(model).__name__}")
        network = cls(numeric, mean, scale, one_hot, weights, biases, activation)
        if network.n_inputs != weights[0].shape[0]:
            raise ValueError(f"exported {network.n_inputs} inputs but the model takes {weights[0].shape[0]}")
        return network

    @property
    def n_inputs(self) -> int:
        """Width of the input row: scaled numeric columns then one-hot blocks."""
        return len(self.numeric) + sum(c.width for c in self.one_hot)

    def inputs(self, X: pd.DataFrame) -> np.ndarray:
        """The model's input matrix for the rows of ``X``."""
        blocks = [(signed_log1p(X[self.numeric].to_numpy()) - self.mean) / self.scale]
        for col in self.one_hot:
            block = np.zeros((len(X), col.width))
            # pd.Index matches NumPy and Python scalars alike (np.int64(3) finds 3)
            found = pd.Index(col.values).get_indexer(np.asarray(X[col.column], dtype=object))
            rows = np.flatnonzero(found >= 0)
            block[rows, np.asarray(col.outputs, dtype=int)[found[rows]]] = 1.0
            blocks.append(block)
        return np.hstack(blocks)

    def predict_positive(self, X: pd.DataFrame) -> np.ndarray:
        """P(class 1) for each row of ``X``."""
        z = self.inputs(X)
        hidden = _ACTIVATIONS[self.hidden_activation]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = z @ w + b
            if i != last:
                z = hidden(z)
        return expit(z[:, 0])

    # -- files ------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write ``network.safetensors`` (arrays) and ``network.json`` (column layout)."""
        arrays = {"mean": self.mean, "scale": self.scale}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"weight_{i}"], arrays[f"bias_{i}"] = w, b
        save_arrays(directory / NETWORK_FILE, arrays)
        write_json(directory / LAYOUT_FILE, {
            "numeric": self.numeric,
            "one_hot": [{"column": c.column, "values": [_plain(v) for v in c.values],
                         "outputs": c.outputs, "width": c.width} for c in self.one_hot],
            "layers": len(self.weights),
            "hidden_activation": self.hidden_activation,
        })

    @classmethod
    def load(cls, directory: Path) -> TabularNetwork:
        """Read a network written by :meth:`save` (the caller verified the directory's manifest)."""
        arrays = load_arrays(directory / NETWORK_FILE)
        layout = read_json(directory / LAYOUT_FILE)
        if layout["hidden_activation"] not in _ACTIVATIONS:
            raise ValueError(f"{directory / LAYOUT_FILE}: unknown activation {layout['hidden_activation']!r}")
        return cls(
            numeric=layout["numeric"],
            mean=arrays["mean"],
            scale=arrays["scale"],
            one_hot=[OneHotColumn(**c) for c in layout["one_hot"]],
            weights=[arrays[f"weight_{i}"] for i in range(layout["layers"])],
            biases=[arrays[f"bias_{i}"] for i in range(layout["layers"])],
            hidden_activation=layout["hidden_activation"],
        )


def _one_hot_layout(encoder: Any, columns: list[str]) -> list[OneHotColumn]:
    """Each value's output column in a fitted ``OneHotEncoder`` (rare values share the last column)."""
    if encoder.drop_idx_ is not None or encoder.handle_unknown != "ignore":
        raise ValueError("only OneHotEncoder(drop=None, handle_unknown='ignore') can be exported")
    infrequent = getattr(encoder, "infrequent_categories_", [None] * len(columns))
    layout = []
    for column, values, rare in zip(columns, encoder.categories_, infrequent, strict=True):
        rare_set = set() if rare is None else set(rare.tolist())
        frequent = [v for v in values.tolist() if v not in rare_set]
        outputs = [frequent.index(v) if v not in rare_set else len(frequent) for v in values.tolist()]
        layout.append(OneHotColumn(column, values.tolist(), outputs, len(frequent) + bool(rare_set)))
    expected = len(encoder.get_feature_names_out())
    if sum(c.width for c in layout) != expected:
        raise ValueError(f"one-hot layout of {sum(c.width for c in layout)} columns, encoder has {expected}")
    return layout


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
