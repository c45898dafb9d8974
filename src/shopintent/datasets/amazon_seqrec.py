"""Amazon sequential-recommendation benchmarks (S3-Rec files): Beauty and Sports_and_Outdoors.

Each user's reviewed items in time order, 5-core filtered and re-numbered
1..N by the S3-Rec authors (Zhou et al., CIKM 2020), with every item's
integer-coded attributes (Amazon categories and brand; the names are not
published). shopintent trains and evaluates its next-item recommenders on
them because the published full-ranking numbers (SASRec, S3-Rec, ICLRec,
quoted in PROVENANCE.txt) make our results comparable with the literature.

Caveats: the sequences carry no timestamps and no titles; ids are dense
integers written as text and mean nothing outside their sub-set (item "4" of
Beauty is not item "4" of Sports). The evaluation protocol is leave-one-out
(:func:`leave_one_out`); the sampled-negative files of the original repository
are not included, so only full ranking is reproducible. PROVENANCE.txt also
states Toys_and_Games counts, but that sub-set is not in this copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.schema.records import InteractionSequence, Item
from shopintent.settings import Settings

_REPO, _COMMIT = "RUCAIBox/CIKM2020-S3Rec", "2a81540ae18615d88ef88227b0c066e5b74781e5"

#: The sub-sets in this copy, in the order the S3-Rec paper lists them.
SUBSETS: tuple[str, ...] = ("Beauty", "Sports_and_Outdoors")


def _files() -> tuple[DataFile, ...]:
    published = {
        "Beauty.txt": (
            "226cce9c3105299ca0db9615d7d3fb32b3175e90da43100ae352599f0f0107b8", 1_090_094),
        "Beauty_item2attributes.json": (
            "129e40f67486f6877eff0f5318cfa8530ee8ac23d8b0d1de04e1bb7a2ba0b2d4", 305_674),
        "Sports_and_Outdoors.txt": (
            "2a095e0648872beb9982408958290f5d655db5be2911c3756b5446de9f0b8de2", 1_707_483),
        "Sports_and_Outdoors_item2attributes.json": (
            "7fb10733ac4f1811384a52144cdefa7fcc7536fa80a7232c5da9bd789155c34b", 653_780),
    }
    return tuple(
        DataFile(path=path, sha256=sha, size=size, url=github_raw(_REPO, _COMMIT, f"data/{path}"))
        for path, (sha, size) in published.items()
    )


SPEC = DatasetSpec(
    name="amazon_seqrec",
    task="sequential (next-item) recommendation, leave-one-out, with item attributes",
    language="-",
    licence="Amazon product reviews (McAuley et al., UCSD 2014), research use; "
    "S3-Rec repository has no licence file",
    citation="Zhou et al., S3-Rec: Self-Supervised Learning for Sequential Recommendation "
    "with Mutual Information Maximization, CIKM 2020; He & McAuley, WWW 2016; "
    "McAuley et al., SIGIR 2015",
    source=f"https://github.com/{_REPO} @ {_COMMIT} (data/<Name>.txt, "
    "data/<Name>_item2attributes.json)",
    files=_files(),
    expected_counts={
        "Beauty.users": 22_363,
        "Beauty.items": 12_101,
        "Beauty.interactions": 198_502,
        "Beauty.attribute_ids": 637,
        "Beauty.min_length": 5,
        "Sports_and_Outdoors.users": 35_598,
        "Sports_and_Outdoors.items": 18_357,
        "Sports_and_Outdoors.interactions": 296_337,
        "Sports_and_Outdoors.attribute_ids": 2_277,
        "Sports_and_Outdoors.min_length": 5,
    },
    description="<Name>.txt: one user per line, 'user_id item_1 ... item_n' in time order; "
    "<Name>_item2attributes.json: {item_id: [attribute ids]}.",
    total_rows=198_502 + 296_337,
)


@dataclass(frozen=True, slots=True)
class SeqRecSubset:
    """One sub-set: every user's sequence (file order) and every item's attributes."""

    name: str
    sequences: list[InteractionSequence]
    items: dict[str, Item]


@dataclass(frozen=True, slots=True)
class AmazonSeqRec:
    """The sub-sets of this copy, by name (``"Beauty"``, ``"Sports_and_Outdoors"``)."""

    subsets: dict[str, SeqRecSubset]

    def __getitem__(self, name: str) -> SeqRecSubset:
        return self.subsets[name]


@dataclass(frozen=True, slots=True)
class NextItemExample:
    """A prediction task: given ``history`` (oldest first), the next item is ``target``."""

    user_id: str
    history: tuple[str, ...]
    target: str


@dataclass(frozen=True, slots=True)
class LeaveOneOutSplit:
    """The standard S3-Rec/SASRec split of a set of sequences.

    ``train`` holds each user's items except the last two; ``valid`` asks for
    the second-to-last item given those; ``test`` asks for the last item given
    everything before it (the validation item included, as the published
    numbers do).
    """

    train: list[InteractionSequence]
    valid: list[NextItemExample]
    test: list[NextItemExample]


def read_sequences(subset: str, settings: Settings | None = None) -> list[InteractionSequence]:
    """Read one sub-set's sequences, item ids as text, in file (= time) order."""
    path = data_path(SPEC, f"{_check_subset(subset)}.txt", settings)
    sequences = []
    with path.open(encoding="ascii") as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if len(fields) < 2:
                raise ValueError(f"{path}: line {line_no} holds no item: {line.strip()!r}")
            sequences.append(InteractionSequence(user_id=fields[0], items=tuple(fields[1:])))
    return sequences


