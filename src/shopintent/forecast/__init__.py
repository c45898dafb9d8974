"""Demand forecasting and stock: backtested per-series forecasts with calibrated intervals.

Small modules, one job each: :mod:`.series` turns any (id, date, quantity) table into
regular series and says what it did to each; :mod:`.models` names the forecasters
(statsforecast, mlforecast + LightGBM, an ensemble); :mod:`.backtest` runs rolling-origin
backtests; :mod:`.intervals` calibrates conformal intervals on earlier cut-offs only;
:mod:`.metrics` scores them; :mod:`.demand` reads demand series from the event store on
DuckDB or Spark; :mod:`.stock` turns forecast quantiles into reorder points and simulates
inventory; :mod:`.intent` tests shopper signals as leading indicators; :mod:`.forecaster`
is the fit / predict estimator the CLI and the service use.
"""
