"""Rule-based slot extractors for zh + en shopper text: price ranges, colours, sizes, quantities, order ids.

Why rules: these slots have a closed, regular form ("200元以内", "under $50",
"XL", "红色", "3件", "order #A1234567") that a pattern captures exactly, with
a normalised value (numbers, currency, canonical colour), in microseconds and
with no training data — which no public data set here labels anyway. The
learned taggers (:mod:`shopintent.text.tagger`) cover what rules cannot:
brands and product types.

>>> [(s.label, s.text, s.value) for s in extract_rule_slots("红色连衣裙 200元以内 XL 2件")]
[('colour', '红色', 'red'), ('price', '200元以内', {'max': 200.0, 'currency': 'CNY'}), ('size', 'XL', 'XL'), ('quantity', '2件', 2)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shopintent.schema import Span


@dataclass(frozen=True, slots=True)
class Slot:
    """A slot found in ``text[start:end]`` with its normalised ``value`` and who found it."""

    start: int
    end: int
    label: str
    text: str
    value: Any = None
    source: str = "rule"
    score: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_span(self) -> Span:
        """The canonical :class:`~shopintent.schema.Span` of this slot."""
        return Span(self.start, self.end, self.label, self.text)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (used by ``parse`` and the HTTP service)."""
        return {
            "start": self.start,
            "end": self.end,
            "label": self.label,
            "text": self.text,
            "value": self.value,
            "source": self.source,
            "score": round(float(self.score), 4),
        }


# -- numbers --------------------------------------------------------------------------------
_ZH_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_EN_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a couple of": 2,
    "a pair of": 2,
    "a dozen": 12,
    "dozen": 12,
}
_ZH_NUM = r"[零〇一二两俩三四五六七八九十百千万]+"
_NUM = r"\d+(?:[.,]\d+)?(?:\s?[kK千万w])?"


def zh_number(text: str) -> float | None:
    """``"三百五十"`` -> 350; ``None`` when ``text`` is not a Chinese numeral."""
    if not text or any(c not in _ZH_DIGITS and c not in _ZH_UNITS for c in text):
        return None
    total, section, digit = 0, 0, 0
    for char in text:
        if char in _ZH_DIGITS:
            digit = _ZH_DIGITS[char]
        else:
            unit = _ZH_UNITS[char]
            if unit == 10000:
                total += (section + digit) * unit
                section, digit = 0, 0
            else:
                section += (digit or 1) * unit
                digit = 0
    return float(total + section + digit)


def number(text: str) -> float | None:
    """Parse ``"1,299"``, ``"2.5k"``, ``"3万"``, ``"两"``, ``"three"`` as a number."""
    raw = text.strip().lower()
    if raw in _EN_NUMBERS:
        return float(_EN_NUMBERS[raw])
    zh = zh_number(raw)
    if zh is not None:
        return zh
    scale = 1.0
    if raw and raw[-1] in "k千":
        scale, raw = 1000.0, raw[:-1].strip()
    elif raw and raw[-1] in "万w":
        scale, raw = 10000.0, raw[:-1].strip()
    raw = (
        raw.replace(",", "")
        if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", raw)
        else raw.replace(",", ".")
    )
    try:
        return float(raw) * scale
    except ValueError:
        return None


# -- price ----------------------------------------------------------------------------------
_CUR_BEFORE = r"(?P<cur>[$¥￥€£]|rmb|usd|cny|eur|gbp)\s?"
_CUR_AFTER_EN = r"\s?(?P<cur2>dollars?|bucks|usd|euros?|pounds?|rmb|yuan|cny|eur|gbp)\b"
_CUR_AFTER_ZH = r"\s?(?P<cur3>元|块钱?|块|人民币|美元|美金|欧元|英镑|rmb)"
_AMOUNT = rf"(?:{_CUR_BEFORE})?(?P<n>{_NUM}|{_ZH_NUM})(?:{_CUR_AFTER_EN}|{_CUR_AFTER_ZH})?"


def _amount(name: str) -> str:
    return (
        _AMOUNT.replace("?P<cur>", f"?P<{name}_cur>")
        .replace("?P<n>", f"?P<{name}>")
        .replace("?P<cur2>", f"?P<{name}_cur2>")
        .replace("?P<cur3>", f"?P<{name}_cur3>")
    )


_CURRENCY = {
    "$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "美元": "USD",
    "美金": "USD",
    "¥": "CNY",
    "￥": "CNY",
    "rmb": "CNY",
    "cny": "CNY",
    "yuan": "CNY",
    "元": "CNY",
    "块": "CNY",
    "块钱": "CNY",
    "人民币": "CNY",
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "欧元": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "英镑": "GBP",
}

