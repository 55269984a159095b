"""Fixed overhead of llmdas.sandbox.run_program.

Runs a trivial synthesis program (returns a slice of X_train, one
predict_score call) on a 10 000 x 100 float64 X_train, 5 times, and prints
the median wall-clock time of run_program. That covers: static check,
spawning the child interpreter, importing numpy there, sending X_train
(8 MB) over the pipe, one scoring round trip, returning the result and
reaping the child. Target: <= 1 s.

    .venv/bin/python benchmarks/sandbox_overhead.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from llmdas.sandbox import run_program

PROGRAM = """
import numpy as np

def generate_hard_anomalies(n_samples, model, X_train):
    X = X_train[:n_samples].copy()
    model.predict_score(X)
    return X
"""


def main(repeats: int = 5) -> None:
    X_train = np.random.default_rng(0).normal(size=(10_000, 100))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        res = run_program(PROGRAM, lambda X: X.sum(axis=1), X_train, 100, seed=0)
        times.append(time.perf_counter() - start)
        assert res.X.shape == (100, 100)
    print(
        f"sandbox overhead (10000x100 X_train, trivial program): "
        f"median {statistics.median(times):.3f} s over {repeats} runs "
        f"(min {min(times):.3f} s, max {max(times):.3f} s)"
    )


if __name__ == "__main__":
    main()
