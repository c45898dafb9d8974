"""Risk control: fraud and bot scores with reason codes, cost-aware actions.

Modules, one idea each: ``costs`` (the business cost matrix and the threshold
it implies), ``fraud`` (the calibrated transaction model), ``click_features``
(streaming per-key click features, one implementation offline and live),
``clicks`` (the click-fraud model and its time split), ``anomaly`` (unlabelled
session anomalies with reason codes), ``simulate_bots`` (the documented bot
simulator used to evaluate it), ``rules`` (the shop-editable rule file),
``verdict`` (score + reasons + action) and ``scorer`` (one event in, one
verdict out, from per-key streaming state). See docs/risk.md.
"""
