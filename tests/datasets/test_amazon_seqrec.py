"""amazon_seqrec: S3-Rec Beauty and Sports sequences, item attributes, leave-one-out split."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopintent.datasets import amazon_seqrec as dataset
from shopintent.schema import InteractionSequence
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.AmazonSeqRec:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert found["Beauty.interactions"] == 198_502
    assert found["Sports_and_Outdoors.interactions"] == 296_337
    assert found["Beauty.items_without_attributes"] == 0
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_sequences_and_items_are_canonical_records(loaded: dataset.AmazonSeqRec) -> None:
    beauty = loaded["Beauty"]
    assert beauty.sequences[0] == InteractionSequence(user_id="1", items=("1", "2", "3", "4", "5"))
    assert len(beauty.sequences) == 22_363
    assert all(len(seq.items) >= 5 for seq in beauty.sequences)
    assert beauty.items["4"].attributes == ("1", "2", "3")
    assert all(item.item_id == key for key, item in beauty.items.items())
    assert set(loaded.subsets) == {"Beauty", "Sports_and_Outdoors"}


def test_leave_one_out_holds_out_the_last_two_items(loaded: dataset.AmazonSeqRec) -> None:
    sequences = loaded["Beauty"].sequences
    split = dataset.leave_one_out(sequences)
    assert len(split.train) == len(split.valid) == len(split.test) == 22_363
    first = sequences[0].items
    assert split.train[0].items == first[:-2]
    assert (split.valid[0].history, split.valid[0].target) == (first[:-2], first[-2])
    assert (split.test[0].history, split.test[0].target) == (first[:-1], first[-1])
    with pytest.raises(ValueError, match="user 9: 2 items"):
        dataset.leave_one_out([InteractionSequence(user_id="9", items=("1", "2"))])


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
