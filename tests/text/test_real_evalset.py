"""The real-text shop-intent test set: every reference resolves, hashes hold, labels are valid, both passes kept."""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score

from shopintent.datasets import amazon_qa, ecd_taobao_dialogue_sample
from shopintent.settings import Settings
from shopintent.text import evalsets
from shopintent.text.evalsets import select
from tests.datasets import checks

LABELLING = resources.files("shopintent.text.evalsets").joinpath("LABELLING.md").read_text("utf-8")


@pytest.fixture(scope="module", params=evalsets.LANGUAGES)
def loaded(request: pytest.FixtureRequest, session_settings: Settings) -> evalsets.RealIntentSet:
    return evalsets.real_shop_intent_test(session_settings, request.param)


def test_every_row_resolves_to_a_nonempty_text_whose_hash_matches(
    loaded: evalsets.RealIntentSet,
) -> None:
    # real_shop_intent_test raises on any missing reference or changed hash; here we check what it gave
    assert len(loaded) == len(loaded.texts) >= 300
    assert all(text.strip() for text in loaded.texts)
    if loaded.language == "zh":  # one row per distinct turn (en: one per product; a text may recur)
        assert len(set(loaded.texts)) == len(loaded.texts)


def test_first_rows_are_the_expected_real_texts(session_settings: Settings) -> None:
    zh = evalsets.real_shop_intent_test(session_settings, "zh")
    assert (zh.rows[0].source_file, zh.rows[0].source_locator) == ("train", "line 17 turn 6")
    assert (zh.texts[0], zh.labels[0]) == ("我看到更合适的799的两组我得再退一次", "get_refund")
    assert (zh.texts[1], zh.labels[1]) == ("有厚一点的吗", "product_question")
    en = evalsets.real_shop_intent_test(session_settings, "en")
    assert (en.texts[0], en.labels[0]) == ("is there a matching range hood?", "product_question")
    assert en.rows[0].product_id == "B005HYW32C"


@pytest.mark.parametrize("language", evalsets.LANGUAGES)
def test_labels_are_shop_intents_oos_or_product_question_with_both_passes(language: str) -> None:
    rows = evalsets.read_rows(language)
    assert len(evalsets.SHOP_INTENTS) == 27
    for row in rows:
        assert {row.label, row.label_pass1, row.label_pass2} <= evalsets.LABELS
        if row.label_pass1 == row.label_pass2:
            assert row.label == row.label_pass1, row.row_id
        else:
            assert row.label in (row.label_pass1, row.label_pass2) and row.note, row.row_id


@pytest.mark.parametrize(
    ("language", "same", "kappa"), [("zh", 322, 0.968), ("en", 330, 1.0)]
)
def test_agreement_between_passes_is_what_labelling_md_reports(
    language: str, same: int, kappa: float
) -> None:
    rows = evalsets.read_rows(language)
    first = [r.label_pass1 for r in rows]
    second = [r.label_pass2 for r in rows]
    assert sum(a == b for a, b in zip(first, second, strict=True)) == same
    assert round(cohen_kappa_score(first, second), 3) == kappa
    assert f"| {language} | {len(rows)} | {same} (" in LABELLING


def test_every_disagreement_is_listed_in_labelling_md_with_its_resolution() -> None:
    listed = {
        m.group(1): (m.group(2), m.group(3), m.group(4))
        for m in re.finditer(r"^\| (\w\w\d{3}) \| (\w+) \| (\w+) \| (\w+) \|", LABELLING, re.M)
    }
    disagreements = {
        r.row_id: (r.label_pass1, r.label_pass2, r.label)
        for language in evalsets.LANGUAGES
        for r in evalsets.read_rows(language)
        if r.label_pass1 != r.label_pass2
    }
    assert disagreements and listed == disagreements


def test_label_counts_are_what_labelling_md_reports() -> None:
    zh = Counter(r.label for r in evalsets.read_rows("zh"))
    en = Counter(r.label for r in evalsets.read_rows("en"))
    assert (zh["oos"], zh["product_question"], len(zh) - 2) == (118, 102, 11)
    assert en == {"product_question": 320, "oos": 5, "complaint": 2, "delivery_options": 2,
                  "delivery_period": 1}


@pytest.mark.parametrize("language", evalsets.LANGUAGES)
def test_rows_are_exactly_the_seeded_draw(language: str, session_settings: Settings) -> None:
    drawn = select.candidates(session_settings, language)
    rows = evalsets.read_rows(language)
    assert [(c.source_file, c.source_locator, c.product_id, c.text_sha256) for c in drawn] == [
        (r.source_file, r.source_locator, r.product_id, r.text_sha256) for r in rows
    ]


def test_zh_rows_are_every_usable_test_turn_plus_a_train_supplement(
    session_settings: Settings,
) -> None:
    rows = evalsets.read_rows("zh")
    assert Counter(r.source_file for r in rows) == {"test": select.ZH_FROM_TEST_MAX, "train": 32}
    turns = ecd_taobao_dialogue_sample.load(session_settings).customer_frame()
    test_turns = turns[turns["split"] == "test"]
    usable = {j for t, j in zip(test_turns["text"], test_turns["text_joined"], strict=True)
              if select.usable_zh(t)}
    assert len(usable) == select.ZH_FROM_TEST_MAX  # all of them are in the set
    assert all(int(r.source_locator.split()[-1]) % 2 == 0 for r in rows)  # customer turns only


def test_en_rows_are_one_question_each_of_distinct_products(session_settings: Settings) -> None:
    # resolving a row checks that its line is about its product_id; here: one row per product
    loaded = evalsets.real_shop_intent_test(session_settings, "en")
    excluded = evalsets.excluded_products()
    assert len(excluded) == len(loaded) == 330
    assert excluded == {row.product_id for row in loaded.rows}
    counts = amazon_qa.SPEC.expected_counts
    assert counts["Appliances.products"] + counts["Video_Games.products"] == 2_341


def test_a_changed_data_file_is_refused_naming_the_row(
    session_settings: Settings, tmp_path: Path
) -> None:
    spec = ecd_taobao_dialogue_sample.SPEC
    checks.link_real_files(spec, session_settings, tmp_path, leave_out="test")
    real = (spec.directory(session_settings) / "test").read_text(encoding="utf-8")
    row = next(r for r in evalsets.read_rows("zh")
               if r.source_file == "test" and r.source_locator.endswith(" turn 0"))
    line = int(row.source_locator.split()[1])
    lines = real.split("\n")
    lines[line - 1] = lines[line - 1].replace("\t", "\t改", 1)  # the turn-0 text changes
    (tmp_path / spec.name / "test").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(evalsets.EvalSetError) as caught:
        evalsets.resolve([r for r in evalsets.read_rows("zh") if r.source_file == "test"],
                         checks.offline_settings(tmp_path))
    message = str(caught.value)
    assert "the data file changed" in message and f"line {line} turn 0" in message


def test_a_malformed_row_is_refused_naming_line_and_field(tmp_path: Path) -> None:
    shipped = resources.files("shopintent.text.evalsets").joinpath("real_shop_intent_en.csv")
    lines = shipped.read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], lines[1].replace(",product_question,", ",track_parcel,", 1)]))
    with pytest.raises(evalsets.EvalSetError, match=r"line 2 \(en001\): `label` 'track_parcel'"):
        evalsets.read_rows("en", bad)
    with pytest.raises(ValueError, match="the real-text set has zh, en"):
        evalsets.read_rows("fr")
