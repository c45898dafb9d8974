"""Plant valid personal data into real text, to measure what the scrubber lets through.

A leak test is only as good as the values it plants: a phone number the library
would call invalid, a card number that fails Luhn or an ID with a wrong check
character is not personal data, and missing it proves nothing. So every value
here is *valid*: phone numbers are drawn until ``phonenumbers`` validates them,
card numbers carry a real network prefix (IIN) and a Luhn check digit, ID
numbers a real province, a real birth date and the GB 11643 check character. Each
is written in one of the spellings people use (separators, brackets, full width,
international forms), recorded in :attr:`PlantedValue.spelling`.

The WeChat, QQ and bare-NANP values carry the cue the scrubber's rule needs
(``微信：``, ``QQ：``, ``call me at``); the cue is context, not the value, and only
the value has to disappear. Known gaps of the rules (a local number without its
area code, ``wechat janedoe`` with no separator) are not planted: the generator
plants what the scrubber promises to remove, so a miss is a bug.

Used by ``shopintent bench privacy`` and by the leak tests:

>>> import random
>>> values = plant_pii(random.Random(7), 3)
>>> [v.kind for v in values]
['PHONE', 'EMAIL', 'PHONE']
>>> text = insert_pii("想买一件白色连衣裙", values[1], random.Random(7))
>>> values[1].snippet in text
True
>>> from shopintent.privacy import scrub_text
>>> survives(values[1], "想买一件白色连衣裙", scrub_text(text))
[]
"""

from __future__ import annotations

import ipaddress
import random
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import phonenumbers

from shopintent.privacy.pii_cards import luhn_valid
from shopintent.privacy.pii_idcard import PROVINCES, id_card_check_character
from shopintent.privacy.scrub import CARD, EMAIL, ID_CARD, IP, PHONE, QQ, WECHAT


@dataclass(frozen=True, slots=True)
class PlantedValue:
    """One valid piece of personal data, as written, and the cue written before it."""

    kind: str
    raw: str
    spelling: str
    cue: str = ""

    @property
    def snippet(self) -> str:
        """What :func:`insert_pii` writes into the text: the cue, then the value."""
        return self.cue + self.raw

    def forms(self) -> tuple[str, ...]:
        """The spellings of the value that must not survive scrubbing.

        The value as typed, its NFKC form, and its compact form (NFKC, lower case,
        separators removed) -- the last is compared with the compacted output, so
        ``138.0013.8000`` leaking as ``138 0013 8000`` is still caught.
        """
        nfkc = unicodedata.normalize("NFKC", self.raw)
        return tuple(dict.fromkeys((self.raw, nfkc, compact(self.raw))))


_SEPARATORS: Final = re.compile(r"[\s\-.()+/:\u200b]")


