"""The pseudonym key: exclusive private key file, minimum length, a key id that hides the key."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest

from shopintent.privacy import MIN_KEY_BYTES, PseudonymKeyError, Pseudonymizer, key_id
from shopintent.privacy import keys as keys_module
from shopintent.privacy.keys import create_key_file, load_key_file, resolve_pseudonym_key
from shopintent.settings import Settings

KEY = b"0123456789abcdef0123456789abcdef-key"


def test_key_file_is_0600_from_its_first_byte_even_with_an_open_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes_at_write: list[int] = []
    real_write = os.write

    def spying_write(fd: int, data: bytes) -> int:
        modes_at_write.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    monkeypatch.setattr(keys_module.os, "write", spying_write)
    old_umask = os.umask(0)
    try:
        key = create_key_file(tmp_path / "state" / "pseudonym.key")
    finally:
        os.umask(old_umask)
        monkeypatch.undo()
    assert modes_at_write and set(modes_at_write) == {0o600}
    path = tmp_path / "state" / "pseudonym.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == key and len(key) == 64


def test_an_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "pseudonym.key"
    path.write_bytes(KEY + b"\n")
    path.chmod(0o600)
    with pytest.raises(FileExistsError):
        create_key_file(path)
    assert resolve_pseudonym_key(None, path) == KEY
    assert path.read_bytes() == KEY + b"\n"


def test_a_planted_symlink_is_not_followed_for_writing(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "stolen.key"
    target.parent.mkdir()
    path = tmp_path / "pseudonym.key"
    path.symlink_to(target)  # dangling: a plain open(path, "w") would create the target
    with pytest.raises(FileExistsError):
        create_key_file(path)
    with pytest.raises(PseudonymKeyError, match="dangling link"):
        resolve_pseudonym_key(None, path)
    assert not target.exists()


def test_short_keys_are_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(PseudonymKeyError) as configured:
        resolve_pseudonym_key("too-short", tmp_path / "pseudonym.key")
    message = str(configured.value)
    assert "SHOPINTENT_PSEUDONYM_KEY is 9 bytes" in message and "at least 32" in message
    assert "too-short" not in message
    assert not (tmp_path / "pseudonym.key").exists()

    path = tmp_path / "pseudonym.key"
    path.write_bytes(b"x" * (MIN_KEY_BYTES - 1))
    path.chmod(0o600)
    with pytest.raises(PseudonymKeyError, match=f"key file {path} is 31 bytes"):
        load_key_file(path)
    with pytest.raises(PseudonymKeyError, match="is 31 bytes"):
        Pseudonymizer.from_settings(Settings(state_dir=tmp_path, pseudonym_key=None))
    with pytest.raises(PseudonymKeyError, match="is 5 bytes"):
        Pseudonymizer(b"short")


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pseudonym.key"
    path.write_bytes(KEY)
    path.chmod(0o644)
    with pytest.raises(PseudonymKeyError, match=r"mode 0644.*chmod 600"):
        load_key_file(path)


def test_key_id_names_the_key_without_revealing_it() -> None:
    expected = hmac.new(KEY, b"shopintent-key-id", hashlib.sha256).hexdigest()[:16]
    assert key_id(KEY) == expected == Pseudonymizer(KEY).key_id
    assert key_id(KEY + b"!") != key_id(KEY)
    assert KEY.hex()[:16] not in key_id(KEY) and hashlib.sha256(KEY).hexdigest()[:16] != key_id(KEY)
    # The key id is not any pseudonym: it cannot stand in for a user, session or event id.
    p = Pseudonymizer(KEY)
    assert key_id(KEY) not in {p.pseudonymize("shopintent-key-id", ns)[2:18]
                               for ns in ("user", "session", "event")}


def test_key_id_of_a_generated_key_is_stable_across_loads(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, pseudonym_key=None)
    first = Pseudonymizer.from_settings(settings).key_id
    assert Pseudonymizer.from_settings(settings).key_id == first
    assert first == key_id((tmp_path / "pseudonym.key").read_bytes().strip())
