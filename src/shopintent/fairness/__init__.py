"""Fairness audits (算法公平性) of the models that act on shoppers, their mitigation, private aggregates.

``groups`` checks and derives group columns; ``audit`` computes per-group metrics
and gaps with fairlearn; ``bootstrap`` their intervals; ``subjects`` trains the
audited models on real training splits; ``mitigation`` applies fairlearn's
``ThresholdOptimizer``; ``incentive`` replays the decision engine per group;
``dp`` releases counts with differential privacy (OpenDP); ``report``
writes the HTML report.
"""
