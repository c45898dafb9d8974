"""Metrics, reports and the benchmark runner (it knows results, not model internals)."""
