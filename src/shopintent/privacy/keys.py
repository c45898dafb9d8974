"""The pseudonym key: where it comes from, how it is kept, and the id that names it.

Every pseudonym and every event id is an HMAC under one secret key, so the key
decides which stored rows can be joined with which. This module keeps it safe:

* A configured key (``SHOPINTENT_PSEUDONYM_KEY``) or a key read from the key
  file must hold at least :data:`MIN_KEY_BYTES` bytes; a shorter one is refused,
  because a short secret can be guessed and the ids it protects reversed.
* A key file is created exclusively (``O_CREAT | O_EXCL``) with mode 0600 from
  the first byte: there is no moment at which another user could read it, and a
  file or symlink already at that path is never overwritten or followed for writing.
* A key file readable by group or others is refused rather than used.
* :func:`key_id` names a key without revealing it (an HMAC of a fixed label), so
  stores and exports can record *which* key wrote them and refuse to mix two.

Example::

    >>> key_id(b"0123456789abcdef0123456789abcdef")
    '...'
    >>> len(key_id(b"0123456789abcdef0123456789abcdef"))
    16
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import secrets
import stat
import time
from pathlib import Path

from shopintent.log import get_logger

log = get_logger(__name__)

#: The shortest key accepted: 256 bits, the HMAC-SHA256 block of security.
MIN_KEY_BYTES = 32
#: The file name of the generated key inside the state folder.
KEY_FILE_NAME = "pseudonym.key"

_KEY_ID_LABEL = b"shopintent-key-id"
_KEY_ID_HEX = 16
_NEW_KEY_HINT = "e.g. the output of `python -c 'import secrets; print(secrets.token_hex(32))'`"


class PseudonymKeyError(ValueError):
    """The pseudonym key is missing, too short, unreadable or exposed."""


def key_id(key: bytes) -> str:
    """A short public name for ``key``: 16 hex digits of ``HMAC-SHA256(key, "shopintent-key-id")``.

    Equal keys give equal ids, so two stores (or a store and an export) can be
    checked for being written under the same key; the id cannot be turned back
    into the key, nor used to compute any pseudonym.
    """
    if not isinstance(key, bytes | bytearray):
        raise TypeError(f"key must be bytes, not {type(key).__name__}")
    return hmac.new(bytes(key), _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:_KEY_ID_HEX]


def check_key_length(key: bytes, source: str) -> bytes:
    """Return ``key`` if it is long enough; else raise naming ``source`` and the fix."""
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(
            f"{source} is {len(key)} bytes; a pseudonym key needs at least {MIN_KEY_BYTES} "
            f"({_NEW_KEY_HINT})"
        )
    return key


def resolve_pseudonym_key(configured: str | None, key_file: Path) -> bytes:
    """The key to pseudonymise with: ``configured`` if given, else the key file (created once).

    ``configured`` is the value of ``SHOPINTENT_PSEUDONYM_KEY`` (its UTF-8 bytes are
    the key). Without it the key lives in ``key_file``, created on first use by
    :func:`create_key_file`. Raises :class:`PseudonymKeyError` for a short key, an
    unreadable file or one that others may read. Only paths are ever logged.
    """
    if configured is not None:
        return check_key_length(configured.encode("utf-8"), "SHOPINTENT_PSEUDONYM_KEY")
    try:
        return create_key_file(key_file)
    except FileExistsError:
        return load_key_file(key_file)


def create_key_file(path: Path) -> bytes:
    """Create ``path`` holding a new random key, exclusively and private; return the key.

    The file is opened with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600, so it is
    never readable by others, not even between creating and writing it, and an
    existing file or symlink at ``path`` raises ``FileExistsError`` instead of being
    overwritten. A half-written file is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # umask can only narrow the mode; make it exactly 0600
        # Kept as hex text (64 characters, used as bytes) so the file can be copied by hand.
        data = secrets.token_hex(32).encode("ascii")
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    log.info("pseudonym key created", key_file=str(path))
    return data


def load_key_file(path: Path, wait_s: float = 2.0) -> bytes:
    """Read the key in ``path``; refuse a short key or a file others may read.

    A file that is still empty is waited for up to ``wait_s`` seconds: another
    process may have just created it and not yet written the key.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            info = path.stat()
            data = path.read_bytes().strip()
        except FileNotFoundError as exc:
            raise PseudonymKeyError(
                f"pseudonym key file {path} is a dangling link or vanished while being read; "
                "remove it (a new key is then created) or point it at the key file"
            ) from exc
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise PseudonymKeyError(
                    f"pseudonym key file {path} cannot be read ({exc.strerror}); "
                    "run shopintent as the user that owns it"
                ) from exc
            raise
        if data or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if not stat.S_ISREG(info.st_mode):
        raise PseudonymKeyError(f"pseudonym key file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise PseudonymKeyError(
            f"pseudonym key file {path} has mode {stat.S_IMODE(info.st_mode):04o}: group or others "
            f"may read the key; run `chmod 600 {path}` (and consider the key exposed)"
        )
    return check_key_length(data, f"pseudonym key file {path}")
