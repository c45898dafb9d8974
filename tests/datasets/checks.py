"""Checks every data-set loader must pass, shared by the per-data-set test modules.

They run against a throwaway data folder (``tmp_path``) built from links to
the real files, so a missing or corrupted file is simulated without copying
the data anywhere near the repository.
"""

from __future__ import annotations

import io
import urllib.request
from pathlib import Path
from types import ModuleType

import pytest

from shopintent.datasets import registry
from shopintent.datasets.base import ChecksumMismatch, DataFileMissing, DatasetSpec, data_path
from shopintent.settings import Settings


def offline_settings(data_dir: Path, allow_download: bool = False) -> Settings:
    """Settings over ``data_dir`` with downloads off unless asked for."""
    return Settings(
        data_dir=data_dir,
        state_dir=data_dir / "state",
        allow_download=allow_download,
        pseudonym_key="test-key-not-secret-32-bytes-long!!",
    )


def link_real_files(spec: DatasetSpec, real: Settings, data_dir: Path, leave_out: str = "") -> None:
    """Make ``data_dir/<name>/`` hold links to the real files, except ``leave_out``."""
    for data_file in spec.files:
        if data_file.path == leave_out:
            continue
        target = data_dir / spec.name / data_file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(spec.directory(real) / data_file.path)


def assert_missing_file_is_explained(module: ModuleType, real: Settings, tmp_path: Path) -> None:
    """Loading without one file raises DataFileMissing naming it, where to put it, its URL.

    The left-out file is the spec's last, so every loader must read all its files.
    """
    spec: DatasetSpec = module.SPEC
    missing = spec.files[-1]
    link_real_files(spec, real, tmp_path, leave_out=missing.path)
    settings = offline_settings(tmp_path)
    with pytest.raises(DataFileMissing) as caught:
        module.load(settings)
    message = str(caught.value)
    assert f"file {missing.path} is missing" in message
    assert str(tmp_path / spec.name / missing.path) in message
    assert missing.url in message
    assert "SHOPINTENT_DATA_DIR" in message


def assert_corrupted_copy_is_refused(
    module: ModuleType, real: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corrupted file fails verification, and a corrupted download is never stored.

    Uses the spec's smallest file. ``registry.verify`` must report its SHA-256;
    fetching it (from a stand-in for the network that flips one byte) must
    raise ChecksumMismatch and leave nothing on disk, while the genuine bytes
    pass the same check (the spec's SHA-256 and ``prepare`` agree).
    """
    spec: DatasetSpec = module.SPEC
    victim = min(spec.files, key=lambda f: f.size)
    genuine = (spec.directory(real) / victim.path).read_bytes()
    assert len(genuine) == victim.size
    middle = len(genuine) // 2
    corrupted = genuine[:middle] + bytes([genuine[middle] ^ 0x01]) + genuine[middle + 1 :]

    local = tmp_path / "local"
    link_real_files(spec, real, local, leave_out=victim.path)
    (local / spec.name / victim.path).parent.mkdir(parents=True, exist_ok=True)
    (local / spec.name / victim.path).write_bytes(corrupted)
    check = registry.verify(spec.name, offline_settings(local))
    assert not check.ok
    assert any(victim.path in e and "SHA-256" in e for e in check.errors), check.errors

    served: dict[str, bytes] = {}

    def fake_urlopen(url: str, timeout: float) -> io.BytesIO:
        assert url == victim.url
        return io.BytesIO(served["payload"])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    online = offline_settings(tmp_path / "online", allow_download=True)
    target = spec.directory(online) / victim.path
    served["payload"] = corrupted
    with pytest.raises(ChecksumMismatch, match=victim.sha256):
        data_path(spec, victim.path, online)
    assert not target.exists()
    served["payload"] = genuine
    assert data_path(spec, victim.path, online).read_bytes() == genuine


def assert_registry_verify_ok(name: str, real: Settings) -> None:
    """The registry finds every file, every SHA-256 and every PROVENANCE count right."""
    check = registry.verify(name, real)
    assert check.ok, check.errors
    assert all(f.present and f.sha256_ok for f in check.files)
    assert {k: check.counts[k] for k in check.expected_counts} == check.expected_counts
