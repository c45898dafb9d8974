"""Shopper-style search queries templated from catalogue labels, in Chinese and English.

Why templated: no Chinese descriptions of these products exist, so the
Chinese test queries are *generated* by one fixed template from the product's
gender, colour and article type, translated by the hand-written dictionaries
below ("男士 黑色 T恤"). The English template is the same sentence in English,
so the zh-vs-en gap measures the language, not the wording. Products whose
labels have no translation here get no query. Training uses the English
template of training products only, never a test product's.
"""

from __future__ import annotations

import pandas as pd

GENDER_ZH = {"Men": "男士", "Women": "女士", "Unisex": "男女通用", "Boys": "男童", "Girls": "女童"}
COLOUR_ZH = {
    "Black": "黑色", "Blue": "蓝色", "White": "白色", "Grey": "灰色", "Brown": "棕色", "Red": "红色",
    "Green": "绿色", "Navy Blue": "藏青色", "Purple": "紫色", "Pink": "粉色", "Beige": "米色",
    "Maroon": "栗色", "Yellow": "黄色", "Olive": "橄榄绿", "Silver": "银色", "Steel": "钢灰色",
    "Orange": "橙色", "Cream": "奶油色", "Gold": "金色", "Tan": "棕褐色", "Multi": "多色",
    "Charcoal": "炭灰色", "Khaki": "卡其色", "Magenta": "洋红色", "Off White": "米白色",
    "Copper": "铜色", "Lavender": "薰衣草紫", "Peach": "桃色",
}
TYPE_ZH = {
    "Tshirts": "T恤", "Shirts": "衬衫", "Casual Shoes": "休闲鞋", "Tops": "上衣", "Kurtas": "库尔塔长衫",
    "Sports Shoes": "运动鞋", "Watches": "手表", "Handbags": "手提包", "Heels": "高跟鞋",
    "Sunglasses": "太阳镜", "Sweaters": "毛衣", "Sandals": "凉鞋", "Wallets": "钱包", "Flip Flops": "人字拖",
    "Sweatshirts": "卫衣", "Belts": "腰带", "Trousers": "长裤", "Formal Shoes": "正装鞋", "Jeans": "牛仔裤",
    "Socks": "袜子", "Jackets": "夹克", "Flats": "平底鞋", "Backpacks": "双肩包", "Briefs": "内裤",
    "Shorts": "短裤", "Innerwear Vests": "背心", "Caps": "帽子", "Track Pants": "运动裤", "Ties": "领带",
    "Kurtis": "短款库尔塔", "Clutches": "手拿包", "Dresses": "连衣裙", "Mufflers": "围巾",
    "Skirts": "半身裙", "Scarves": "丝巾", "Cufflinks": "袖扣", "Perfume and Body Mist": "香水",
}
TYPE_EN = {"Tshirts": "T-shirt", "Innerwear Vests": "Vest", "Perfume and Body Mist": "Perfume"}


def zh_query(gender: str, colour: str, article_type: str) -> str | None:
    """The Chinese query for one product, or None when a label has no translation."""
    parts = (GENDER_ZH.get(gender), COLOUR_ZH.get(colour), TYPE_ZH.get(article_type))
    return None if None in parts else "".join(parts)  # type: ignore[arg-type]


def en_query(gender: str, colour: str, article_type: str) -> str:
    """The same template in English (``Men Black T-shirt``)."""
    return f"{gender} {colour} {TYPE_EN.get(article_type, article_type)}"


def templated_queries(products: pd.DataFrame) -> pd.DataFrame:
    """Columns ``zh`` (None where untranslatable) and ``en``, one row per product, same index."""
    rows = zip(products["gender"], products["baseColour"], products["articleType"], strict=True)
    zh, en = [], []
    for gender, colour, kind in rows:
        zh.append(zh_query(gender, colour, kind))
        en.append(en_query(gender, colour, kind))
    return pd.DataFrame({"zh": zh, "en": en}, index=products.index)
