"""Read Open Bandit Dataset–format logs into :class:`LoggedFeedback`.

OBD files (``obd_sample``, or any CSV with the same columns) hold per
impression ``timestamp, item_id, position, click, propensity_score``, hashed
categorical ``user_feature_*`` columns and numeric ``user-item_affinity_<k>``
columns. The hashed user features are category labels, so they are one-hot
encoded; the affinities are features *of each candidate item* for this user,
so they become ``action_context[:, k, 0]`` rather than a flat context — a
reward model can then share one affinity coefficient across items.

The encoder's vocabulary is fitted on the frames it is given (labels are
never used), so the random and BTS logs share one feature space.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from shopintent.intervene.feedback import FeedbackError, LoggedFeedback

REQUIRED_COLUMNS: tuple[str, ...] = ("item_id", "position", "click", "propensity_score")
AFFINITY_PREFIX = "user-item_affinity_"
USER_FEATURE_PREFIX = "user_feature_"


def read_obd_csv(path: Path) -> pd.DataFrame:
    """Read one OBD-format CSV (with or without the unnamed index column)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such OBD log file")
    frame = pd.read_csv(path)
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed")]
    frame = frame.drop(columns=unnamed)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise FeedbackError(
            f"{path}: missing column(s) {', '.join(missing)}; an OBD log needs "
            f"{', '.join(REQUIRED_COLUMNS)} (plus optional timestamp, user_feature_*, {AFFINITY_PREFIX}*)"
        )
    if "timestamp" in frame.columns:
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    return frame


def file_sha256(path: Path) -> str:
    """SHA-256 of a log file (reports name the data they measured)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ObdEncoder:
    """Turns OBD frames into feedback arrays with one shared feature space.

    ``fit`` learns the item ids, the number of positions and the category
    vocabulary of each user feature; ``transform`` encodes a frame.
    """

    def __init__(self) -> None:
        self.items_: list[int] = []
        self.n_positions_: int = 0
        self.user_features_: list[str] = []
        self.categories_: dict[str, list[str]] = {}
        self.affinity_columns_: list[str] = []

    def fit(self, frames: Sequence[pd.DataFrame]) -> ObdEncoder:
        """Learn items, positions and categories from every frame given."""
        joined = pd.concat([f for f in frames], ignore_index=True)
        self.items_ = sorted(int(i) for i in pd.unique(joined["item_id"]))
        self.n_positions_ = int(joined["position"].max())
        if int(joined["position"].min()) < 1:
            raise FeedbackError("`position` must be 1-based (1 = first slot) in OBD logs")
        self.user_features_ = sorted(c for c in joined.columns if str(c).startswith(USER_FEATURE_PREFIX))
        self.categories_ = {c: sorted(joined[c].astype(str).unique().tolist()) for c in self.user_features_}
        affinity = {int(str(c)[len(AFFINITY_PREFIX):]): c for c in joined.columns
                    if str(c).startswith(AFFINITY_PREFIX)}
        self.affinity_columns_ = [affinity[i] for i in self.items_ if i in affinity]
        if affinity and len(self.affinity_columns_) != len(self.items_):
            raise FeedbackError("every item needs a user-item_affinity_<item_id> column, or none may have one")
        return self

    @property
    def action_names(self) -> tuple[str, ...]:
        """Item ids as text, in action-index order."""
        return tuple(str(i) for i in self.items_)

    @property
    def context_names(self) -> list[str]:
        """Names of the one-hot context columns."""
        return [f"{c}={v}" for c in self.user_features_ for v in self.categories_[c]]

    def transform(self, frame: pd.DataFrame, policy: str = "") -> LoggedFeedback:
        """Encode one frame (rows in file order)."""
        if not self.items_:
            raise RuntimeError("ObdEncoder is not fitted; call fit([frames]) first")
        index = {item: k for k, item in enumerate(self.items_)}
        unknown = ~frame["item_id"].isin(index)
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise FeedbackError(f"row {row + 1}: `item_id` {frame['item_id'].iloc[row]} was not seen in fit")
        blocks = []
        for column in self.user_features_:
            values = frame[column].astype(str).to_numpy()
            cats = np.array(self.categories_[column])
            blocks.append((values[:, None] == cats[None, :]).astype(np.float64))
        context = np.hstack(blocks) if blocks else np.zeros((len(frame), 0))
        action_context = None
        if self.affinity_columns_:
            action_context = frame[self.affinity_columns_].to_numpy(dtype=np.float64)[:, :, None]
        timestamp = None
        if "timestamp" in frame.columns:
            timestamp = frame["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
        return LoggedFeedback(
            action=frame["item_id"].map(index).to_numpy(dtype=np.int64),
            position=frame["position"].to_numpy(dtype=np.int64) - 1,
            reward=frame["click"].to_numpy(dtype=np.float64),
            pscore=frame["propensity_score"].to_numpy(dtype=np.float64),
            action_names=self.action_names,
            n_positions=self.n_positions_,
            context=context,
            timestamp=timestamp,
            action_context=action_context,
            policy=policy,
        )
