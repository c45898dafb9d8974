"""The live profiles' accumulators saved to Parquet with the store position they cover.

Why: after a restart the service would otherwise fold the whole event store again
before its live profiles are current (tens of µs of CPU per stored event). A
snapshot holds every shopper's accumulators (one row each; list columns) and, in
the file's metadata, the store position it covers: the highest ``seq`` folded,
how many stored rows lie at or below it and the ``event_id`` of the last of them,
the pseudonym key id and the session gap. A restart reads the snapshot back only
when the store still holds exactly that prefix (:func:`matches`), then folds what
is newer. Parquet of plain columns (no pickle): a snapshot from a path is data,
never code. Written to a temporary file and renamed, so a reader never sees half.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from shopintent.profile.incremental import IncrementalProfiles, ShopperAccumulator

if TYPE_CHECKING:
    from shopintent.store import EventStore

FORMAT = "live-profiles/1"
META_KEY = b"shopintent_live_profiles"
SNAPSHOT_FILE = "accumulators.parquet"


class SnapshotUnusable(ValueError):
    """The file is not a live-profile snapshot of this format (it is then ignored and rebuilt)."""


@dataclass(frozen=True)
class StorePosition:
    """Where a snapshot stands in the store: rows with ``seq <= seq``, the last one's id, the key."""

    seq: int
    rows: int
    last_event_id: str | None
    key_id: str | None


@dataclass(frozen=True)
class SnapshotMeta:
    """What a snapshot covers (kept in the Parquet file's metadata)."""

    format: str
    position: StorePosition
    gap_minutes: float
    n_events: int
    latest_us: int | None


def store_position(store: EventStore, seq: int) -> StorePosition:
    """The store's prefix up to ``seq`` (run on the store's thread; one aggregate over the seq column)."""
    count, last_id = store.engine().sql(
        f"SELECT COUNT(*) AS n, arg_max(event_id, seq) AS last_id FROM events WHERE seq <= {int(seq)}"
    ).iloc[0]
    return StorePosition(seq=int(seq), rows=int(count), last_event_id=None if last_id is None else str(last_id),
                         key_id=store.key_id)


def matches(meta: SnapshotMeta, store: EventStore, gap_minutes: float) -> bool:
    """The store still holds exactly the prefix the snapshot folded, under the same key and session gap."""
    if meta.format != FORMAT or meta.gap_minutes != gap_minutes or store.last_seq() < meta.position.seq:
        return False
    return store_position(store, meta.position.seq) == meta.position


_SCHEMA = pa.schema([
    ("user_id", pa.string()), ("times_us", pa.list_(pa.int64())), ("sessions", pa.int64()),
    ("type_names", pa.list_(pa.string())), ("type_counts", pa.list_(pa.int64())),
    ("items", pa.list_(pa.string())), ("category_names", pa.list_(pa.string())),
    ("category_counts", pa.list_(pa.int64())), ("days", pa.list_(pa.int64())),
    ("priced_events", pa.int64()), ("price_sum", pa.float64()),
    ("intent_times_us", pa.list_(pa.int64())), ("intent_seqs", pa.list_(pa.int64())),
    ("intent_labels", pa.list_(pa.string())),
])


def to_table(profiles: IncrementalProfiles) -> pa.Table:
    """Every shopper's accumulators as columns (call while no fold changes them)."""
    columns: dict[str, list[Any]] = {name: [] for name in _SCHEMA.names}
    for user, acc in profiles.shoppers.items():
        columns["user_id"].append(user)
        columns["times_us"].append(list(acc.times_us))
        columns["sessions"].append(acc.sessions)
        columns["type_names"].append(list(acc.types))
        columns["type_counts"].append(list(acc.types.values()))
        columns["items"].append(sorted(acc.items))
        columns["category_names"].append(list(acc.categories))
        columns["category_counts"].append(list(acc.categories.values()))
        columns["days"].append(sorted(acc.days))
        columns["priced_events"].append(acc.priced_events)
        columns["price_sum"].append(acc.price_sum)
        columns["intent_times_us"].append([t for t, _, _ in acc.intents])
        columns["intent_seqs"].append([s for _, s, _ in acc.intents])
        columns["intent_labels"].append([label for _, _, label in acc.intents])
    return pa.Table.from_pydict(columns, schema=_SCHEMA)


def save(table: pa.Table, meta: SnapshotMeta, path: Path) -> Path:
    """Write ``table`` with ``meta`` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = json.dumps(asdict(meta), sort_keys=True).encode()
    table = table.replace_schema_metadata({META_KEY: record})
    partial = path.with_name(path.name + ".partial")
    pq.write_table(table, partial)
    os.replace(partial, path)
    return path


def read_meta(path: Path) -> SnapshotMeta:
    """The snapshot's metadata alone (no rows read); :class:`SnapshotUnusable` when it has none."""
    try:
        raw = (pq.read_schema(path).metadata or {}).get(META_KEY)
        if raw is not None:
            record = json.loads(raw)
            meta = SnapshotMeta(position=StorePosition(**record.pop("position")), **record)
    except (OSError, pa.ArrowInvalid, TypeError, ValueError, KeyError) as exc:
        raise SnapshotUnusable(f"{path}: unreadable live-profile snapshot ({type(exc).__name__}: {exc})") from exc
    if raw is None:
        raise SnapshotUnusable(f"{path}: no {META_KEY.decode()} metadata: not a live-profile snapshot")
    if meta.format != FORMAT:
        raise SnapshotUnusable(f"{path}: snapshot format {meta.format!r}, this version reads {FORMAT!r}")
    return meta


def load(path: Path, meta: SnapshotMeta) -> IncrementalProfiles:
    """The accumulators of a snapshot whose ``meta`` was read (and matched) first."""
    table = pq.read_table(path, schema=_SCHEMA)
    profiles = IncrementalProfiles(gap_minutes=meta.gap_minutes)
    cols = {name: table.column(name).to_pylist() for name in _SCHEMA.names}
    for i, user in enumerate(cols["user_id"]):
        profiles.shoppers[user] = ShopperAccumulator(
            times_us=cols["times_us"][i], sessions=cols["sessions"][i],
            types=Counter(dict(zip(cols["type_names"][i], cols["type_counts"][i], strict=True))),
            items=set(cols["items"][i]),
            categories=Counter(dict(zip(cols["category_names"][i], cols["category_counts"][i], strict=True))),
            days=set(cols["days"][i]), priced_events=cols["priced_events"][i], price_sum=cols["price_sum"][i],
            intents=list(zip(cols["intent_times_us"][i], cols["intent_seqs"][i], cols["intent_labels"][i],
                             strict=True)))
    profiles.n_events = meta.n_events
    return profiles
