"""Keyed pseudonyms are stable, key- and namespace-dependent, and never show the key."""

from __future__ import annotations

import hashlib
import hmac
import pickle
import re
from pathlib import Path

import pandas as pd
import pytest

from shopintent.privacy import Pseudonymizer
from shopintent.settings import Settings

KEY = b"k3y-for-tests-0nly-7f1c9a-32-bytes-long"


def test_pseudonyms_are_deterministic_and_shaped() -> None:
    first, second = Pseudonymizer(KEY), Pseudonymizer(KEY)
    assert first.pseudonymize("1000001") == second.pseudonymize("1000001")
    assert re.fullmatch(r"u_[0-9a-f]{16}", first.pseudonymize("1000001"))
    assert re.fullmatch(r"s_[0-9a-f]{16}", first.pseudonymize("1000001", namespace="session"))
    assert first.pseudonymize("A-77", namespace="order").startswith("order_")
    assert len(Pseudonymizer(KEY, length=32).pseudonymize("x")) == len("u_") + 32


def test_pseudonym_is_the_documented_hmac() -> None:
    expected = hmac.new(KEY, b"user\x00" + "张三".encode(), hashlib.sha256).hexdigest()[:16]
    assert Pseudonymizer(KEY).pseudonymize("张三") == "u_" + expected


def test_pseudonyms_depend_on_the_key() -> None:
    ids = [str(i) for i in range(200)]
    a = {Pseudonymizer(KEY).pseudonymize(i) for i in ids}
    b = {Pseudonymizer(KEY + b"!").pseudonymize(i) for i in ids}
    assert len(a) == len(b) == 200
    assert not a & b


def test_namespaces_are_separated() -> None:
    p = Pseudonymizer(KEY)
    user, session = p.pseudonymize("42", "user"), p.pseudonymize("42", "session")
    assert user[2:] != session[2:]  # not just a different prefix


def test_key_is_hidden_from_repr_and_str() -> None:
    p = Pseudonymizer(KEY)
    for shown in (repr(p), str(p), f"{p}", f"{p!r}"):
        assert KEY.decode() not in shown
        assert KEY.hex() not in shown
        assert "<hidden>" in shown


def test_pickle_round_trip_keeps_pseudonyms() -> None:
    p = Pseudonymizer(KEY, length=20)
    p.pseudonymize("warm-the-cache")
    clone = pickle.loads(pickle.dumps(p))
    assert clone.pseudonymize("u9") == p.pseudonymize("u9")
    assert clone.length == 20


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("not-bytes",), TypeError),
        ((b"",), ValueError),
        ((b"x" * 31,), ValueError),
        ((KEY, 4), ValueError),
        ((KEY, 65), ValueError),
    ],
)
def test_bad_arguments_are_rejected(args: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        Pseudonymizer(*args)  # type: ignore[arg-type]


def test_bad_namespace_and_value_are_rejected_without_showing_the_key() -> None:
    p = Pseudonymizer(KEY)
    with pytest.raises(ValueError) as bad_namespace:
        p.pseudonymize("1", namespace="User ID")
    with pytest.raises(TypeError) as bad_value:
        p.pseudonymize(42)  # type: ignore[arg-type]
    for error in (bad_namespace, bad_value):
        assert KEY.decode() not in str(error.value)


def test_series_keeps_nulls_index_and_name() -> None:
    p = Pseudonymizer(KEY)
    raw = pd.Series(["u1", None, "u2", "u1", pd.NA], index=[5, 6, 7, 8, 9], name="user_id",
                    dtype="string")
    out = p.pseudonymize_series(raw)
    assert out.dtype == "string"
    assert out.name == "user_id"
    assert list(out.index) == [5, 6, 7, 8, 9]
    assert out.isna().tolist() == [False, True, False, False, True]
    assert out[5] == out[8] == p.pseudonymize("u1")
    assert out[7] == p.pseudonymize("u2")
    assert len(p.pseudonymize_series(pd.Series([], dtype="string"))) == 0


def test_series_hashes_numbers_as_their_text() -> None:
    p = Pseudonymizer(KEY)
    out = p.pseudonymize_series(pd.Series([42, 7]), namespace="session")
    assert out.tolist() == [p.pseudonymize("42", "session"), p.pseudonymize("7", "session")]


def test_key_comes_from_settings(tmp_path: Path) -> None:
    secret = "from-env-secret-at-least-32-bytes-long"
    configured = Settings(state_dir=tmp_path, pseudonym_key=secret)
    p = Pseudonymizer.from_settings(configured)
    assert p.pseudonymize("1") == Pseudonymizer(secret.encode()).pseudonymize("1")
    assert secret not in repr(p)
    assert not (tmp_path / "pseudonym.key").exists()  # a configured key writes no file


def test_generated_key_is_persisted_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state", pseudonym_key=None)
    first = Pseudonymizer.from_settings(settings).pseudonymize("1")
    key_file = tmp_path / "state" / "pseudonym.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_bytes().strip()) == 64
    assert Pseudonymizer.from_settings(settings).pseudonymize("1") == first
    assert key_file.read_text().strip() not in repr(Pseudonymizer.from_settings(settings))


def test_pseudonymize_many_equals_one_by_one_for_every_key_length_and_namespace() -> None:
    """The batch form (hashlib spelling of RFC 2104, each distinct value once) gives exactly the
    pseudonyms of ``pseudonymize``: keys shorter and longer than SHA-256's 64-byte block, text in
    several scripts, repeats and nulls."""
    values = ["1000001", "张三", "", "1000001", None, "e" * 300, "ä‍👩", "1000001", None, "42"]
    for key in (KEY, b"x" * 64, b"a-long-key-" * 9):
        p = Pseudonymizer(key)
        for namespace, length in (("user", None), ("session", None), ("event", 32), ("order", 8)):
            many = p.pseudonymize_many(values, namespace, length=length)
            assert many == [None if v is None else p.pseudonymize(v, namespace, length=length)
                            for v in values]
    with pytest.raises(TypeError, match="must be str"):
        Pseudonymizer(KEY).pseudonymize_many(["1", 2])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="namespace"):
        Pseudonymizer(KEY).pseudonymize_many(["1"], namespace="Bad Space")
