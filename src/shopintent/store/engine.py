"""What a SQL engine must offer for the store pipelines to run on it.

The pipelines in :mod:`shopintent.store.pipelines` are written once, in the SQL
that DuckDB and Spark SQL share. An :class:`Engine` registers tables and runs
that SQL; its :class:`Dialect` spells the few things the two do not share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pandas as pd
import pyarrow as pa

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Dialect:
    """The SQL spellings that differ between engines; everything else is shared.

    ``epoch_us`` is a template with one ``{}`` for a timestamp expression that
    yields its microseconds since 1970-01-01 UTC as a BIGINT (integers keep
    gap tests and durations exact on every engine); ``quote_char`` quotes an
    identifier that is a reserved word (``end``).
    """

    name: str
    epoch_us_template: str
    quote_char: str

    def epoch_us(self, expression: str) -> str:
        """SQL for the microseconds since the epoch of a timestamp expression."""
        return self.epoch_us_template.format(expression)

    def quote(self, identifier: str) -> str:
        """SQL for an identifier, quoted so reserved words can be column names."""
        check_identifier(identifier)
        return f"{self.quote_char}{identifier}{self.quote_char}"


DUCKDB = Dialect(name="duckdb", epoch_us_template="epoch_us({})", quote_char='"')
SPARK = Dialect(name="spark", epoch_us_template="unix_micros({})", quote_char="`")


def check_identifier(name: str) -> str:
    """Return ``name`` if it is a plain SQL identifier, else raise ``ValueError``.

    Table names are put into SQL text, so only letters, digits and ``_`` pass.
    """
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"table name {name!r} is not a plain identifier (letters, digits, _; "
            "not starting with a digit)"
        )
    return name


@runtime_checkable
class Engine(Protocol):
    """A SQL engine the store pipelines can run on (DuckDB, Spark).

    ``register`` makes a table queryable under ``name`` (replacing any table of
    that name); ``sql`` runs a query and returns the result as pandas, with
    timestamps as ``datetime64[us, UTC]``; ``columns`` lists a registered
    table's columns.
    """

    dialect: Dialect

    def register(self, name: str, table: pd.DataFrame | pa.Table) -> None: ...

    def sql(self, query: str) -> pd.DataFrame: ...

    def columns(self, name: str) -> list[str]: ...
