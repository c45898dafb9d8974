"""The runnable examples in the estimators' docstrings run, on small slices of the real data.

Why a test and not ``--doctest-modules``: collecting every module's
doctests would import every optional dependency at collection time; here
only the modules that hold examples are imported, one test per module, so a
failure names the module and ``--durations`` shows what each costs. The
module list is the estimator registry's modules plus the package entry
points, and a second test fails when a registered estimator has no example.
"""

from __future__ import annotations

import doctest
import importlib
import io
import time
from pathlib import Path

import pytest

from shopintent.estimators import ESTIMATORS, estimator_class
from tests.conftest import REAL_DATA_DIR

#: Modules whose examples read no data (they run even without the shared data folder).
NO_DATA = ("shopintent.persist", "shopintent.estimators", "shopintent.text")
#: Package entry points and helpers with examples, beside every registered estimator's module.
ENTRY_POINTS = ("shopintent.samples", "shopintent.behaviour", "shopintent.recommend",
                "shopintent.text", "shopintent.intervene")
MODULES = sorted(set(NO_DATA) | set(ENTRY_POINTS)
                 | {spec.target.split(":")[0] for spec in ESTIMATORS.values()})
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if module_name not in NO_DATA:
        if REAL_DATA_DIR is None:
            pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder "
                        "(the docstring examples run on slices of it)")
        monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(REAL_DATA_DIR))
    monkeypatch.setenv("SHOPINTENT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SHOPINTENT_ALLOW_DOWNLOAD", "false")
    module = importlib.import_module(module_name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = io.StringIO()
    ran, slow = 0, []
    for test in doctest.DocTestFinder().find(module, module_name):
        if not test.examples:
            continue
        started = time.perf_counter()
        runner.run(test, out=report.write)
        seconds = time.perf_counter() - started
        ran += 1
        if seconds > 2.0:
            slow.append(f"{test.name}: {seconds:.1f} s")
    assert ran > 0, f"{module_name} holds no docstring example"
    assert runner.failures == 0, report.getvalue()
    if slow:  # shared CI cores are noisy: report, do not fail, on the 2-second aim
        print(f"examples over 2 s in {module_name}: {', '.join(slow)}")


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_registered_estimator_has_a_runnable_example(name: str) -> None:
    examples = doctest.DocTestParser().get_examples(estimator_class(name).__doc__ or "")
    runnable = [e for e in examples if not e.options.get(doctest.SKIP)]
    assert runnable, f"{name}'s docstring has no runnable >>> example"
