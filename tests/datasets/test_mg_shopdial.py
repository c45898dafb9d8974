"""mg_shopdial: 64 real English shopping chats with goal and dialogue-act labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopintent.datasets import mg_shopdial as dataset
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.MGShopDial:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["conversations"], found["rows"], found["Client"]) == (64, 2_196, 1_149)
    assert found["max_votes"] == 8
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_first_client_turn_has_goal_and_voted_intents(loaded: dataset.MGShopDial) -> None:
    first = loaded.conversations[0]
    assert (first.conversation_id, first.category, first.kind) == ("Books:45:109:118", "Books", "simple")
    client = next(u for u in first.utterances if u.participant == "Client")
    assert client.text == "Hello! I'm looking for some book "
    assert (client.position, client.utterance_id, client.goal) == (1, 2, "recommendation")
    assert client.intents == (("greeting", 3), ("interaction", 4))
    assert client.top_intent() == "interaction"


def test_client_queries_carry_goal_and_address(loaded: dataset.MGShopDial) -> None:
    queries = loaded.client_queries()
    assert len(queries) == 1_149
    assert queries[0].query_id == "Books:45:109:118/1"
    assert {q.labels["goal"] for q in queries} == set(dataset.GOALS)
    assert all(q.language == "en" and q.text.strip() for q in queries)


def test_malformed_utterance_is_skipped_naming_conversation_and_field(tmp_path: Path) -> None:
    folder = tmp_path / dataset.SPEC.name
    folder.mkdir()
    good = {"utterance_id": 1, "participant": "Client", "utterance": "hi", "goal": "meta",
            "intents": [["greeting", 2.0]]}
    bad = dict(good, participant="Robot")
    (folder / dataset.DATA_FILE).write_text(
        json.dumps([{"id": "Books:1", "metadata": {}, "utterances": [good, bad]}])
    )
    loaded = dataset.load(checks.offline_settings(tmp_path))
    assert [u.text for u in loaded.utterances()] == ["hi"]
    assert loaded.skipped[0].where == "Books:1 utterance 1"
    assert "`participant` 'Robot'" in loaded.skipped[0].reason


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
