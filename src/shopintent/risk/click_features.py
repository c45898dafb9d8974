"""Streaming per-key click features — the one implementation the training replay and the live path run.

For every click, per key (``ip``, ``ip+app``, ``ip+device+os``, ``ip+channel``,
``ip+app+os``): how many clicks that key made in the last minute, hour and day
(this one included), the seconds since its previous click, and the seconds to
its **next** click. Click farms and bots show up as many clicks per key in
short bursts with regular gaps, and a human who downloads the app usually
does not click the same ad again seconds later.

Time to the next click needs the future. It is computed honestly by a
*delayed verdict*: a click's features are final once every key has seen its
next click or the stream clock has passed ``click time + horizon`` (then the
next gap is "none within the horizon", ``NaN``). So the live path emits each
click's verdict at most ``horizon`` seconds late (default 10 minutes), and a
caller who must answer at once reads :meth:`ClickFeatureState.provisional`,
the same row with the next gaps still ``NaN``. Offline, :func:`click_features`
replays a table through exactly this state; ``tests/risk/test_click_features.py``
feeds the same events one by one (emitting as the live path does) and finds
the batch rows, and checks each feature against a plain pandas computation.

Events must arrive in time order (ties allowed); a click older than the
stream's clock is rejected by :meth:`ClickFeatureState.push` with a reason,
never reordered silently. Key state idle for longer than a day is dropped,
so memory stays bounded on an endless stream.

>>> state = ClickFeatureState(horizon_s=60)
>>> state.push(0, {"ip": 1, "app": 3, "device": 1, "os": 13, "channel": 497}, 0.0)
[]
>>> [(i, row["ip_next_s"], row["ip_n1m"]) for i, row in
...  state.push(1, {"ip": 1, "app": 3, "device": 1, "os": 13, "channel": 497}, 5.0)]
[(0, 5.0, 1.0)]
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CLICK_FIELDS", "FEATURE_NAMES", "KEYS", "WINDOWS", "ClickFeatureState", "click_features"]

#: The id fields of one click, in the order of the TalkingData columns.
CLICK_FIELDS: tuple[str, ...] = ("ip", "app", "device", "os", "channel")
#: Key name -> the click fields that form it.
KEYS: dict[str, tuple[str, ...]] = {
    "ip": ("ip",),
    "ip_app": ("ip", "app"),
    "ip_device_os": ("ip", "device", "os"),
    "ip_channel": ("ip", "channel"),
    "ip_app_os": ("ip", "app", "os"),
}
#: Window name -> length in seconds.
WINDOWS: dict[str, float] = {"1m": 60.0, "1h": 3600.0, "1d": 86400.0}
_LONGEST = max(WINDOWS.values())
_PER_KEY: tuple[str, ...] = (*(f"n{w}" for w in WINDOWS), "prev_s", "next_s")
#: Every feature, in the order of the rows :func:`click_features` returns.
FEATURE_NAMES: tuple[str, ...] = (
    "app", "device", "os", "channel", "hour",
    *(f"{key}_{name}" for key in KEYS for name in _PER_KEY),
)
#: The id features a model should treat as categories (their values, not their order, matter).
CATEGORICAL: tuple[str, ...] = ("app", "device", "os", "channel")


@dataclass
class _KeyState:
    # click times of the last day, sorted; entries before ``head`` have left the longest window
    times: list[float] = field(default_factory=list)
    head: int = 0
    last: float = float("nan")
    waiting: int | None = None  # the pending click that waits for this key's next click


@dataclass
class _Pending:
    row: dict[str, float]
    time: float
    open_keys: int


class ClickFeatureState:
    """Per-key streaming state over a time-ordered click stream (see the module docstring).

    ``push(index, click, t)`` adds one click (``t`` in seconds, any epoch) and
    returns the ``(index, row)`` pairs whose features became final, in the
    order they did; ``flush()`` finalises the rest at the end of a replay.
    """

    def __init__(self, horizon_s: float = 600.0) -> None:
        if horizon_s <= 0:
            raise ValueError(f"horizon_s must be positive, got {horizon_s}")
        self.horizon_s = float(horizon_s)
        self.clock = float("-inf")
        self._keys: dict[tuple[str, tuple[Any, ...]], _KeyState] = {}
        self._pending: dict[int, _Pending] = {}
        self._order: deque[int] = deque()
        self._pushed = 0

    def check(self, click: Mapping[str, Any], t: Any) -> str | None:
        """Why ``click`` at ``t`` cannot be pushed (``None``: it can), naming the field."""
        for name in CLICK_FIELDS:
            value = click.get(name)
            if value is None or (isinstance(value, float) and np.isnan(value)):
                return f"`{name}` is missing"
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                return f"`{name}` {value!r} is not a non-negative integer id"
        if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) or not np.isfinite(t):
            return f"click time {t!r} is not a finite number of seconds"
        if t < self.clock:
            return f"click time {t} is before the stream's clock {self.clock} (clicks must come in time order)"
        return None

    def push(self, index: int, click: Mapping[str, Any], t: float,
             expire: bool = True) -> list[tuple[int, dict[str, float]]]:
        """Add one click; return the clicks whose features became final. Raises ``ValueError`` on a bad click.

        ``expire=False`` leaves the clicks whose horizon has passed to :meth:`advance` (a timer in
        the live path), so one arriving click never carries the finalising of many waiting ones.
        """
        problem = self.check(click, t)
        if problem:
            raise ValueError(problem)
        if index in self._pending:
            raise ValueError(f"click index {index} is already waiting for its next click")
        t = float(t)
        self.clock = t
        ready = self._expire(t) if expire else []
        hour = (t // 3600.0) % 24.0
        row: dict[str, float] = {
            "app": float(click["app"]), "device": float(click["device"]), "os": float(click["os"]),
            "channel": float(click["channel"]), "hour": hour,
        }
        resolved: list[int] = []
        for key, fields in KEYS.items():
            state = self._keys.setdefault((key, tuple(click[f] for f in fields)), _KeyState())
            times = state.times
            times.append(t)
            end = len(times)
            state.head = bisect_right(times, t - _LONGEST, state.head, end)
            if state.head > 64 and state.head * 2 > end:
                del times[: state.head]
                end -= state.head
                state.head = 0
            for name, length in WINDOWS.items():
                row[f"{key}_n{name}"] = float(end - bisect_right(times, t - length, state.head, end))
            row[f"{key}_prev_s"] = t - state.last if state.last == state.last else float("nan")
            row[f"{key}_next_s"] = float("nan")
            if state.waiting is not None:
                earlier = self._pending.get(state.waiting)
                if earlier is not None:
                    earlier.row[f"{key}_next_s"] = t - earlier.time
                    earlier.open_keys -= 1
                    if earlier.open_keys == 0:
                        resolved.append(state.waiting)
            state.last = t
            state.waiting = index
        self._pending[index] = _Pending(row, t, len(KEYS))
        self._order.append(index)
        for done in resolved:
            ready.append((done, self._pending.pop(done).row))
        self._pushed += 1
        if self._pushed % 50_000 == 0:
            self._evict(t)
        return ready

    def provisional(self, index: int) -> dict[str, float]:
        """The features of a click still waiting, next gaps not yet known (``NaN``): for an answer now."""
        return dict(self._pending[index].row)

    def advance(self, now: float) -> list[tuple[int, dict[str, float]]]:
        """Move the clock to ``now`` without a click (a timer in the live path); return what became final."""
        if now > self.clock:
            self.clock = float(now)
        return self._expire(self.clock)

    def flush(self) -> list[tuple[int, dict[str, float]]]:
        """Finalise every click still waiting (end of a replay: no later click will come)."""
        return self._expire(float("inf"))

    def _expire(self, now: float) -> list[tuple[int, dict[str, float]]]:
        out = []
        while self._order:
            index = self._order[0]
            pending = self._pending.get(index)
            if pending is None:  # already final
                self._order.popleft()
                continue
            if not now > pending.time + self.horizon_s:
                break
            self._order.popleft()
            out.append((index, self._pending.pop(index).row))
        return out

    def _evict(self, now: float) -> None:
        stale = [k for k, s in self._keys.items() if s.last <= now - _LONGEST and s.waiting not in self._pending]
        for key in stale:
            del self._keys[key]


def click_features(clicks: pd.DataFrame, time_col: str = "click_time", horizon_s: float = 600.0) -> pd.DataFrame:
    """The features of every click of a table, by replaying it through :class:`ClickFeatureState`.

    ``clicks`` holds :data:`CLICK_FIELDS` and ``time_col`` (timestamps or
    seconds); rows are replayed in time order (stable for ties) and the
    result has the input's index, in the input's row order.
    """
    missing = [c for c in (*CLICK_FIELDS, time_col) if c not in clicks.columns]
    if missing:
        raise ValueError(f"click table lacks the column(s) {missing}")
    seconds = _seconds(clicks[time_col], time_col)
    order = np.argsort(seconds, kind="stable")
    ids = clicks[list(CLICK_FIELDS)].to_numpy()
    state = ClickFeatureState(horizon_s)
    rows: list[dict[str, float] | None] = [None] * len(clicks)
    for position in order:
        click = dict(zip(CLICK_FIELDS, (int(v) for v in ids[position]), strict=True))
        for index, row in state.push(int(position), click, float(seconds[position])):
            rows[index] = row
    for index, row in state.flush():
        rows[index] = row
    return pd.DataFrame.from_records(rows, columns=list(FEATURE_NAMES), index=clicks.index)


def _seconds(column: pd.Series, name: str) -> np.ndarray:
    """Seconds since the epoch of a timestamp column (or the numbers themselves)."""
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=float)
    else:
        stamps = pd.to_datetime(column, utc=True, errors="coerce")
        bad = stamps.isna() & column.notna() | column.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"row {row + 1}: `{name}` {column.iloc[row]!r} is not a time")
        values = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    if not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"row {row + 1}: `{name}` {column.iloc[row]!r} is not a finite time")
    return values


def iter_clicks(clicks: pd.DataFrame, time_col: str = "click_time") -> Iterable[tuple[int, dict[str, int], float]]:
    """``(position, click, seconds)`` in time order: the events a live replay pushes one by one."""
    seconds = _seconds(clicks[time_col], time_col)
    ids = clicks[list(CLICK_FIELDS)].to_numpy()
    for position in np.argsort(seconds, kind="stable"):
        yield int(position), dict(zip(CLICK_FIELDS, (int(v) for v in ids[position]), strict=True)), float(
            seconds[position])
