"""A LightGBM booster's trees as flat NumPy arrays: the same predictions without importing LightGBM.

Why: ``import lightgbm`` costs about a CPU second on a fresh service process, most
of it scikit-learn, which LightGBM imports whenever it is installed. Predicting
with a numeric-split booster is a walk down each tree comparing one feature with
one threshold, so :class:`TreeArrays` keeps the trees of ``booster.dump_model()``
(full-precision thresholds and node values; the model text rounds the internal
values to six digits) in one safetensors file next to the model text, and walks
every tree of every row at once. It follows LightGBM's numerical decision
(``Tree::NumericalDecision``): a NaN feature counts as 0 unless the split's
missing type is NaN; a missing value (NaN, or ±1e-35 for missing type Zero) goes
the split's default side; otherwise ``value <= threshold`` goes left. Scores are
the trees' leaf values summed, through the binary sigmoid for a binary objective.

Only what the service's boosters use is supported: one tree per iteration
(binary or regression objectives), numeric splits, no linear trees.
:meth:`TreeArrays.from_booster` refuses anything else, so such a model keeps
being served by LightGBM itself. Equality against LightGBM on real rows:
``tests/inference/test_trees.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shopintent.persist import load_arrays, save_arrays

#: LightGBM's ``kZeroThreshold`` (a float literal, 1e-35f, compared as a double).
ZERO_THRESHOLD = float(np.float32(1e-35))
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
#: The file next to a booster's model text: ``y_purchase.txt`` → ``y_purchase.trees.safetensors``.
SUFFIX = ".trees.safetensors"


def arrays_file(model_text: Path | str) -> Path:
    """Where the NumPy form of the booster saved as ``model_text`` is kept."""
    path = Path(model_text)
    return path.with_name(path.stem + SUFFIX)


class TreeArrays:
    """Every tree of a booster in flat arrays; :meth:`predict` answers as ``Booster.predict``.

    Internal nodes of all trees share one numbering (``feature``, ``threshold``,
    ``missing``, ``default_left``, ``left``, ``right``, ``internal_value``); a child or
    root below zero is a leaf, ``~child`` its index in ``leaf_value``. ``leaf_offset``
    is each tree's first leaf; ``sigmoid`` is the binary objective's (NaN: raw output).
    """

    FIELDS = ("feature", "threshold", "missing", "default_left", "left", "right", "internal_value",
              "leaf_value", "root", "leaf_offset", "sigmoid", "n_features")
    #: Training rows counted in each node: what exact TreeSHAP weighs by (``inference.tree_shap``).
    #: Absent from files saved before it; such trees predict, but give no contributions.
    COUNTS = ("internal_count", "leaf_count")

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        missing = [name for name in self.FIELDS if name not in arrays]
        if missing:
            raise ValueError(f"tree arrays lack {', '.join(missing)}")
        self.arrays = arrays
        self.feature = arrays["feature"].astype(np.int64)
        self.threshold = arrays["threshold"].astype(np.float64)
        self.missing = arrays["missing"].astype(np.int8)
        self.default_left = arrays["default_left"].astype(bool)
        self.left = arrays["left"].astype(np.int64)
        self.right = arrays["right"].astype(np.int64)
        self.internal_value = arrays["internal_value"].astype(np.float64)
        self.leaf_value = arrays["leaf_value"].astype(np.float64)
        self.root = arrays["root"].astype(np.int64)
        self.leaf_offset = arrays["leaf_offset"].astype(np.int64)
        self.sigmoid = float(arrays["sigmoid"][0])
        self.n_features = int(arrays["n_features"][0])
        self.internal_count = arrays["internal_count"].astype(np.float64) if "internal_count" in arrays else None
        self.leaf_count = arrays["leaf_count"].astype(np.float64) if "leaf_count" in arrays else None
        self._prepare_walk()

    @property
    def has_counts(self) -> bool:
        """Whether the node counts TreeSHAP needs were saved (files written since they were added)."""
        return self.internal_count is not None and self.leaf_count is not None

    def _prepare_walk(self) -> None:
        """Arrays for :meth:`leaves`: leaves become nodes that lead to themselves, so every tree
        takes the same number of steps (the deepest tree's) with no masking.

        ``_nan_left``: where a NaN feature goes at each node (the default side for missing type
        NaN or Zero, else where 0 goes); a booster with missing type Zero takes the general step.
        """
        n_nodes, n_leaves = len(self.feature), len(self.leaf_value)
        leaf_nodes = np.arange(n_nodes, n_nodes + n_leaves, dtype=np.int64)

        def expand(child: np.ndarray) -> np.ndarray:
            return np.where(child < 0, n_nodes + ~child, child)

        self._left = np.concatenate([expand(self.left), leaf_nodes])
        self._right = np.concatenate([expand(self.right), leaf_nodes])
        self._feature = np.concatenate([self.feature, np.zeros(n_leaves, dtype=np.int64)])
        self._threshold = np.concatenate([self.threshold, np.full(n_leaves, np.inf)])
        self._missing = np.concatenate([self.missing, np.zeros(n_leaves, dtype=np.int8)])
        self._default_left = np.concatenate([self.default_left, np.ones(n_leaves, dtype=bool)])
        self._nan_left = np.where(self._missing == 0, self._threshold >= 0.0, self._default_left)
        self._children = np.stack([self._left, self._right], axis=1).ravel()  # 2n: left, 2n+1: right
        self._root = expand(self.root)
        self._has_zero_type = bool((self.missing == 1).any())
        depth, frontier = 0, self.root[self.root >= 0]
        while frontier.size:
            depth += 1
            children = np.concatenate([self.left[frontier], self.right[frontier]])
            frontier = children[children >= 0]
        self._depth = depth

    # -- building and storing -----------------------------------------------------------------
    @classmethod
    def from_dump(cls, dump: dict[str, Any]) -> TreeArrays:
        """From ``booster.dump_model()``; ValueError for what :meth:`predict` does not support."""
        if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("num_class", 1) != 1:
            raise ValueError("only one tree per iteration (binary or regression) is supported")
        objective = str(dump.get("objective", "")).split()
        if not objective:
            raise ValueError("the booster names no objective")
        if objective[0] == "binary":
            sigmoid = float(next(p.split(":")[1] for p in objective[1:] if p.startswith("sigmoid:")))
        elif objective[0] in {"regression", "regression_l1", "huber", "fair", "quantile", "mape"}:
            sigmoid = float("nan")
        else:
            raise ValueError(f"objective {objective[0]!r} is not supported")
        if dump.get("average_output"):
            raise ValueError("averaged (random forest) boosters are not supported")
        columns: dict[str, list[Any]] = {name: [] for name in (
            "feature", "threshold", "missing", "default_left", "left", "right", "internal_value",
            "internal_count")}
        leaf_value: list[float] = []
        leaf_count: list[float] = []
        root: list[int] = []
        leaf_offset: list[int] = []
        for tree in dump["tree_info"]:
            if tree.get("num_cat", 0) or tree.get("is_linear", False):
                raise ValueError("categorical splits and linear trees are not supported")
            node_base, leaf_base = len(columns["feature"]), len(leaf_value)
            n_leaves = int(tree["num_leaves"])
            leaf_offset.append(leaf_base)
            leaf_value.extend([0.0] * n_leaves)
            leaf_count.extend([0.0] * n_leaves)
            columns_tree: dict[str, list[Any]] = {name: [None] * (n_leaves - 1) for name in columns}

            def code(node: dict[str, Any]) -> int:
                if "leaf_value" in node:
                    index = leaf_base + int(node.get("leaf_index", 0))
                    leaf_value[index] = float(node["leaf_value"])
                    leaf_count[index] = float(node.get("leaf_count", 0))
                    return ~index
                if node.get("decision_type", "<=") != "<=":
                    raise ValueError("categorical splits are not supported")
                i = int(node["split_index"])
                columns_tree["feature"][i] = int(node["split_feature"])
                columns_tree["threshold"][i] = float(node["threshold"])
                columns_tree["missing"][i] = _MISSING[str(node.get("missing_type", "None"))]
                columns_tree["default_left"][i] = bool(node.get("default_left", True))
                columns_tree["internal_value"][i] = float(node["internal_value"])
                columns_tree["internal_count"][i] = float(node.get("internal_count", 0))
                columns_tree["left"][i] = code(node["left_child"])
                columns_tree["right"][i] = code(node["right_child"])
                return node_base + i

            root.append(code(tree["tree_structure"]))
            for name, values in columns_tree.items():
                columns[name].extend(values)
        arrays = {
            "feature": np.asarray(columns["feature"], dtype=np.int32),
            "threshold": np.asarray(columns["threshold"], dtype=np.float64),
            "missing": np.asarray(columns["missing"], dtype=np.int8),
            "default_left": np.asarray(columns["default_left"], dtype=np.int8),
            "left": np.asarray(columns["left"], dtype=np.int64),
            "right": np.asarray(columns["right"], dtype=np.int64),
            "internal_value": np.asarray(columns["internal_value"], dtype=np.float64),
            "leaf_value": np.asarray(leaf_value, dtype=np.float64),
            "internal_count": np.asarray(columns["internal_count"], dtype=np.float64),
            "leaf_count": np.asarray(leaf_count, dtype=np.float64),
            "root": np.asarray(root, dtype=np.int64),
            "leaf_offset": np.asarray(leaf_offset, dtype=np.int64),
            "sigmoid": np.asarray([sigmoid], dtype=np.float64),
            "n_features": np.asarray([int(dump["max_feature_idx"]) + 1], dtype=np.int64),
        }
        return cls(arrays)

    @classmethod
    def from_booster(cls, booster: Any) -> TreeArrays:
        """From a ``lightgbm.Booster`` (its ``dump_model``: full-precision values)."""
        return cls.from_dump(booster.dump_model())

    def save(self, file: Path | str) -> Path:
        """Write the arrays to a safetensors file (numbers only)."""
        return save_arrays(Path(file), self.arrays)

    @classmethod
    def load(cls, file: Path | str) -> TreeArrays:
        """Read arrays written by :meth:`save`."""
        return cls(load_arrays(Path(file)))

    # -- predicting -----------------------------------------------------------------------------
    def num_trees(self) -> int:
        """How many trees (as ``Booster.num_trees``)."""
        return len(self.root)

    def leaves(self, X: Any) -> np.ndarray:
        """Each row's leaf in each tree, as global indices into ``leaf_value`` (rows × trees)."""
        x = np.asarray(X, dtype=np.float64)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.shape[1] != self.n_features:
            raise ValueError(f"the booster was trained on {self.n_features} features, got {x.shape[1]}")
        n_rows = x.shape[0]
        flat = np.ascontiguousarray(x).ravel()
        base = (np.arange(n_rows, dtype=np.int64) * self.n_features)[:, None]
        node = np.broadcast_to(self._root, (n_rows, len(self._root)))
        for _ in range(self._depth):
            go_left = self.go_left(flat.take(base + self._feature.take(node)), node)
            node = self._children.take(2 * node + ~go_left)
        return node - len(self.feature)

    def go_left(self, value: np.ndarray, node: np.ndarray) -> np.ndarray:
        """LightGBM's ``Tree::NumericalDecision``: whether ``value`` goes left at each ``node``.

        ``node`` numbers internal nodes as :attr:`feature` does (a leaf index ``n_nodes + i``
        passes through: it goes "left" to itself); ``value`` is the feature each node splits on.
        The one home of the split rule, for the walk and for TreeSHAP's path.
        """
        threshold = self._threshold.take(node)
        if self._has_zero_type:  # the general step
            missing, nan = self._missing.take(node), np.isnan(value)
            value = np.where(nan & (missing != 2), 0.0, value)
            is_missing = ((missing == 1) & (np.abs(value) <= ZERO_THRESHOLD)) | ((missing == 2) & nan)
            return np.where(is_missing, self._default_left.take(node), value <= threshold)
        go_left = value <= threshold
        nan = np.isnan(value)
        if nan.any():
            go_left = np.where(nan, self._nan_left.take(node), go_left)
        return go_left

    def predict(self, X: Any, raw_score: bool = False, pred_leaf: bool = False,
                num_threads: int = 1, pred_contrib: bool = False) -> np.ndarray:
        """As ``Booster.predict`` (``num_threads`` is accepted and ignored: one NumPy pass).

        ``pred_leaf``: each tree's leaf index (within its tree, int32, rows × trees).
        ``pred_contrib``: exact TreeSHAP values (rows × features + 1, the last column the
        expected value; :mod:`shopintent.inference.tree_shap`), which needs :attr:`has_counts`.
        """
        if pred_contrib:
            from shopintent.inference.tree_shap import contributions

            return contributions(self, X)
        leaves = self.leaves(X)
        if pred_leaf:
            return (leaves - self.leaf_offset).astype(np.int32)
        raw = self.leaf_value[leaves].sum(axis=1)
        if raw_score or np.isnan(self.sigmoid):
            return raw
        return 1.0 / (1.0 + np.exp(-self.sigmoid * raw))


def write_tree_arrays(model_text: Path | str) -> Path | None:
    """Save the NumPy form of the booster in ``model_text`` next to it; None when unsupported.

    Read back from the saved text (not the booster in memory), so the arrays are exactly
    the trees a later ``lightgbm.Booster(model_file=...)`` would predict with.
    """
    import lightgbm as lgb

    try:
        trees = TreeArrays.from_booster(lgb.Booster(model_file=str(model_text)))
    except ValueError:
        return None  # served by LightGBM itself
    return trees.save(arrays_file(model_text))


def arrays_have_counts(model_text: Path | str) -> bool:
    """Whether the NumPy form beside ``model_text`` exists and kept the node counts TreeSHAP needs
    (files saved before the counts were added lack them; ``models prepare`` rewrites those)."""
    saved = arrays_file(model_text)
    return saved.is_file() and all(name in load_arrays(saved) for name in TreeArrays.COUNTS)


def load_booster(model_text: Path | str) -> Any:
    """The booster saved as ``model_text``: its NumPy form when saved beside it, else LightGBM's."""
    saved = arrays_file(model_text)
    if saved.is_file():
        return TreeArrays.load(saved)
    import lightgbm as lgb

    return lgb.Booster(model_file=str(model_text))
