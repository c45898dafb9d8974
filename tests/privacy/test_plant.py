"""The planted values are valid personal data, and `survives` finds any part left behind."""

from __future__ import annotations

import doctest
import random
from collections import Counter

import phonenumbers

from shopintent.privacy import plant
from shopintent.privacy.pii_cards import is_card_number
from shopintent.privacy.pii_idcard import id_card_checksum_valid
from shopintent.privacy.plant import PlantedValue, compact, insert_pii, plant_pii, survives
from shopintent.privacy.scrub import PII_KINDS


def test_module_examples_hold() -> None:
    assert doctest.testmod(plant).failed == 0


def test_planting_is_deterministic_and_covers_every_kind_but_addresses() -> None:
    first = plant_pii(random.Random(3), 900)
    assert first == plant_pii(random.Random(3), 900)
    kinds = Counter(v.kind for v in first)
    assert set(kinds) == set(PII_KINDS) - {"ADDRESS"}
    assert kinds["PHONE"] == 300
    assert len({v.spelling for v in first}) >= 60


def test_every_planted_value_is_valid() -> None:
    for value in plant_pii(random.Random(5), 900):
        digits = compact(value.raw)
        if value.kind == "PHONE":
            number = "+" + digits if "+" in value.raw else digits
            family = value.spelling.split("/")[0]
            region = {"us": "US", "uk": "GB"}.get(family, "CN")
            assert phonenumbers.is_valid_number(phonenumbers.parse(number, region)), value
        elif value.kind == "CARD":
            assert is_card_number(digits), value
        elif value.kind == "ID_CARD" and value.spelling.startswith("id18"):
            assert id_card_checksum_valid(digits.upper()), value


def test_survives_finds_whole_normalised_and_partial_leaks() -> None:
    value = PlantedValue("PHONE", "138.0013.8000", "cn_mobile/dots")
    host = "电话 138 谢谢"
    assert survives(value, host, "电话 [PHONE] 谢谢") == []
    assert value.raw in survives(value, host, f"电话 {value.raw} 谢谢")
    assert survives(value, host, "电话 138.[PHONE] 谢谢") == []  # "138" is the host's own
    assert survives(value, "谢谢", "电话 138.0013[PHONE] 谢谢") == ["1380", "3800", "8001", "0013"]
    assert survives(value, "谢谢", "电话 １３８００１３８０００ 谢谢")  # its full-width form


def test_insert_keeps_the_value_apart_from_letters_and_digits() -> None:
    value = PlantedValue("EMAIL", "jane@example.com", "email/plain")
    for seed in range(20):
        for host in ("order 42 arrived", "白色连衣裙ABC", "尺码XL"):
            text = insert_pii(host, value, random.Random(seed))
            at = text.index(value.snippet)
            before, after = text[:at], text[at + len(value.snippet):]
            assert (before + after).replace(" ", "") == host.replace(" ", "")
            assert not (before[-1:].isascii() and before[-1:].isalnum())
            assert not (after[:1].isascii() and after[:1].isalnum())
