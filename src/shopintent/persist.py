"""One on-disk format for every shopintent model: JSON, safe weight files and a SHA-256 manifest.

Why: a model directory is something a user hands to ``load`` (``--model``,
the service's state folder), so loading it must never run code from it and
must not read a file the model did not write. A model directory holds

* ``model.json`` — kind, format version, package version, parameters and
  the training record (data checksum, metrics, …);
* weight files in formats that hold numbers only: safetensors (tensors and
  arrays), ONNX, LightGBM model text, plain JSON;
* ``manifest.json``, written last, listing every other file (sub-directories
  included) with its SHA-256 and size.

:func:`read_model_json` verifies the manifest before anything is read: a
missing, changed or unlisted file is refused with a :class:`ModelFileError`
naming the directory, the file and the fix. Pickle, joblib and
``torch.load`` are never used; a directory saved by an older shopintent
(no manifest) loads with a warning when its files are all of safe types and
its layout is still current, else it raises :class:`LegacyModelError`, which
the default models catch to re-train themselves.

>>> import tempfile, numpy as np
>>> with tempfile.TemporaryDirectory() as tmp:
...     out = begin_save(Path(tmp) / "m")
...     _ = save_arrays(out / "w.safetensors", {"w": np.arange(3.0)})
...     _ = write_model_json(out, "Demo", 1, {"alpha": 0.5})
...     _ = write_manifest(out)
...     meta = read_model_json(out, "Demo", 1, retrain="shopintent demo")
...     (meta["parameters"], load_arrays(out / "w.safetensors")["w"].tolist())
({'alpha': 0.5}, [0.0, 1.0, 2.0])
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shopintent import __version__
from shopintent.log import get_logger

if TYPE_CHECKING:
    import scipy.sparse as sp
    import torch

log = get_logger(__name__)

MODEL_FILE = "model.json"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "shopintent-model-manifest"
MANIFEST_VERSION = 1
#: File types that can run code when loaded (pickle and what is built on it): never read, always refused.
UNSAFE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt")
_CHUNK = 1 << 20


class ModelFileError(ValueError):
    """A model directory that shopintent refuses to load: the message names the file and the fix."""

    def __init__(self, directory: Path, file: str, problem: str, fix: str) -> None:
        self.directory = Path(directory)
        self.file = file
        self.problem = problem
        self.fix = fix
        where = f"{self.directory}/{file}" if file else str(self.directory)
        super().__init__(f"{where}: {problem}; {fix}")


class LegacyModelError(ModelFileError):
    """A directory saved by an older shopintent whose files cannot be read safely or whose layout changed."""


class ModelNotFoundError(ModelFileError, FileNotFoundError):
    """The directory holds no ``model.json`` at all (not a saved model)."""


def _fix(retrain: str) -> str:
    return f"re-train with `{retrain}`, or restore the directory from a copy"


# -- writing ---------------------------------------------------------------------------------------
def begin_save(directory: Path | str, keep: Collection[Path] = ()) -> Path:
    """Create ``directory`` for a save, removing the files a previous save listed in its manifest.

    Why: the new manifest lists what the directory holds after the save, so a
    file left over from an earlier save of another shape (an ONNX graph, a
    member the new model lacks) would otherwise be blessed and maybe read.
    Only files the old manifest names are removed (never a user's file);
    ``keep`` spares files the save itself still needs (an ONNX export made
    into the same folder).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / MANIFEST_FILE
    if not manifest.is_file():
        return directory
    kept = {Path(p).resolve() for p in keep}
    try:
        listed = _read_manifest(directory, "shopintent")
    except ModelFileError:
        listed = {}
    for name in listed:
        target = directory / name
        if target.is_file() and target.resolve() not in kept:
            target.unlink()
    manifest.unlink()
    for root, dirs, _ in os.walk(directory, topdown=False):
        for name in dirs:
            sub = Path(root) / name
            if not sub.is_symlink() and not any(sub.iterdir()):
                sub.rmdir()
    return directory


def write_model_json(
    directory: Path, kind: str, format_version: int, parameters: Mapping[str, Any], **record: Any
) -> Path:
    """Write ``directory/model.json``: kind, format version, package version, parameters, ``record``."""
    meta = {
        "kind": kind,
        "format_version": format_version,
        "shopintent_version": __version__,
        "parameters": dict(parameters),
        **record,
    }
    return write_json(Path(directory) / MODEL_FILE, meta)


def write_manifest(directory: Path | str) -> Path:
    """List every file of ``directory`` with its SHA-256 and size in ``manifest.json`` (call last).

    Refuses a directory that holds a pickle-based file (a leftover of an older
    save): the manifest would otherwise vouch for it.
    """
    directory = Path(directory)
    files = {}
    for name in _files(directory, "shopintent"):
        if name.lower().endswith(UNSAFE_SUFFIXES):
            raise ModelFileError(
                directory, name, "a pickle-based file (left by an older shopintent or put there)",
                "remove it or save to an empty directory",
            )
        path = directory / name
        files[name] = {"sha256": _sha256(path), "size": path.stat().st_size}
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "shopintent_version": __version__,
        "algorithm": "sha256",
        "files": files,
    }
    return write_json(directory / MANIFEST_FILE, manifest)


