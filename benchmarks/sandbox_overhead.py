"""Fixed costs of one enhancement: the sandbox's, and the default classifier's.

Runs a trivial synthesis program (returns a slice of X_train, one
predict_score call) on a 10 000 x 100 float64 X_train, 5 times, and prints
the median wall-clock time of run_program. That covers: static check,
spawning the child interpreter, importing numpy there, sending X_train
(8 MB) over the pipe, one scoring round trip, returning the result and
reaping the child. Target: <= 1 s.

Then fits the default classifier (``EnhancedDetector``'s extra-trees with out-of-bag estimates)
on 50 rows x 20 columns, also 5 times: its cost there is scikit-learn's own work per tree, a
floor under every fit whatever the data (docs/performance.md, "Overhead").

    .venv/bin/python benchmarks/sandbox_overhead.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from sklearn.base import clone

from llmdas import EnhancedDetector
from llmdas.sandbox import run_program

PROGRAM = """
import numpy as np

def generate_hard_anomalies(n_samples, model, X_train):
    X = X_train[:n_samples].copy()
    model.predict_score(X)
    return X
"""


def _median_seconds(run, repeats: int) -> tuple[float, float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def main(repeats: int = 5) -> None:
    rng = np.random.default_rng(0)
    X_train = rng.normal(size=(10_000, 100))

    def sandboxed() -> None:
        res = run_program(PROGRAM, lambda X: X.sum(axis=1), X_train, 100, seed=0)
        assert res.X.shape == (100, 100)

    median, low, high = _median_seconds(sandboxed, repeats)
    print(
        f"sandbox overhead (10000x100 X_train, trivial program): "
        f"median {median:.3f} s over {repeats} runs (min {low:.3f} s, max {high:.3f} s)"
    )

    rows, labels = rng.normal(size=(50, 20)), np.arange(50) % 5 == 0
    # The classifier a default fit makes (on at most 1000 rows it has no bootstrap-size cap).
    classifier = clone(EnhancedDetector("PCA", random_state=0).fit(X_train[:500]).classifier_)
    median, low, high = _median_seconds(lambda: classifier.fit(rows, labels), repeats)
    print(
        f"default classifier ({classifier.n_estimators} extra-trees, out-of-bag) on 50x20 rows: "
        f"median {median:.3f} s over {repeats} runs (min {low:.3f} s, max {high:.3f} s)"
    )


if __name__ == "__main__":
    main()
