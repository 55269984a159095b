"""``llmdas benchmark``: base vs enhanced detectors over datasets, methods and seeds.

* :mod:`llmdas.benchmark.cells` plans the grid (methods, configuration hashes, work groups);
* :mod:`llmdas.benchmark.runner` computes groups locally or on dask.distributed;
* :mod:`llmdas.benchmark.store` keeps one SQLite row per cell, so that runs can resume;
* :mod:`llmdas.benchmark.summary` aggregates cells into the paper's Table 1;
* :mod:`llmdas.benchmark.compare` sets two stores side by side (a rerun, another machine);
* :mod:`llmdas.benchmark.report` renders a self-contained HTML report.
"""

from llmdas.benchmark.cells import MethodSpec, make_plan, parse_methods
from llmdas.benchmark.runner import execute, run_group, run_plan
from llmdas.benchmark.store import ResultStore

__all__ = [
    "MethodSpec",
    "ResultStore",
    "execute",
    "make_plan",
    "parse_methods",
    "run_group",
    "run_plan",
]