def write_json(file: Path, value: Any, indent: int | None = 2) -> Path:
    """Write ``value`` as UTF-8 JSON (NumPy scalars/arrays and paths as plain values).

    ``indent=None`` for large lists (vocabularies, catalogues): one line, a fraction of the size.
    """
    Path(file).write_text(
        json.dumps(value, indent=indent, ensure_ascii=False, default=_plain) + "\n", encoding="utf-8"
    )
    return Path(file)


def read_json(file: Path) -> Any:
    """Read a JSON file written by :func:`write_json`."""
    return json.loads(Path(file).read_text(encoding="utf-8"))


def save_arrays(file: Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write NumPy arrays to a safetensors file (numbers only: no code, no object arrays)."""
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(file))
    return Path(file)


def load_arrays(file: Path) -> dict[str, np.ndarray]:
    """Read the arrays of a safetensors file."""
    from safetensors.numpy import load_file

    return load_file(str(file))


def save_tensors(file: Path, tensors: Mapping[str, torch.Tensor]) -> Path:
    """Write a torch state dict (or any name → tensor mapping) to a safetensors file."""
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(file))
    return Path(file)


def load_tensors(file: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file into CPU tensors (for ``load_state_dict``)."""
    from safetensors.torch import load_file

    return load_file(str(file))


def save_sparse(file: Path, matrix: sp.spmatrix | sp.sparray) -> Path:
    """Write a sparse matrix as CSR arrays (data, indices, indptr, shape) to a safetensors file."""
    import scipy.sparse as sparse

    csr = sparse.csr_matrix(matrix)
    return save_arrays(file, {"data": csr.data, "indices": csr.indices, "indptr": csr.indptr,
                              "shape": np.asarray(csr.shape, dtype=np.int64)})


def load_sparse(file: Path) -> sp.csr_matrix:
    """Read a matrix written by :func:`save_sparse` (CSR)."""
    import scipy.sparse as sparse

    parts = load_arrays(file)
    shape = tuple(int(n) for n in parts["shape"])
    return sparse.csr_matrix((parts["data"], parts["indices"], parts["indptr"]), shape=shape)


# -- reading ---------------------------------------------------------------------------------------
def read_model_json(
    directory: Path | str, kind: str | Collection[str] | None, format_version: int, retrain: str
) -> dict[str, Any]:
    """Verify ``directory`` against its manifest, then return its ``model.json``.

    ``kind``: the kind(s) this loader reads (``None``: any); ``format_version``:
    the layout this code writes; ``retrain``: the command that makes a new
    model, quoted in every error. A directory without a manifest (an older
    shopintent) is read with a warning when none of its files is
    pickle-based; an older layout raises :class:`LegacyModelError`.
    """
    directory = Path(directory)
    meta_file = directory / MODEL_FILE
    if not (directory / MANIFEST_FILE).is_file():
        if not meta_file.is_file():
            raise ModelNotFoundError(directory, MODEL_FILE, "does not exist (not a saved model)",
                                     f"save one with `{retrain}`")
        unsafe = [n for n in _files(directory, retrain) if n.lower().endswith(UNSAFE_SUFFIXES)]
        if unsafe:
            raise LegacyModelError(
                directory, unsafe[0],
                "saved by an older shopintent in a pickle-based format that is never loaded",
                f"re-train with `{retrain}`",
            )
        log.warning("model directory has no manifest (saved by an older shopintent); "
                    "loading its safe files unverified", directory=str(directory))
    else:
        verify_manifest(directory, retrain)
    try:
        meta = read_json(meta_file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(directory, MODEL_FILE, f"is not readable JSON ({exc})", _fix(retrain)) from exc
    found = meta.get("kind", meta.get("model")) if isinstance(meta, dict) else None
    kinds = {kind} if isinstance(kind, str) else set(kind or ())
    if kinds and found not in kinds:
        raise ModelFileError(directory, MODEL_FILE,
                             f"holds a {found!r} model, not {' or '.join(sorted(map(repr, kinds)))}",
                             "give the directory of the right model")
    # intervene's first policies wrote no format_version: their layout is version 1
    version = meta.get("format_version", 1)
    if version != format_version:
        raise LegacyModelError(
            directory, MODEL_FILE,
            f"format version {version} (shopintent {meta.get('shopintent_version', '?')}); "
            f"this shopintent reads version {format_version}",
            f"re-train with `{retrain}`",
        )
    return meta


def peek_kind(directory: Path | str, retrain: str) -> str:
    """The ``kind`` a model directory's ``model.json`` names, to pick the class that loads it.

    Why unverified: the kind only chooses a loader, and every loader calls
    :func:`read_model_json`, which verifies the manifest before reading
    anything else. A missing or unreadable ``model.json`` is refused here with
    the same errors as a full read.
    """
    directory = Path(directory)
    meta_file = directory / MODEL_FILE
    if not meta_file.is_file():
        raise ModelNotFoundError(directory, MODEL_FILE, "does not exist (not a saved model)",
                                 f"save one with `{retrain}`")
    try:
        meta = read_json(meta_file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(directory, MODEL_FILE, f"is not readable JSON ({exc})", _fix(retrain)) from exc
    kind = meta.get("kind", meta.get("model")) if isinstance(meta, dict) else None
    if not isinstance(kind, str):
        raise ModelFileError(directory, MODEL_FILE, "names no model kind", _fix(retrain))
    return kind


def verify_manifest(directory: Path | str, retrain: str) -> None:
    """Check every file of ``directory`` against ``manifest.json``; raise :class:`ModelFileError` if any differs."""
    directory = Path(directory)
    listed = _read_manifest(directory, retrain)
    present = set(_files(directory, retrain))
    for name in sorted(present - set(listed)):
        unsafe = "; a pickle-based file, never loaded" if name.lower().endswith(UNSAFE_SUFFIXES) else ""
        raise ModelFileError(directory, name,
                             f"not listed in {MANIFEST_FILE} (added after the model was saved{unsafe})",
                             f"remove it, {_fix(retrain)}")
    for name, entry in sorted(listed.items()):
        path = directory / name
        if name not in present:
            raise ModelFileError(directory, name, f"listed in {MANIFEST_FILE} but missing", _fix(retrain))
        if name.lower().endswith(UNSAFE_SUFFIXES):
            raise ModelFileError(directory, name, "a pickle-based file that is never loaded", _fix(retrain))
        if path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            raise ModelFileError(directory, name,
                                 f"changed since it was saved (SHA-256 differs from {MANIFEST_FILE})",
                                 _fix(retrain))


def has_manifest(directory: Path | str) -> bool:
    """Whether ``directory`` is a finished save of this format (its manifest, written last, exists)."""
    return (Path(directory) / MANIFEST_FILE).is_file()


def _read_manifest(directory: Path, retrain: str) -> dict[str, dict[str, Any]]:
    try:
        manifest = read_json(directory / MANIFEST_FILE)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(directory, MANIFEST_FILE, f"is not readable JSON ({exc})",
                             _fix(retrain)) from exc
    if (not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT
            or manifest.get("version") != MANIFEST_VERSION or not isinstance(manifest.get("files"), dict)):
        raise ModelFileError(directory, MANIFEST_FILE,
                             f"is not a {MANIFEST_FORMAT} of version {MANIFEST_VERSION}", _fix(retrain))
    files: dict[str, dict[str, Any]] = manifest["files"]
    for name, entry in files.items():
        parts = Path(name).parts
        if (Path(name).is_absolute() or ".." in parts or "\\" in name or name == MANIFEST_FILE
                or not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str)
                or not isinstance(entry.get("size"), int)):
            raise ModelFileError(directory, MANIFEST_FILE, f"has an invalid entry {name!r}", _fix(retrain))
    return files


def _files(directory: Path, retrain: str) -> list[str]:
    """Every file under ``directory`` (relative POSIX paths) but its own manifest."""
    found = []
    for root, dirs, names in os.walk(directory):
        for name in dirs:
            if (Path(root) / name).is_symlink():
                rel = (Path(root) / name).relative_to(directory).as_posix()
                raise ModelFileError(directory, rel, "is a link to a directory; model directories "
                                     "hold plain files", _fix(retrain))
        for name in names:
            rel = (Path(root) / name).relative_to(directory).as_posix()
            if rel != MANIFEST_FILE:
                found.append(rel)
    return sorted(found)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
