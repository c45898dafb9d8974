"""Item ids ↔ dense indices, and sequences from the formats a shop brings.

Every recommender here works on dense integer item indices (``1..n_items``;
``0`` is padding), so the mapping lives in one place, :class:`ItemIndex`, and is
saved with each model. Sequences come from two file formats: ``seqtxt`` (the
S3-Rec layout, one user per line, ``user item item …`` in time order) and
``events`` (a canonical event log, read through the store's ingest reader and
validated, then ordered per user or per session).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shopintent.log import get_logger
from shopintent.schema.records import InteractionSequence, Item

log = get_logger(__name__)

#: The input formats ``shopintent recommend`` reads.
SEQUENCE_FORMATS: tuple[str, ...] = ("seqtxt", "events")


class ItemIndex:
    """A frozen, ordered catalogue: item id → index ``1..n`` (0 is reserved for padding)."""

    def __init__(self, item_ids: Iterable[str]) -> None:
        ordered: list[str] = []
        seen: set[str] = set()
        for item_id in item_ids:
            if item_id not in seen:
                seen.add(item_id)
                ordered.append(item_id)
        self.ids: list[str] = ordered
        self._index: dict[str, int] = {item_id: i + 1 for i, item_id in enumerate(ordered)}

    @classmethod
    def from_sequences(
        cls, sequences: Iterable[InteractionSequence], extra: Iterable[str] = ()
    ) -> ItemIndex:
        """Index every item of ``sequences`` (first-seen order), then ``extra`` ones."""

        def every() -> Iterable[str]:
            for seq in sequences:
                yield from seq.items
            yield from extra

        return cls(every())

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._index

    @property
    def size(self) -> int:
        """Width of a score row: ``n_items + 1`` (index 0 is padding)."""
        return len(self.ids) + 1

    def get(self, item_id: str) -> int:
        """The index of ``item_id``, or 0 when it is not in the catalogue."""
        return self._index.get(item_id, 0)

    def encode(self, items: Sequence[str]) -> np.ndarray:
        """Indices of the known items of ``items``, in order (unknown ones are left out)."""
        out = [self._index[i] for i in items if i in self._index]
        return np.asarray(out, dtype=np.int64)

    def decode(self, index: int) -> str:
        """The item id at ``index`` (1-based)."""
        if not 1 <= index <= len(self.ids):
            raise IndexError(f"item index {index} is outside 1..{len(self.ids)}")
        return self.ids[index - 1]

    def to_json(self) -> list[str]:
        return list(self.ids)


def sequences_checksum(sequences: Iterable[InteractionSequence]) -> str:
    """SHA-256 of the sequences as text: the data a model was trained on, reproducibly named."""
    digest = hashlib.sha256()
    for seq in sequences:
        digest.update(seq.user_id.encode("utf-8"))
        digest.update(b"\t")
        digest.update(" ".join(seq.items).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def read_seqtxt(path: Path) -> list[InteractionSequence]:
    """Read ``user item item …`` lines (S3-Rec format); blank lines are skipped."""
    if not path.is_file():
        raise FileNotFoundError(f"sequence file {path} does not exist")
    sequences = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2:
                raise ValueError(
                    f"{path}: line {line_no} has a user id but no item; "
                    "each line must be 'user_id item_1 item_2 …' in time order"
                )
            sequences.append(InteractionSequence(user_id=fields[0], items=tuple(fields[1:])))
    if not sequences:
        raise ValueError(f"{path}: no sequences found; expected 'user_id item_1 item_2 …' lines")
    return sequences


def sequences_from_events(
    events: pd.DataFrame,
    by: str = "user",
    gap_minutes: float = 30.0,
    collapse_repeats: bool = True,
) -> list[InteractionSequence]:
    """Order a validated canonical event frame into item sequences, one per user or session.

    ``by="session"`` splits each user's events at inactivity gaps of
    ``gap_minutes`` (the store's rule) unless the frame already names
    sessions. Events without an item (searches) are left out. With
    ``collapse_repeats`` an item repeated back to back (a view then a cart of
    the same product) counts once: the next *different* item is what a
    recommender should predict.
    """
    if by not in ("user", "session"):
        raise ValueError(f"by must be 'user' or 'session', not {by!r}")
    frame = events.loc[events["item_id"].notna(), ["user_id", "timestamp", "item_id"]].copy()
    frame["_row"] = np.arange(len(frame))
    if by == "session":
        if "session_id" in events.columns and events["session_id"].notna().all():
            frame["_key"] = events.loc[frame.index, "session_id"].astype(str).to_numpy()
        else:
            frame = frame.sort_values(["user_id", "timestamp", "_row"], kind="stable")
            gap = pd.Timedelta(minutes=gap_minutes)
            new_user = (frame["user_id"] != frame["user_id"].shift()).fillna(True)
            new_session = (new_user | (frame["timestamp"].diff() > gap).fillna(True)).to_numpy(dtype=bool)
            frame["_key"] = frame["user_id"].astype(str).to_numpy() + "#" + new_session.cumsum().astype(str)
    else:
        frame["_key"] = frame["user_id"].astype(str)
    frame = frame.sort_values(["_key", "timestamp", "_row"], kind="stable")
    keys = frame["_key"].astype(str).to_numpy()
    items = frame["item_id"].astype(str).to_numpy()
    stamps = frame["timestamp"].to_numpy()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    keep = np.ones(len(items), dtype=bool)
    if collapse_repeats and len(items):
        # Drop an item equal to the one just before it in the same sequence.
        keep[1:] = (items[1:] != items[:-1]) | (keys[1:] != keys[:-1])
    ends = np.r_[starts[1:], len(items)]
    sequences = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        mask = keep[start:end]
        seq_stamps = pd.DatetimeIndex(stamps[start:end][mask])
        if seq_stamps.tz is None:
            seq_stamps = seq_stamps.tz_localize("UTC")
        sequences.append(InteractionSequence(
            user_id=str(keys[start]), items=tuple(items[start:end][mask].tolist()),
            timestamps=tuple(seq_stamps.to_pydatetime().tolist())))
    return sequences


def read_event_sequences(path: Path, by: str = "user", gap_minutes: float = 30.0) -> list[InteractionSequence]:
    """Read a shop's event log (CSV/Parquet/JSONL), validate it and order it into sequences."""
    from shopintent.schema.validation import validate_events
    from shopintent.store.ingest import read_event_file

    report = validate_events(read_event_file(path))
    if report.n_rejected:
        log.warning("event rows rejected", path=str(path), rejected=report.n_rejected,
                    first=str(report.rejections[0]) if report.rejections else "")
    if report.valid.empty:
        raise ValueError(f"{path}: no valid events; every row was rejected (see the log for reasons)")
    return sequences_from_events(report.valid, by=by, gap_minutes=gap_minutes)


def read_sequences(path: Path, fmt: str = "seqtxt", by: str = "user") -> list[InteractionSequence]:
    """Read sequences in one of :data:`SEQUENCE_FORMATS`."""
    if fmt == "seqtxt":
        return read_seqtxt(path)
    if fmt == "events":
        return read_event_sequences(path, by=by)
    raise ValueError(f"unknown sequence format {fmt!r}; use one of {', '.join(SEQUENCE_FORMATS)}")


def read_attributes(path: Path) -> dict[str, Item]:
    """Read item attributes as ``{item_id: [attribute, …]}`` JSON (the S3-Rec layout)."""
    if not path.is_file():
        raise FileNotFoundError(f"attribute file {path} does not exist")
    with path.open(encoding="utf-8") as handle:
        raw = json.load(handle)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object {{item_id: [attributes]}}")
    items = {}
    for item_id, codes in raw.items():
        if not isinstance(codes, list):
            raise ValueError(f"{path}: item {item_id!r}: attributes must be a list, not {codes!r}")
        items[str(item_id)] = Item(item_id=str(item_id), attributes=tuple(str(c) for c in codes))
    return items


def items_from_events(events: pd.DataFrame) -> dict[str, Item]:
    """Each item's category (its last-seen ``category_id``) as an :class:`Item` attribute."""
    known = events.loc[events["item_id"].notna() & events["category_id"].notna(), ["item_id", "category_id"]]
    last = known.drop_duplicates("item_id", keep="last")
    return {
        str(item): Item(item_id=str(item), category_id=str(cat), attributes=(f"cat:{cat}",))
        for item, cat in zip(last["item_id"], last["category_id"], strict=True)
    }


@dataclass(frozen=True, slots=True)
class Example:
    """One next-item task: ``history`` (oldest first) → ``target``."""

    user_id: str
    history: tuple[str, ...]
    target: str


@dataclass(frozen=True, slots=True)
class Split:
    """Leave-one-out: ``train`` sequences, ``valid`` and ``test`` examples, and the catalogue."""

    train: list[InteractionSequence]
    valid: list[Example]
    test: list[Example]
    catalogue: list[str]
    dropped_short: int

    @property
    def train_checksum(self) -> str:
        return sequences_checksum(self.train)


def leave_one_out(sequences: Sequence[InteractionSequence], min_length: int = 3) -> Split:
    """Last item = test, second-to-last = validation, the rest = training.

    The test history includes the validation item (as published numbers do);
    the catalogue is every item of every sequence, so ranking is against all
    of them. Sequences shorter than ``min_length`` (3) cannot be split; they
    are counted in ``dropped_short`` and their items stay in the catalogue
    and in training (they hold no test position, so nothing leaks).
    """
    if min_length < 3:
        raise ValueError("leave-one-out needs min_length >= 3 (train, valid and test items)")
    train, valid, test = [], [], []
    dropped = 0
    for seq in sequences:
        items = seq.items
        if len(items) < min_length:
            dropped += 1
            if len(items) >= 1:
                train.append(seq)
            continue
        stamps = seq.timestamps[:-2] if seq.timestamps is not None else None
        train.append(InteractionSequence(seq.user_id, items[:-2], stamps))
        valid.append(Example(seq.user_id, items[:-2], items[-2]))
        test.append(Example(seq.user_id, items[:-1], items[-1]))
    if not test:
        raise ValueError(
            f"no sequence has at least {min_length} items; leave-one-out has nothing to test"
        )
    catalogue = list(ItemIndex.from_sequences(sequences).ids)
    return Split(train=train, valid=valid, test=test, catalogue=catalogue, dropped_short=dropped)
