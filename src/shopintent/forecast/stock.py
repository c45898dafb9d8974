"""From forecast to stock: safety stock, reorder point and an inventory simulation over a backtest.

Policy (periodic review every period, lead time ``L`` periods, lost sales): at each
cut-off the shop orders up to ``S = forecast of demand over the next L+1 periods +
safety stock``. The safety stock comes from the forecast's own calibrated uncertainty:
the per-step conformal half-widths at the two-sided ``level`` (80 % two-sided = a 90 %
one-sided upper quantile), combined as the root of their sum of squares (errors of
different steps treated as independent, the textbook assumption). The naive rule orders
up to ``(L+1) × last period's demand`` with no safety stock.

:func:`simulate` replays the backtest period by period — receive what arrives, order,
then sell — and reports fill rate (units sold / units demanded) and average stock on
hand at period end. Both policies see exactly the same demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class StockPolicy:
    """Order-up-to levels per period for one series: why each order was placed."""

    order_up_to: np.ndarray
    safety_stock: np.ndarray


def safety_stock(half_widths: np.ndarray) -> float:
    """Root-sum-of-squares of per-step interval half-widths over the protection interval."""
    return float(np.sqrt(np.sum(np.square(half_widths))))


def reorder_point(forecast: np.ndarray, half_widths: np.ndarray, lead_time: int) -> tuple[float, float]:
    """``(reorder point, safety stock)`` for the next ``lead_time + 1`` periods of ``forecast``.

    >>> reorder_point(np.array([10.0, 12.0, 9.0]), np.array([3.0, 4.0, 5.0]), lead_time=1)
    (27.0, 5.0)
    """
    span = lead_time + 1
    if len(forecast) < span:
        raise ValueError(f"lead time {lead_time} needs a forecast of {span} periods, got {len(forecast)}")
    ss = safety_stock(half_widths[:span])
    return float(np.sum(forecast[:span]) + ss), ss


def forecast_policy(rows: pd.DataFrame, model: str, lead_time: int, level: int) -> StockPolicy:
    """Order-up-to levels from one series' backtest rows (``cutoff, step, model, model-hi-level``)."""
    span = lead_time + 1
    ordered = rows.sort_values(["cutoff", "step"], kind="stable")
    ups, sss = [], []
    for _, group in ordered.groupby("cutoff", sort=True):
        g = group[group["step"] <= span]
        if len(g) < span:
            raise ValueError(f"backtest horizon {len(group)} is shorter than lead time + 1 = {span}")
        point = g[model].to_numpy()
        width = g[f"{model}-hi-{level}"].to_numpy() - point
        s, ss = reorder_point(point, width, lead_time)
        ups.append(s)
        sss.append(ss)
    return StockPolicy(np.array(ups), np.array(sss))


def naive_policy(last_demand: np.ndarray, lead_time: int) -> StockPolicy:
    """Order up to (L+1) × the last period's demand, no safety stock."""
    return StockPolicy(last_demand * (lead_time + 1), np.zeros(len(last_demand)))


def simulate(demand: np.ndarray, order_up_to: np.ndarray, lead_time: int) -> dict[str, float]:
    """Lost-sales inventory replay: fill rate, average stock at period end, units ordered.

    Period ``k``: orders due arrive, an order brings the inventory position up to
    ``order_up_to[k]`` and arrives ``lead_time`` periods later (0: at once), then
    ``demand[k]`` is served from stock on hand. Starts with ``order_up_to[0]`` on hand.
    """
    on_hand = float(order_up_to[0])
    pipeline = np.zeros(len(demand) + lead_time + 1)
    sold = stock = ordered = 0.0
    for k, d in enumerate(demand):
        on_hand += pipeline[k]
        position = on_hand + pipeline[k + 1:].sum()
        quantity = max(0.0, float(order_up_to[k]) - position)
        pipeline[k + lead_time] += quantity
        ordered += quantity
        if lead_time == 0:
            on_hand += quantity
            pipeline[k] = 0.0
        served = min(on_hand, float(d))
        on_hand -= served
        sold += served
        stock += on_hand
    total = float(np.sum(demand))
    return {"fill_rate": sold / total if total > 0 else float("nan"), "average_stock": stock / len(demand),
            "ordered": ordered}


def compare_policies(rows: pd.DataFrame, last_before: dict[str, float], model: str, lead_time: int,
                     level: int = 80) -> pd.DataFrame:
    """Per series: fill rate and average stock of the forecast policy and of the naive rule.

    ``rows`` are scored backtest rows with intervals; ``last_before`` the demand of the
    period before the first scored cut-off per series (the naive rule's first order).
    """
    out = []
    for uid, group in rows.groupby("unique_id", sort=True):
        step1 = group[group["step"] == 1].sort_values("cutoff")
        demand = step1["y"].to_numpy()
        last = np.concatenate([[last_before[uid]], demand[:-1]])
        forecast = simulate(demand, forecast_policy(group, model, lead_time, level).order_up_to, lead_time)
        naive = simulate(demand, naive_policy(last, lead_time).order_up_to, lead_time)
        out.append({"unique_id": uid, "forecast_fill_rate": forecast["fill_rate"],
                    "forecast_average_stock": forecast["average_stock"], "naive_fill_rate": naive["fill_rate"],
                    "naive_average_stock": naive["average_stock"], "mean_demand": float(demand.mean())})
    return pd.DataFrame(out)
