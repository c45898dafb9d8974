"""Benchmark-only code that is not part of the installed ``shopintent`` package.

The serve benchmark (:mod:`benchmarks.serve`, run by ``shopintent bench serve``
from a source checkout) and its harness (:mod:`benchmarks.support`: a service in
a child process, a load generator, kill -9) live here beside the committed
``results/`` and ``demo_path.py``; the tests import the harness from here too.
"""