_PRICE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # 100到200元, 100-200元, $20-$50, between $20 and $50, 100~200块
    (
        re.compile(
            rf"(?:between\s+)?{_amount('a')}\s?(?:-|~|～|到|至|to|and)\s?{_amount('b')}",
            re.IGNORECASE,
        ),
        "range",
    ),
    # 200元以内 / 200元以下 / 300块以内 / 五百元左右
    (re.compile(rf"{_amount('a')}\s?(?P<zh_rel>以内|以下|之内|内|以上|左右|上下|起)"), "zh_rel"),
    # 不超过300元 / 低于200 / 高于1000元
    (
        re.compile(
            rf"(?P<zh_pre>不超过|不高于|不到|低于|少于|小于|高于|超过|大于|不低于|至少)\s?{_amount('a')}"
        ),
        "zh_pre",
    ),
    # under $50, below 100 dollars, less than $30, over $100, around $40, up to 50 euros
    (
        re.compile(
            rf"(?P<en_rel>under|below|less than|cheaper than|no more than|at most|up to|max(?:imum)?|"
            rf"over|above|more than|at least|min(?:imum)?|around|about|approximately|~)\s+{_amount('a')}",
            re.IGNORECASE,
        ),
        "en_rel",
    ),
    # a bare amount with a currency: $50, 200元, 30 dollars
    (re.compile(_amount("a"), re.IGNORECASE), "exact"),
]
_UPPER = {
    "以内",
    "以下",
    "之内",
    "内",
    "不超过",
    "不高于",
    "不到",
    "低于",
    "少于",
    "小于",
    "under",
    "below",
    "less than",
    "cheaper than",
    "no more than",
    "at most",
    "up to",
    "max",
    "maximum",
}
_LOWER = {
    "以上",
    "起",
    "高于",
    "超过",
    "大于",
    "不低于",
    "至少",
    "over",
    "above",
    "more than",
    "at least",
    "min",
    "minimum",
}


def _currency(match: re.Match[str], name: str) -> str | None:
    for suffix in ("_cur", "_cur2", "_cur3"):
        value = match.group(name + suffix)
        if value:
            return _CURRENCY.get(value.strip().lower())
    return None


def _price_slots(text: str) -> list[Slot]:
    slots: list[Slot] = []
    for pattern, kind in _PRICE_PATTERNS:
        for m in pattern.finditer(text):
            a = number(m.group("a"))
            cur = _currency(m, "a")
            value: dict[str, Any]
            if kind == "range":
                b = number(m.group("b"))
                cur = cur or _currency(m, "b")
                if (
                    a is None
                    or b is None
                    or cur is None
                    and not m.group(0).lower().startswith("between")
                ):
                    continue
                value = {"min": min(a, b), "max": max(a, b)}
            else:
                if a is None:
                    continue
                rel = (
                    m.groupdict().get("zh_rel")
                    or m.groupdict().get("zh_pre")
                    or m.groupdict().get("en_rel")
                    or ""
                )
                rel = rel.lower()
                if kind == "exact" and cur is None:
                    continue  # a bare number is not a price
                if (
                    kind in ("zh_rel", "zh_pre")
                    and cur is None
                    and rel not in ("以内", "以下", "左右", "以上")
                ):
                    continue
                if kind == "en_rel" and cur is None:
                    continue  # "under 5 minutes" is not a price
                if rel in _UPPER:
                    value = {"max": a}
                elif rel in _LOWER:
                    value = {"min": a}
                elif rel:
                    value = {"approx": a}
                else:
                    value = {"exact": a}
            if cur:
                value["currency"] = cur
            slots.append(Slot(m.start(), m.end(), "price", m.group(0), value))
    return slots


