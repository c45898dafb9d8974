"""The runnable examples in the assist modules' docstrings (no encoders: they run in seconds)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ("tokens", "lexical", "protocol", "confidence", "datasets", "selective", "response_selection",
           "retrieval", "fusion")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"shopintent.assist.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
