"""``shopintent bench serve``: runs the service benchmark of the source checkout.

The service benchmark needs a harness no user of the service runs — a child
process under load, a load generator, kill -9 — so the benchmark and its
harness live in the checkout's ``benchmarks/`` package (``benchmarks/serve.py``,
``benchmarks/support/``), not in the installed package. From a checkout
(``pip install -e .``, as ``make`` does) this module loads that benchmark; an
installed package has no ``benchmarks/`` beside it, so importing this module
fails with :class:`ModuleNotFoundError` and the runner lists the area as not
built in this version (``shopintent bench serve`` says so, ``bench all`` skips it).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import shopintent

#: The repository this package runs from, when it runs from a checkout (editable install).
CHECKOUT = Path(shopintent.__file__).resolve().parents[2]


def _checkout_benchmark() -> ModuleType:
    """``benchmarks.serve`` from the checkout, importing the ``benchmarks`` package by its path.

    The package is loaded from its file (not by putting the checkout on ``sys.path``), so
    nothing else in the checkout becomes importable as a side effect.
    """
    package = CHECKOUT / "benchmarks"
    if not (package / "__init__.py").is_file() or not (package / "serve.py").is_file():
        raise ModuleNotFoundError(
            f"the serve benchmark runs from a source checkout: {package / 'serve.py'} is missing "
            "(the load generator and kill -9 harness are not part of the installed package)",
            name="benchmarks.serve")
    loaded = sys.modules.get("benchmarks")
    if loaded is None:
        spec = importlib.util.spec_from_file_location(
            "benchmarks", package / "__init__.py", submodule_search_locations=[str(package)])
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules["benchmarks"] = loaded
        spec.loader.exec_module(loaded)
    else:
        where = [Path(p).resolve() for p in getattr(loaded, "__path__", [])]
        if package.resolve() not in where:
            raise ModuleNotFoundError(
                f"a different 'benchmarks' module ({getattr(loaded, '__file__', loaded)}) is already "
                f"imported; the serve benchmark is {package / 'serve.py'}", name="benchmarks.serve")
    return importlib.import_module("benchmarks.serve")


run = _checkout_benchmark().run
