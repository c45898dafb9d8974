"""The shop-intent training sources: every source contributes, no test-set text or test product leaks in."""

from __future__ import annotations

from collections import Counter

import pytest

from shopintent.settings import Settings
from shopintent.text import evalsets, recipes
from shopintent.text import shop_intent_data as data


@pytest.fixture(scope="module")
def sources(session_settings: Settings) -> dict[str, dict[str, data.SourceSplit]]:
    return data.shop_intent_sources(session_settings)


@pytest.fixture(scope="module")
def splits(session_settings: Settings) -> dict[str, recipes.TextSplit]:
    return recipes.shop_intent_splits(session_settings)


def test_every_source_contributes_train_and_validation_rows(
    sources: dict[str, dict[str, data.SourceSplit]],
) -> None:
    assert tuple(sources) == data.SOURCES
    for name, splits in sources.items():
        assert len(splits["train"]) >= 90, name
        assert len(splits["validation"]) >= 15, name
    assert set(sources["amazon_qa"]["train"].labels) == {data.PRODUCT_QUESTION}
    assert set(sources["clinc_mapped"]["train"].labels) == set(data.CLINC_TO_SHOP.values())
    assert Counter(sources["mg_shopdial"]["train"].labels).keys() == {"oos", "product_question"}
    zh_labels = set(sources["ecd_weak"]["train"].labels) | set(sources["zh_written"]["train"].labels)
    assert {"oos", "product_question", "delivery_options", "track_order", "get_refund"} <= zh_labels


def test_no_test_set_text_is_a_training_or_validation_row(
    session_settings: Settings, sources: dict[str, dict[str, data.SourceSplit]],
    splits: dict[str, recipes.TextSplit],
) -> None:
    banned = data.real_test_texts(session_settings)
    assert len(banned) > 500
    for split in ("train", "validation"):
        rows = {"".join(t.split()).lower() for t in splits[split].texts}
        assert not rows & banned, split
    # the hand-written phrasings repeat a few stock test phrases (你好, 好的): those are dropped
    written = [t for texts in data.ZH_WRITTEN.values() for t in texts]
    kept = sources["zh_written"]["train"].texts + sources["zh_written"]["validation"].texts
    assert 0 < len(written) - len(kept) < 15


def test_no_question_of_an_excluded_product_is_trained_on(
    session_settings: Settings, sources: dict[str, dict[str, data.SourceSplit]],
) -> None:
    import html

    from shopintent.datasets import amazon_qa

    qa = amazon_qa.load(session_settings).frame()
    qa = qa.assign(q=qa["question"].astype(str).map(html.unescape).str.strip())
    products_of = qa.groupby("q")["item_id"].agg(set)
    excluded = evalsets.excluded_products()
    only_excluded = {q for q, items in products_of.items() if items <= excluded}
    assert len(only_excluded) > 1000
    used = set(sources["amazon_qa"]["train"].texts) | set(sources["amazon_qa"]["validation"].texts)
    assert not used & only_excluded


def test_ecd_rows_come_from_train_lines_no_test_row_touches(
    session_settings: Settings, sources: dict[str, dict[str, data.SourceSplit]],
) -> None:
    from shopintent.datasets import ecd_taobao_dialogue_sample as ecd

    sample = ecd.load(session_settings)
    test_file = {ecd.unsegment(t) for p in sample.positives("test") for _, t in p.customer_turns()}
    rows = sources["ecd_weak"]["train"].texts + sources["ecd_weak"]["validation"].texts
    assert not set(rows) & test_file
    test_lines = {int(r.source_locator.split()[1]) for r in evalsets.read_rows("zh")
                  if r.source_file == "train"}
    touched = {ecd.unsegment(t) for p in sample.positives("train") if p.line in test_lines
               for _, t in p.customer_turns()}
    assert not set(rows) & touched
    assert not set(sources["ecd_weak"]["train"].texts) & set(sources["ecd_weak"]["validation"].texts)


def test_shop_intent_splits_have_product_question_and_keep_their_test_rows(
    splits: dict[str, recipes.TextSplit],
) -> None:
    labels = set(splits["train"].labels)
    assert labels == set(evalsets.SHOP_INTENTS) | {"oos", "product_question"}
    assert set(splits["validation"].labels) == labels
    has_han = lambda t: any("\u4e00" <= c <= "\u9fff" for c in t)  # noqa: E731
    test_zh = {t for t in splits["test"].texts if has_han(t)}
    assert len(test_zh) == 300  # the SMP2019 rows zh rejection is measured on
    assert not test_zh & set(splits["train"].texts) and not test_zh & set(splits["validation"].texts)
    assert sum(has_han(t) for t in splits["train"].texts) > 1000  # zh rows now train


@pytest.mark.parametrize(
    ("goal", "acts", "text", "label"),
    [
        ("qa", ["o_question"], "Does it come with a charger?", "product_question"),
        ("recommendation", ["clarify", "disclose"], "Which one is lighter?", "product_question"),
        ("meta", ["greeting"], "Hi there", "oos"),
        ("recommendation", ["disclose", "answer"], "For my son, he is ten", "oos"),
        ("meta", ["o_question"], "Can you hear me?", None),
        ("search", [], "ok", None),
    ],
)
def test_mg_shopdial_acts_map_to_product_question_oos_or_nothing(
    goal: str, acts: list[str], text: str, label: str | None,
) -> None:
    assert data.mg_shopdial_label(goal, acts, text) == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("发什么快递呀", "delivery_options"),
        ("什么时候发货", "delivery_period"),
        ("物流一直没更新", "track_order"),
        ("我要退款", "get_refund"),
        ("这个有蓝色的吗", "product_question"),
        ("在吗", "oos"),
        ("好的我知道了", "oos"),
        ("江西", "oos"),
    ],
)
def test_zh_weak_rules_label_customer_turns(text: str, label: str) -> None:
    assert data.zh_weak_label(text) == label