def read_items(subset: str, settings: Settings | None = None) -> dict[str, Item]:
    """Read one sub-set's item attributes as :class:`Item` records keyed by item id."""
    path = data_path(SPEC, f"{_check_subset(subset)}_item2attributes.json", settings)
    with path.open(encoding="utf-8") as handle:
        raw: dict[str, list[int]] = json.load(handle)
    return {
        item_id: Item(item_id=item_id, attributes=tuple(str(code) for code in codes))
        for item_id, codes in raw.items()
    }


def load(settings: Settings | None = None) -> AmazonSeqRec:
    """Load every sub-set of this copy as sequences and item records."""
    return AmazonSeqRec(
        subsets={
            name: SeqRecSubset(
                name=name,
                sequences=read_sequences(name, settings),
                items=read_items(name, settings),
            )
            for name in SUBSETS
        }
    )


def leave_one_out(sequences: Iterable[InteractionSequence]) -> LeaveOneOutSplit:
    """Split sequences the standard way: train = all but the last two, valid, test.

    Raises ``ValueError`` naming the user when a sequence has fewer than three
    items (nothing would be left to train on); the published 5-core files
    never do.
    """
    train: list[InteractionSequence] = []
    valid: list[NextItemExample] = []
    test: list[NextItemExample] = []
    for seq in sequences:
        items = seq.items
        if len(items) < 3:
            raise ValueError(
                f"user {seq.user_id}: {len(items)} items; leave-one-out needs at least 3"
            )
        train.append(InteractionSequence(user_id=seq.user_id, items=items[:-2]))
        valid.append(NextItemExample(seq.user_id, history=items[:-2], target=items[-2]))
        test.append(NextItemExample(seq.user_id, history=items[:-1], target=items[-1]))
    return LeaveOneOutSplit(train=train, valid=valid, test=test)


def subset_counts(subset: SeqRecSubset) -> dict[str, int]:
    """Users, items, interactions, attribute ids and the shortest sequence of one sub-set."""
    items_seen: set[str] = set()
    for seq in subset.sequences:
        items_seen.update(seq.items)
    attribute_ids = {code for item in subset.items.values() for code in item.attributes}
    return {
        "users": len({seq.user_id for seq in subset.sequences}),
        "items": len(items_seen),
        "interactions": sum(len(seq.items) for seq in subset.sequences),
        "attribute_ids": len(attribute_ids),
        "min_length": min((len(seq.items) for seq in subset.sequences), default=0),
        "items_without_attributes": len(items_seen - subset.items.keys()),
        "attributed_items_never_seen": len(subset.items.keys() - items_seen),
    }


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files (keys ``<Subset>.<count>``)."""
    loaded = load(settings)
    return {
        f"{name}.{key}": value
        for name, subset in loaded.subsets.items()
        for key, value in subset_counts(subset).items()
    }


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found


def _check_subset(subset: str) -> str:
    if subset not in SUBSETS:
        raise KeyError(f"amazon_seqrec has no sub-set {subset!r}; this copy holds {SUBSETS}")
    return subset

