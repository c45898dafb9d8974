"""The canonical event table as Arrow, and query results back to typed pandas.

Both engines exchange data through Arrow: a frame goes in as an Arrow table
with a fixed schema, a result comes out as an Arrow table and is turned into
pandas by one function, so DuckDB and Spark results carry the same dtypes.
:func:`normalise` then casts a result onto the columns a pipeline declares
(plain ``int64``/``bool`` where a value can never be missing, nullable
``string``/``Int64`` where it can, timestamps as ``datetime64[us, UTC]``).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import pyarrow as pa

from shopintent.schema.validation import EVENT_COLUMNS

#: The canonical event table in Arrow; ``timestamp`` is an instant in UTC.
EVENT_ARROW_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string()),
        pa.field("user_id", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("event_type", pa.string()),
        pa.field("item_id", pa.string()),
        pa.field("category_id", pa.string()),
        pa.field("query", pa.string()),
        pa.field("price", pa.float64()),
        pa.field("quantity", pa.int64()),
    ]
)
#: Ingest order: unique per event table, increasing in the order events arrived.
SEQ_FIELD = pa.field("seq", pa.int64())

_TIMESTAMP = "datetime64[us, UTC]"


def events_to_arrow(frame: pd.DataFrame | pa.Table, *, with_seq: bool = False) -> pa.Table:
    """Cast a canonical event frame onto :data:`EVENT_ARROW_SCHEMA` (plus ``seq`` if asked).

    The frame must already be validated (see
    :func:`shopintent.schema.validation.validate_events`); columns other than
    the canonical ones (and ``seq`` when ``with_seq``) are left out. Raises
    ``ValueError`` naming a missing column and ``TypeError`` naming a column
    whose values do not fit its canonical type.
    """
    schema = EVENT_ARROW_SCHEMA.append(SEQ_FIELD) if with_seq else EVENT_ARROW_SCHEMA
    if isinstance(frame, pa.Table):
        table = frame
    else:
        missing = [name for name in schema.names if name not in frame.columns]
        if missing:
            raise ValueError(
                f"event table lacks column(s) {', '.join(f'`{m}`' for m in missing)}; "
                "validate it with shopintent.schema.validation.validate_events first"
            )
        timestamps = frame["timestamp"]
        if not isinstance(timestamps.dtype, pd.DatetimeTZDtype):
            raise TypeError(
                f"column `timestamp` has dtype {timestamps.dtype}, expected a timezone-aware "
                f"datetime ({_TIMESTAMP}); validate the events first"
            )
        frame = frame[list(schema.names)].assign(
            timestamp=timestamps.dt.tz_convert("UTC").astype(_TIMESTAMP)
        )
        table = pa.Table.from_pandas(frame, preserve_index=False)
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise ValueError(f"event table lacks column(s) {', '.join(f'`{m}`' for m in missing)}")
    columns = []
    for target in schema:
        column = table.column(target.name)
        try:
            columns.append(column.cast(target.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise TypeError(
                f"column `{target.name}` of type {column.type} cannot be read as {target.type}: {exc}"
            ) from None
    return pa.Table.from_arrays(columns, schema=schema)


def _pandas_type(arrow_type: pa.DataType) -> object:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype()
    if pa.types.is_string_view(arrow_type):
        return pd.StringDtype()
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """A query result as pandas: nullable strings/ints/bools, timestamps converted to UTC."""
    frame = table.to_pandas(types_mapper=_pandas_type)
    for name in frame.columns:
        dtype = frame[name].dtype
        if isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) != "UTC":
            frame[name] = frame[name].dt.tz_convert("UTC")
    return frame


def normalise(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """Select and cast a result onto declared columns, so every engine yields one frame.

    ``dtypes`` maps each output column, in order, to its pandas dtype; a
    timestamp column is converted to UTC at microsecond resolution.
    """
    missing = [name for name in dtypes if name not in frame.columns]
    if missing:
        raise ValueError(f"result lacks column(s) {', '.join(missing)}")
    out = {}
    for name, dtype in dtypes.items():
        column = frame[name]
        if dtype == _TIMESTAMP:
            if not isinstance(column.dtype, pd.DatetimeTZDtype):
                column = pd.to_datetime(column, utc=True)
            out[name] = column.dt.tz_convert("UTC").astype(_TIMESTAMP)
        else:
            out[name] = column.astype(dtype)
    return pd.DataFrame(out).reset_index(drop=True)


#: Dtypes of the canonical event columns plus ``seq``.
EVENT_DTYPES_WITH_SEQ: dict[str, str] = {**EVENT_COLUMNS, "seq": "int64"}