def compact(text: str) -> str:
    """NFKC, lower case, without separators: the form two spellings of a number share."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).lower()


_PLACEHOLDER: Final = re.compile(r"\[(?:PHONE|EMAIL|CARD|ID_CARD|IP|QQ|WECHAT|ADDRESS)\]")
_GRAM: Final = 4


def survives(value: PlantedValue, host: str, scrubbed: str) -> list[str]:
    """What of ``value`` is still in ``scrubbed`` (the scrubbed ``host`` + value); [] if none.

    Checked byte-wise: each of :meth:`PlantedValue.forms` in the output as it is,
    in its NFKC form and (for the compact form) in its compacted form; then every
    run of four characters of the compact value that is in the compacted output
    but not in the compacted host text, which catches a partial leak
    (``138.[PHONE]``) without blaming the value for digits the text already had.
    """
    left: list[str] = []
    nfkc_out = unicodedata.normalize("NFKC", scrubbed)
    squeezed = compact(_PLACEHOLDER.sub(" ", scrubbed))
    for form in value.forms():
        if form in scrubbed or form in nfkc_out or form in squeezed:
            left.append(form)
    core = compact(value.raw)
    background = compact(host)
    for i in range(len(core) - _GRAM + 1):
        gram = core[i : i + _GRAM]
        if gram in squeezed and gram not in background:
            left.append(gram)
    return list(dict.fromkeys(left))


# --- the values -------------------------------------------------------------------------
_WIDE: Final = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"}


def full_width(text: str) -> str:
    """``text`` in full-width characters, as a Chinese input method types it."""
    return "".join(_WIDE.get(c, c) for c in text)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _valid(number: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


def _draw(rng: random.Random, make: Callable[[random.Random], str], region: str) -> str:
    """Draw national numbers until the numbering plan (via ``phonenumbers``) accepts one."""
    for _ in range(1000):
        number = make(rng)
        if _valid(number, region):
            return number
    raise RuntimeError(f"no valid {region} number drawn in 1000 tries")  # pragma: no cover


_CN_MOBILE_PREFIXES: Final = (
    "130 131 132 133 134 135 136 137 138 139 147 150 151 152 153 155 156 157 158 159 "
    "166 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 195 198 199"
).split()
_CN_AREAS: Final = (
    "10 20 21 22 23 24 25 27 28 29 311 351 371 431 451 531 551 571 591 731 755 757 769 871"
).split()


def _cn_mobile(rng: random.Random) -> tuple[str, str]:
    n = _draw(rng, lambda r: r.choice(_CN_MOBILE_PREFIXES) + _digits(r, 8), "CN")
    a, b, c = n[:3], n[3:7], n[7:]
    spellings = {
        "plain": n, "spaces": f"{a} {b} {c}", "dashes": f"{a}-{b}-{c}", "dots": f"{a}.{b}.{c}",
        "plus86": f"+86 {a} {b} {c}", "plus86_dashes": f"+86-{a}-{b}-{c}",
        "plus86_bare": f"+86{n}",
        "0086": f"0086 {n}", "brackets": f"({a}){b}-{c}", "full_width": full_width(n),
        "full_width_dashes": full_width(f"{a}-{b}-{c}"),
        "full_width_plus86": full_width(f"+86 {n}"),
    }
    name = rng.choice(sorted(spellings))
    return f"cn_mobile/{name}", spellings[name]


def _cn_landline(rng: random.Random) -> tuple[str, str]:
    def make(r: random.Random) -> str:
        area = r.choice(_CN_AREAS)
        return "0" + area + r.choice("2345678") + _digits(r, 7)

    n = _draw(rng, make, "CN")
    area_len = 3 if n[1] in "12" else 4
    area, local = n[:area_len], n[area_len:]
    half = len(local) // 2
    spellings = {
        "dashes": f"{area}-{local}", "brackets": f"({area}) {local[:half]} {local[half:]}",
        "spaces": f"{area} {local[:half]} {local[half:]}", "plus86": f"+86 {area[1:]} {local}",
        "full_width": full_width(f"({area}){local}"), "plain": n,
    }
    name = rng.choice(sorted(spellings))
    return f"cn_landline/{name}", spellings[name]


def _nanp(rng: random.Random) -> tuple[str, str, str]:
    def make(r: random.Random) -> str:
        return r.choice("23456789") + _digits(r, 2) + r.choice("23456789") + _digits(r, 6)

    n = _draw(rng, make, "US")
    a, b, c = n[:3], n[3:6], n[6:]
    spellings = {
        "brackets": f"({a}) {b}-{c}", "dashes": f"{a}-{b}-{c}", "dots": f"{a}.{b}.{c}",
        "spaces": f"{a} {b} {c}", "plus1": f"+1 {a} {b} {c}", "plus1_dashes": f"+1-{a}-{b}-{c}",
        "trunk1": f"1-{a}-{b}-{c}", "plus1_bare": f"+1{n}",
        "full_width": full_width(f"({a}){b}-{c}"), "bare_after_cue": n,
    }
    name = rng.choice(sorted(spellings))
    cue = "call me at " if name == "bare_after_cue" else ""
    return f"us/{name}", spellings[name], cue


def _uk(rng: random.Random) -> tuple[str, str]:
    def make(r: random.Random) -> str:
        if r.random() < 0.5:
            return "07" + r.choice("1234589") + _digits(r, 8)  # mobiles (07700 900xxx is drama)
        return "020" + r.choice("378") + _digits(r, 7)  # London

    n = _draw(rng, make, "GB")
    national = f"{n[:5]} {n[5:]}" if n.startswith("07") else f"{n[:3]} {n[3:7]} {n[7:]}"
    spellings = {
        "national": national, "plus44": "+44 " + national[1:], "0044": "0044 " + national[1:],
        "plus44_bare": "+44" + n[1:], "full_width": full_width(national),
    }
    name = rng.choice(sorted(spellings))
    return f"uk/{name}", spellings[name]


def _phone(rng: random.Random) -> PlantedValue:
    pick = rng.random()
    if pick < 0.35:
        spelling, raw = _cn_mobile(rng)
    elif pick < 0.55:
        spelling, raw = _cn_landline(rng)
    elif pick < 0.85:
        spelling, raw, cue = _nanp(rng)
        return PlantedValue(PHONE, raw, spelling, cue)
    else:
        spelling, raw = _uk(rng)
    return PlantedValue(PHONE, raw, spelling)


_NAMES: Final = (
    "jane john wei li zhang wang liu chen yang huang zhao mary david sarah tom lucy "
    "xiaoming lihua emma oliver sophia james"
).split()
_DOMAINS: Final = (
    "gmail.com qq.com 163.com 126.com outlook.com hotmail.com sina.com foxmail.com "
    "yahoo.co.uk example.org mail.example.cn"
).split()


def _email(rng: random.Random) -> PlantedValue:
    local = rng.choice(_NAMES) + rng.choice(["", ".", "_"]) + rng.choice(_NAMES) + _digits(
        rng, rng.randint(0, 4)
    )
    address = f"{local}@{rng.choice(_DOMAINS)}"
    spellings = {
        "plain": address, "upper": address.upper(), "plus_tag": address.replace("@", "+shop@"),
        "full_width_at": address.replace("@", "＠"), "full_width": full_width(address),
        "qq_number": f"{rng.randint(10000, 99999999)}@qq.com",
    }
    name = rng.choice(sorted(spellings))
    return PlantedValue(EMAIL, spellings[name], f"email/{name}")


def _id_card(rng: random.Random) -> PlantedValue:
    region = rng.choice(sorted(PROVINCES - {"83", "91"})) + _digits(rng, 4)
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    if rng.random() < 0.15:  # the old 15-digit form, only ever taken after a cue
        number = region + born.strftime("%y%m%d") + _digits(rng, 3)
        cue = rng.choice(["身份证号：", "ID number "])
        return PlantedValue(ID_CARD, number, "id15/after_cue", cue)
    first17 = region + born.strftime("%Y%m%d") + _digits(rng, 3)
    number = first17 + id_card_check_character(first17)
    spellings = {
        "plain": number, "lower_x": number.lower(),
        "spaces": f"{number[:6]} {number[6:14]} {number[14:]}", "full_width": full_width(number),
    }
    name = rng.choice(sorted(spellings))
    return PlantedValue(ID_CARD, spellings[name], f"id18/{name}")


#: (network, IIN prefixes, length) with the card networks' real prefixes.
_CARD_NETWORKS: Final = (
    ("visa", ("4",), 16),
    ("mastercard", ("51", "52", "53", "54", "55", "2221", "2720"), 16),
    ("amex", ("34", "37"), 15),
    ("discover", ("6011", "65"), 16),
    ("unionpay", ("62",), 16),
    ("unionpay19", ("62",), 19),
    ("jcb", ("3528", "3589"), 16),
)


def _card(rng: random.Random) -> PlantedValue:
    network, prefixes, length = rng.choice(_CARD_NETWORKS)
    body = rng.choice(prefixes)
    body += _digits(rng, length - 1 - len(body))
    number = next(body + d for d in "0123456789" if luhn_valid(body + d))
    if network == "amex":
        grouped = f"{number[:4]} {number[4:10]} {number[10:]}"
    else:
        grouped = " ".join(number[i : i + 4] for i in range(0, length, 4))
    spellings = {
        "plain": number, "spaces": grouped, "dashes": grouped.replace(" ", "-"),
        "full_width": full_width(grouped),
    }
    name = rng.choice(sorted(spellings))
    return PlantedValue(CARD, spellings[name], f"card/{network}/{name}")


def _ip(rng: random.Random) -> PlantedValue:
    if rng.random() < 0.5:
        address = str(ipaddress.IPv4Address(rng.randrange(1 << 24, 224 << 24)))
        spellings = {"v4": address, "v4_full_width": full_width(address)}
    else:
        packed = ipaddress.IPv6Address(rng.getrandbits(128))
        sparse = ipaddress.IPv6Address(
            (0x2001_0DB8 << 96) | (rng.getrandbits(16) << 16) | rng.getrandbits(16)
        )
        spellings = {"v6_full": packed.exploded, "v6_compressed": sparse.compressed,
                     "v6_link_local": f"fe80::{rng.getrandbits(16):x}:{rng.getrandbits(16):x}"}
    name = rng.choice(sorted(spellings))
    cue = rng.choice(["", "IP ", "IP地址：", "from "])
    return PlantedValue(IP, spellings[name], f"ip/{name}", cue)


_WECHAT_CUES: Final = (
    "微信：", "微信号 ", "加我微信 ", "薇信 ", "V信：", "vx：", "wx: ", "WeChat ID: ", "Weixin: ",
    "ＷＸ：",
)


def _wechat(rng: random.Random) -> PlantedValue:
    first = rng.choice(_NAMES)
    tail = rng.choice(["", "_", "-"]) + _digits(rng, rng.randint(0, 5))
    wechat_id = (first + tail)[:20]
    while len(wechat_id) < 6:
        wechat_id += rng.choice("abcdefghijklmnopqrstuvwxyz0123456789")
    cue = rng.choice(_WECHAT_CUES)
    width = rng.random() < 0.2
    return PlantedValue(
        WECHAT, full_width(wechat_id) if width else wechat_id,
        "wechat/full_width" if width else "wechat/plain", cue,
    )


def _qq(rng: random.Random) -> PlantedValue:
    number = rng.choice("123456789") + _digits(rng, rng.randint(4, 10))
    cue = rng.choice(["QQ：", "QQ号 ", "qq ", "扣扣 ", "ＱＱ：", "QQ: ", "QQ群 "])
    width = rng.random() < 0.2
    return PlantedValue(
        QQ, full_width(number) if width else number, "qq/full_width" if width else "qq/plain", cue
    )


#: Every planted kind and its generator; values are drawn round-robin over these.
GENERATORS: Final[dict[str, Callable[[random.Random], PlantedValue]]] = {
    PHONE: _phone, EMAIL: _email, ID_CARD: _id_card, CARD: _card, IP: _ip, WECHAT: _wechat,
    QQ: _qq,
}


def plant_pii(rng: random.Random, n: int) -> list[PlantedValue]:
    """``n`` valid personal-data values, the kinds in turn, each in a random spelling.

    Phones get three turns in a round of nine (they come in the most spellings);
    every other kind one.
    """
    order = [PHONE, EMAIL, PHONE, ID_CARD, CARD, PHONE, IP, WECHAT, QQ]
    return [GENERATORS[order[i % len(order)]](rng) for i in range(n)]


_WORD_CHAR: Final = re.compile(r"[0-9A-Za-z@._%+\-:#/()\[\]]")


def _glues(char: str) -> bool:
    """Whether ``char`` would join a value it touches (a letter, digit, separator or
    currency sign: ``5794￥`` reads as a price)."""
    folded = unicodedata.normalize("NFKC", char)[:1] or " "
    return _WORD_CHAR.match(folded) is not None or unicodedata.category(folded) == "Sc"


def insert_pii(text: str, value: PlantedValue, rng: random.Random) -> str:
    """``text`` with ``value``'s snippet written at a random word boundary.

    In text with spaces (English) the snippet goes between two words; in Chinese
    between two characters. A space is added where the snippet would otherwise be
    glued to a letter, a digit or a separator of the text, as a person would type it.
    """
    if " " in text.strip():
        positions = [0, len(text)] + [i for i, c in enumerate(text) if c == " "]
    else:
        positions = list(range(len(text) + 1))
    at = rng.choice(positions)
    before, after = text[:at], text[at:]
    snippet = value.snippet
    if before and _glues(before[-1]):
        snippet = " " + snippet
    if after and _glues(after[0]):
        snippet += " "
    return before + snippet + after
