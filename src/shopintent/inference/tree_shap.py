"""Exact TreeSHAP of one row over :class:`~shopintent.inference.trees.TreeArrays`: LightGBM's ``pred_contrib``.

Why: the service's reason codes for a flagged transaction are per-feature TreeSHAP
values of the fraud booster. Asking LightGBM for them meant importing LightGBM (and
scikit-learn with it, about a CPU second, holding the interpreter) on the first
flagged transaction of a running service. The algorithm is the path-dependent
TreeSHAP of Lundberg, Erion & Lee ("Consistent Individualized Feature Attribution
for Tree Ensembles", 2018, Algorithm 2), as LightGBM's ``Tree::TreeSHAP`` runs it:
the same recursion, the same node weights (the training rows counted in each node,
``internal_count`` / ``leaf_count``) and the same decision at each split, so the
values equal ``Booster.predict(row, pred_contrib=True)`` (``tests/inference/test_trees.py``,
on real rows with missing values).

Plain Python per tree: a flagged transaction is rare, and one row through a few
hundred small trees costs milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopintent.inference.trees import TreeArrays


@dataclass
class _Step:
    """One element of the path of unique features from the root (LightGBM's ``PathElement``)."""

    feature: int
    zero_fraction: float
    one_fraction: float
    weight: float


def _extend(path: list[_Step], depth: int, zero_fraction: float, one_fraction: float, feature: int) -> None:
    """Put a new feature at ``path[depth]`` and update the permutation weights of the others."""
    step = path[depth]
    step.feature, step.zero_fraction, step.one_fraction = feature, zero_fraction, one_fraction
    step.weight = 1.0 if depth == 0 else 0.0
    for i in range(depth - 1, -1, -1):
        path[i + 1].weight += one_fraction * path[i].weight * (i + 1) / (depth + 1)
        path[i].weight = zero_fraction * path[i].weight * (depth - i) / (depth + 1)


def _unwind(path: list[_Step], depth: int, index: int) -> None:
    """Undo :func:`_extend` of the feature at ``path[index]`` (it is split on again below)."""
    one_fraction, zero_fraction = path[index].one_fraction, path[index].zero_fraction
    next_one = path[depth].weight
    for i in range(depth - 1, -1, -1):
        if one_fraction != 0:
            kept = path[i].weight
            path[i].weight = next_one * (depth + 1) / ((i + 1) * one_fraction)
            next_one = kept - path[i].weight * zero_fraction * (depth - i) / (depth + 1)
        else:
            path[i].weight = (path[i].weight * (depth + 1)) / (zero_fraction * (depth - i))
    for i in range(index, depth):
        path[i].feature = path[i + 1].feature
        path[i].zero_fraction = path[i + 1].zero_fraction
        path[i].one_fraction = path[i + 1].one_fraction


def _unwound_sum(path: list[_Step], depth: int, index: int) -> float:
    """The total permutation weight of the path with ``path[index]`` taken out (not changing it)."""
    one_fraction, zero_fraction = path[index].one_fraction, path[index].zero_fraction
    next_one = path[depth].weight
    total = 0.0
    for i in range(depth - 1, -1, -1):
        if one_fraction != 0:
            part = next_one * (depth + 1) / ((i + 1) * one_fraction)
            total += part
            next_one = path[i].weight - part * zero_fraction * ((depth - i) / (depth + 1))
        elif zero_fraction != 0:
            total += (path[i].weight / zero_fraction) / ((depth - i) / (depth + 1))
    return total


class _OneTree:
    """The recursion over the shared node arrays (children < 0 are leaves), one row at a time."""

    def __init__(self, trees: TreeArrays) -> None:
        assert trees.internal_count is not None and trees.leaf_count is not None
        self.trees = trees
        self.feature = trees.feature.tolist()
        self.left, self.right = trees.left.tolist(), trees.right.tolist()
        self.leaf_value = trees.leaf_value.tolist()
        self.internal_count = trees.internal_count.tolist()
        self.leaf_count = trees.leaf_count.tolist()
        self.hot: list[int] = []
        self.phi: list[float] = []

    def start(self, row: np.ndarray) -> list[float]:
        """Reset for ``row``: its way at every split (``TreeArrays.go_left``, the walk's own rule)
        and zero contributions; returns the list the walks add to."""
        nodes = np.arange(len(self.feature))
        go_left = self.trees.go_left(row[self.trees.feature], nodes)
        self.hot = np.where(go_left, self.trees.left, self.trees.right).tolist()
        self.phi = [0.0] * (self.trees.n_features + 1)
        return self.phi

    def count(self, node: int) -> float:
        return float(self.internal_count[node] if node >= 0 else self.leaf_count[~node])

    def walk(self, node: int, depth: int, parent: list[_Step], zero_fraction: float, one_fraction: float,
             feature: int) -> None:
        # this call's path: the parent's first ``depth`` steps, and one new one at ``depth``
        path = [_Step(s.feature, s.zero_fraction, s.one_fraction, s.weight) for s in parent[:depth]]
        path.append(_Step(-1, 0.0, 0.0, 0.0))
        _extend(path, depth, zero_fraction, one_fraction, feature)
        if node < 0:
            value = self.leaf_value[~node]
            for i in range(1, depth + 1):
                weight = _unwound_sum(path, depth, i)
                step = path[i]
                self.phi[step.feature] += weight * (step.one_fraction - step.zero_fraction) * value
            return
        hot = self.hot[node]
        cold = self.right[node] if hot == self.left[node] else self.left[node]
        total = self.count(node)
        hot_zero, cold_zero = self.count(hot) / total, self.count(cold) / total
        incoming_zero = incoming_one = 1.0
        split = self.feature[node]
        index = next((i for i in range(depth + 1) if path[i].feature == split), depth + 1)
        if index != depth + 1:  # split on this feature above: undo it, redo it here
            incoming_zero, incoming_one = path[index].zero_fraction, path[index].one_fraction
            _unwind(path, depth, index)
            depth -= 1
        self.walk(hot, depth + 1, path, hot_zero * incoming_zero, incoming_one, split)
        self.walk(cold, depth + 1, path, cold_zero * incoming_zero, 0.0, split)


def expected_value(trees: TreeArrays, tree: int) -> float:
    """The tree's mean output over its training rows (LightGBM's ``Tree::ExpectedValue``)."""
    assert trees.internal_count is not None and trees.leaf_count is not None
    root = int(trees.root[tree])
    first = int(trees.leaf_offset[tree])
    last = int(trees.leaf_offset[tree + 1]) if tree + 1 < trees.num_trees() else len(trees.leaf_value)
    if root < 0:  # a one-leaf tree
        return float(trees.leaf_value[first])
    total = float(trees.internal_count[root])
    out = 0.0
    for leaf in range(first, last):
        out += (float(trees.leaf_count[leaf]) / total) * float(trees.leaf_value[leaf])
    return out


def contributions(trees: TreeArrays, X: np.ndarray) -> np.ndarray:
    """``Booster.predict(X, pred_contrib=True)``: per row, each feature's SHAP value (raw score)
    and, last, the sum of the trees' expected values."""
    if not trees.has_counts:
        raise ValueError("these tree arrays hold no node counts (saved before TreeSHAP): "
                         "retrain, or ask LightGBM for pred_contrib")
    rows = np.atleast_2d(np.asarray(X, dtype=np.float64))
    out = np.zeros((len(rows), trees.n_features + 1))
    expected = sum(expected_value(trees, t) for t in range(trees.num_trees()))
    walker = _OneTree(trees)
    for r, row in enumerate(rows):
        phi = walker.start(row)
        for tree in range(trees.num_trees()):
            root = int(trees.root[tree])
            if root >= 0:  # a one-leaf tree adds only its expected value
                walker.walk(root, 0, [], 1.0, 1.0, -1)
        phi[-1] = expected
        out[r] = phi
    return out