# -- colours --------------------------------------------------------------------------------
_EN_COLOURS = {
    "black",
    "white",
    "red",
    "blue",
    "green",
    "yellow",
    "pink",
    "purple",
    "orange",
    "brown",
    "grey",
    "gray",
    "silver",
    "gold",
    "golden",
    "beige",
    "navy",
    "khaki",
    "maroon",
    "burgundy",
    "teal",
    "turquoise",
    "ivory",
    "cream",
    "tan",
    "olive",
    "lavender",
    "coral",
    "charcoal",
    "rose gold",
    "navy blue",
    "sky blue",
    "light blue",
    "dark blue",
    "light grey",
    "dark grey",
    "light gray",
    "dark gray",
    "wine red",
    "off white",
    "off-white",
    "transparent",
    "multicolor",
    "multicolour",
}
_ZH_COLOURS = {
    "黑色": "black",
    "白色": "white",
    "红色": "red",
    "蓝色": "blue",
    "绿色": "green",
    "黄色": "yellow",
    "粉色": "pink",
    "粉红色": "pink",
    "紫色": "purple",
    "橙色": "orange",
    "橘色": "orange",
    "棕色": "brown",
    "咖啡色": "brown",
    "灰色": "grey",
    "银色": "silver",
    "金色": "gold",
    "米色": "beige",
    "米白色": "off white",
    "藏青色": "navy",
    "藏蓝色": "navy",
    "深蓝色": "dark blue",
    "浅蓝色": "light blue",
    "天蓝色": "sky blue",
    "卡其色": "khaki",
    "酒红色": "wine red",
    "枣红色": "maroon",
    "玫瑰金": "rose gold",
    "香槟色": "champagne",
    "墨绿色": "dark green",
    "军绿色": "olive",
    "浅灰色": "light grey",
    "深灰色": "dark grey",
    "透明": "transparent",
    "彩色": "multicolour",
    "杏色": "apricot",
    "驼色": "camel",
    "黑": "black",
    "白": "white",
    "红": "red",
    "蓝": "blue",
    "绿": "green",
    "黄": "yellow",
    "粉": "pink",
    "紫": "purple",
    "灰": "grey",
}
_EN_COLOUR_RE = re.compile(
    r"\b(" + "|".join(sorted((re.escape(c) for c in _EN_COLOURS), key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
# Single-character zh colours only count before 色/的/款 or a garment word, never inside words (黑客, 白天).
_ZH_COLOUR_RE = re.compile(
    "("
    + "|".join(sorted((re.escape(c) for c in _ZH_COLOURS if len(c) > 1), key=len, reverse=True))
    + ")"
    + "|([黑白红蓝绿黄粉紫灰])(?=[的款]|(?:色)|(?:衣|裙|鞋|裤|包|袜|帽))"
)


def _colour_slots(text: str) -> list[Slot]:
    slots = []
    for m in _EN_COLOUR_RE.finditer(text):
        slots.append(
            Slot(
                m.start(), m.end(), "colour", m.group(0), m.group(0).lower().replace("gray", "grey")
            )
        )
    for m in _ZH_COLOUR_RE.finditer(text):
        word = m.group(0)
        slots.append(Slot(m.start(), m.end(), "colour", word, _ZH_COLOURS.get(word, word)))
    return slots


# -- sizes ----------------------------------------------------------------------------------
_SIZE_PATTERNS = [
    # XS … 5XL, XXL; bare S/M/L only as a standalone uppercase token (or after "size"/尺码)
    (re.compile(r"(?<![A-Za-z0-9])([2-6]?X{1,4}[SL]|XS|X{0,3}L)(?![A-Za-z0-9])"), None),
    (
        re.compile(
            r"(?:\bsize\s*|尺码\s*|码数\s*|大小\s*)([SML]|\d{1,2}(?:\.5)?)(?![A-Za-z0-9])",
            re.IGNORECASE,
        ),
        None,
    ),
    (re.compile(r"(?<!\d)(\d{2}(?:\.5)?)\s?(码|号)"), None),
    (
        re.compile(
            r"(均码|加大码|大码|小码|特大号|大号|中号|小号|free size|one size)", re.IGNORECASE
        ),
        None,
    ),
    (re.compile(r"(?<![\d.])(\d{1,4}(?:\.\d)?)\s?(gb|tb|mb)\b", re.IGNORECASE), "storage"),
    (
        re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d)?)\s?(寸|英寸|inch(?:es)?|in\b|\")", re.IGNORECASE),
        "screen",
    ),
    (
        re.compile(
            r"(?<![\d.])(\d{1,4}(?:\.\d)?)\s?(ml|毫升|l\b|升|kg|公斤|g\b|克|斤)", re.IGNORECASE
        ),
        "volume_weight",
    ),
]


def _size_slots(text: str) -> list[Slot]:
    slots = []
    for pattern, kind in _SIZE_PATTERNS:
        for m in pattern.finditer(text):
            matched = m.group(0)
            if kind is None:
                value: Any = matched.strip()
                inner = m.group(1)
                if (
                    inner
                    and inner.upper() in {"S", "M", "L"}
                    and not re.match(r"(?i)size|尺码|码数|大小", matched)
                ):
                    continue
                value = (
                    inner.upper()
                    if inner and not inner[0].isdigit() and inner.isascii()
                    else matched
                )
                if re.fullmatch(r"\d{2}(?:\.5)?\s?(码|号)", matched):
                    value = matched
            else:
                value = {"amount": float(m.group(1)), "unit": m.group(2).lower(), "kind": kind}
            slots.append(Slot(m.start(), m.end(), "size", matched, value))
    return slots


# -- quantities -----------------------------------------------------------------------------
_ZH_CLASSIFIERS = "件个只双条台套包盒箱瓶袋支张本份斤打对把部辆块片罐桶"
_EN_UNITS = (
    r"pieces?|pcs|pairs?|units?|items?|boxes|box|packs?|bottles?|sets?|cases?|bags?|cans?|"
    r"dozens?|copies|copy|of them|shirts?|shoes|dresses|phones?"
)
_QUANTITY_PATTERNS = [
    re.compile(
        rf"(?<![\d.])(\d{{1,4}}|{_ZH_NUM})\s?([{_ZH_CLASSIFIERS}])(?![\u4e00-\u9fff]?[元钱])"
    ),
    re.compile(
        rf"\b(\d{{1,4}}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a dozen|"
        rf"a couple of|a pair of)\s+({_EN_UNITS})\b",
        re.IGNORECASE,
    ),
    re.compile(r"(?:(?<=\s)|^)[x×]\s?(\d{1,3})\b|\b(\d{1,3})\s?[x×](?=\s|$)", re.IGNORECASE),
    re.compile(r"\b(?:qty|quantity|数量)[:：]?\s*(\d{1,4})", re.IGNORECASE),
]


def _quantity_slots(text: str) -> list[Slot]:
    slots = []
    for pattern in _QUANTITY_PATTERNS:
        for m in pattern.finditer(text):
            raw = next((g for g in m.groups() if g), None)
            amount = number(raw) if raw else None
            if amount is None or amount <= 0:
                continue
            slots.append(Slot(m.start(), m.end(), "quantity", m.group(0), int(amount)))
    return slots


# -- order ids ------------------------------------------------------------------------------
_ORDER_PATTERNS = [
    re.compile(
        r"(?:order|purchase|invoice|tracking)\s*(?:number|no\.?|id|#|num)?\s*[:#]?\s*"
        r"(?P<id>#?[A-Za-z]{0,4}-?\d[\d-]{4,24}[A-Za-z0-9]?)",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?:订单号?|订单编号|单号|运单号|快递单号)\s*[:：]?\s*(?P<id>[A-Za-z]{0,4}\d{5,25})"
    ),
    re.compile(r"(?<![\w.])#(?P<id>[A-Za-z]{0,4}\d{5,20})\b"),
    re.compile(r"(?<![\w.,$¥￥€£-])(?P<id>\d{8,25})(?![\w.,%])"),
]


