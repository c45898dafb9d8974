"""The forecast estimator's and the stock helpers' docstring examples run (on the real pharma slice)."""

from __future__ import annotations

import doctest
import importlib

import pytest

from shopintent.settings import Settings


@pytest.mark.parametrize("module_name", ["shopintent.forecast.forecaster", "shopintent.forecast.stock",
                                         "shopintent.forecast.robust"])
def test_docstring_examples_run(module_name: str, session_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(session_settings.data_dir))
    result = doctest.testmod(importlib.import_module(module_name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
