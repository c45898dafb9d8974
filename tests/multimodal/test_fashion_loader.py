"""The Fashion Product Images loader reads what PROVENANCE.txt states."""

from __future__ import annotations

from shopintent.multimodal.fashion import TASKS, FashionData, parse_styles
from shopintent.multimodal.split import kept_classes, split_ids


def test_loader_counts_match_the_provenance(fashion: FashionData) -> None:
    assert fashion.counts == {
        "label_rows": 44_446, "stray_comma_rows": 22, "stray_comma_rows_with_image": 0,
        "images": 9_583, "images_with_labels": 9_583,
    }
    products = fashion.products
    assert products["id"].iloc[0] == "10000" and products["id"].is_unique
    assert (products["productDisplayName"].str.len() > 0).all()
    assert products["gender"].value_counts()["Men"] == 5_964
    assert len(kept_classes(products["articleType"])) == 39  # classes with >= 20 images
    assert len(fashion.sha256) == 64 and fashion.source.startswith("https://www.kaggle.com/")


def test_titles_with_commas_are_joined_back_not_split() -> None:
    header = "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName"
    frame, joined = parse_styles(f"{header}\n7,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,Arrow, Men, Blue Shirt\n"
                                 "8,Women,Footwear,Shoes,Heels,Black,Fall,2011,Casual,Rocia Black Heels")
    assert joined == 1
    assert frame["productDisplayName"].tolist() == ["Arrow, Men, Blue Shirt", "Rocia Black Heels"]


def test_split_is_stratified_seeded_and_disjoint(fashion: FashionData) -> None:
    products = fashion.products
    train, test = split_ids(products["id"], products["articleType"], seed=1)
    again, _ = split_ids(products["id"], products["articleType"], seed=1)
    assert (train == again).all() and not (train & test).any() and (train | test).all()
    assert abs(test.mean() - 0.2) < 0.001
    shirts = (products["articleType"] == "Shirts").to_numpy()
    assert abs(test[shirts].mean() - 0.2) < 0.01  # stratified per article type
    assert set(TASKS) <= set(products.columns)