def _order_slots(text: str) -> list[Slot]:
    slots = []
    for pattern in _ORDER_PATTERNS:
        for m in pattern.finditer(text):
            start, end = m.span("id")
            ident = m.group("id").lstrip("#")
            start += len(m.group("id")) - len(ident)
            slots.append(Slot(start, end, "order_id", text[start:end], ident))
    return slots


#: Extractors in priority order: on overlap, the longer slot wins, then the earlier extractor.
EXTRACTORS = (
    ("order_id", _order_slots),
    ("price", _price_slots),
    ("size", _size_slots),
    ("quantity", _quantity_slots),
    ("colour", _colour_slots),
)


def resolve_overlaps(slots: list[Slot], priority: dict[str, int] | None = None) -> list[Slot]:
    """Keep non-overlapping slots: longer first, then by label priority; returned in text order."""
    priority = priority or {}
    ranked = sorted(slots, key=lambda s: (-(s.end - s.start), priority.get(s.label, 99), s.start))
    taken: list[Slot] = []
    for slot in ranked:
        if all(slot.end <= t.start or slot.start >= t.end for t in taken):
            taken.append(slot)
    return sorted(taken, key=lambda s: s.start)


def extract_rule_slots(text: str) -> list[Slot]:
    """Every rule slot in ``text`` with character offsets into ``text`` itself (end exclusive)."""
    if not text:
        return []
    found: list[Slot] = []
    for _, extractor in EXTRACTORS:
        found.extend(extractor(text))
    priority = {name: i for i, (name, _) in enumerate(EXTRACTORS)}
    return resolve_overlaps(found, priority)
