"""What every data-set loader shares: file specs, checksums, lookup and download.

A data set is a folder ``<data_dir>/<name>/`` holding the files exactly as their
public source published them. Each :class:`DataFile` knows its public URL and
SHA-256, so a user with internet gets byte-identical files, and a user offline
is told which file is missing and where to put it.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shopintent.log import get_logger
from shopintent.settings import Settings, get_settings

log = get_logger(__name__)


class DataFileMissing(FileNotFoundError):
    """A data file is not on disk and could not be downloaded."""


class ChecksumMismatch(ValueError):
    """A data file's bytes differ from the published ones."""


class RowCountMismatch(ValueError):
    """A loaded data set does not have the row counts its provenance states."""


@dataclass(frozen=True, slots=True)
class DataFile:
    """One file of a data set, as published.

    ``prepare`` turns the downloaded bytes into the stored file when the stored
    copy is a documented derivative of the source (e.g. a truncated last line
    dropped); the SHA-256 is that of the stored file.
    """

    path: str
    sha256: str
    size: int
    url: str
    prepare: Callable[[bytes], bytes] | None = None


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """Who published a data set, under what terms, and what it must contain."""

    name: str
    task: str
    language: str
    licence: str
    citation: str
    source: str
    files: tuple[DataFile, ...]
    expected_counts: dict[str, int] = field(default_factory=dict)
    description: str = ""
    #: Headline record count for listings, when ``expected_counts`` has no ``rows`` key.
    total_rows: int | None = None

    @property
    def rows(self) -> int:
        """The number of records the data set holds, as its provenance states."""
        if self.total_rows is not None:
            return self.total_rows
        return self.expected_counts.get("rows", 0)

    def directory(self, settings: Settings | None = None) -> Path:
        """The folder this data set is read from."""
        return (settings or get_settings()).data_dir / self.name

    def file(self, path: str) -> DataFile:
        """The spec of one file, by its path inside the data-set folder."""
        for data_file in self.files:
            if data_file.path == path:
                return data_file
        raise KeyError(f"data set {self.name} has no file {path!r}")

    def is_present(self, settings: Settings | None = None) -> bool:
        """Whether every file is on disk (checksums not checked)."""
        folder = self.directory(settings)
        return all((folder / f.path).is_file() for f in self.files)


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _download(data_file: DataFile, target: Path, timeout_s: float) -> None:
    log.info("downloading data file", url=data_file.url, target=str(target))
    with urllib.request.urlopen(data_file.url, timeout=timeout_s) as response:  # noqa: S310
        payload = response.read()
    if data_file.prepare is not None:
        payload = data_file.prepare(payload)
    digest = hashlib.sha256(payload).hexdigest()
    if digest != data_file.sha256:
        raise ChecksumMismatch(
            f"downloaded {data_file.url} has SHA-256 {digest}, expected {data_file.sha256}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp.write(payload)
    shutil.move(tmp.name, target)


def data_path(spec: DatasetSpec, path: str, settings: Settings | None = None) -> Path:
    """Return the local path of one data file, downloading it first if allowed.

    Raises :class:`DataFileMissing` with the expected location and the source
    URL when the file is absent and cannot be fetched (offline, or downloads
    disabled by ``SHOPINTENT_ALLOW_DOWNLOAD=false``).
    """
    settings = settings or get_settings()
    data_file = spec.file(path)
    target = spec.directory(settings) / data_file.path
    if target.is_file():
        return target
    hint = (
        f"data set {spec.name}: file {data_file.path} is missing. Put it at {target} "
        f"(source: {data_file.url}, SHA-256 {data_file.sha256}) or set SHOPINTENT_DATA_DIR "
        f"to a folder that holds {spec.name}/{data_file.path}."
    )
    if not settings.allow_download:
        raise DataFileMissing(hint)
    try:
        _download(data_file, target, settings.download_timeout_s)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DataFileMissing(f"{hint} Download failed: {exc}") from exc
    return target


def check_counts(spec: DatasetSpec, counts: dict[str, int]) -> None:
    """Raise :class:`RowCountMismatch` where a count differs from the provenance."""
    wrong = {
        key: (counts.get(key), expected)
        for key, expected in spec.expected_counts.items()
        if counts.get(key) != expected
    }
    if wrong:
        detail = ", ".join(f"{k}: got {got}, expected {exp}" for k, (got, exp) in wrong.items())
        raise RowCountMismatch(f"data set {spec.name}: {detail}")


def github_raw(repo: str, commit: str, path: str) -> str:
    """The public URL of one file of a GitHub repository at a pinned commit."""
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"
