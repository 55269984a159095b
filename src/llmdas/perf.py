"""Speed and scale measurements behind ``llmdas perf``.

Two questions, answered with ratios measured in one run (absolute times on shared machines are
noisy, ratios much less so):

* **Scaling** — how time and peak memory of ``EnhancedDetector.fit`` + ``decision_function`` grow
  with the number of rows (10k, 100k, 1M × 50 by default; other widths on request), next to the
  base detector alone. Each configuration runs in a fresh Python process so that its peak resident
  memory (``ru_maxrss``) is its own.
* **Overhead** — how much the enhancement (synthesis + classifier fit + extra scoring) costs
  relative to the base detector's fit, per dataset, read from a benchmark store.

The synthetic data is a Gaussian mixture (5 components with random covariances) with 1 % planted
anomalies: half "local" (drawn with 4× inflated covariance) and half "dependency" (each feature drawn
independently from another row, which keeps marginals and breaks correlations).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["ScaleResult", "make_mixture", "overhead_rows", "overhead_summary", "run_scale_case"]


def make_mixture(
    n_rows: int, n_features: int = 50, anomaly_rate: float = 0.01, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A float32 Gaussian mixture with planted anomalies; returns ``(X, y)`` with y = 1 anomalous."""
    rng = np.random.default_rng(seed)
    n_components = 5
    means = rng.normal(scale=3.0, size=(n_components, n_features))
    mixing = [
        rng.normal(size=(n_features, n_features)) / np.sqrt(n_features) for _ in range(n_components)
    ]
    n_anom = int(round(n_rows * anomaly_rate))
    comp = rng.integers(n_components, size=n_rows)
    X = np.empty((n_rows, n_features), dtype=np.float32)
    for k in range(n_components):  # per component, to keep memory at one float64 block
        idx = np.flatnonzero(comp == k)
        X[idx] = means[k] + rng.standard_normal((len(idx), n_features)) @ mixing[k]
    y = np.zeros(n_rows, dtype=np.int64)
    anomalies = rng.choice(n_rows, n_anom, replace=False)
    y[anomalies] = 1
    local, dependency = anomalies[: n_anom // 2], anomalies[n_anom // 2 :]
    X[local] = means[comp[local]] + 2.0 * (
        rng.standard_normal((len(local), n_features)) @ mixing[0]
    )
    donors = rng.integers(n_rows, size=(len(dependency), n_features))
    X[dependency] = X[donors, np.arange(n_features)]
    return X, y


@dataclass
class ScaleResult:
    """One measured configuration of the scaling table."""

    detector: str
    mode: str  # "base" or "enhanced"
    n_train: int  # rows generated for training (normal ones are used)
    n_test: int
    n_features: int
    fit_rows: int | None  # fitted on a random subset of this many rows (None: all)
    fit_s: float
    score_s: float
    peak_rss_mb: float
    auc_pr: float
    auc_roc: float
    #: Enhanced mode: the fit time less its own base fit, in the same process — the enhancement's
    #: cost, free of the run-to-run spread that a difference of two separate runs carries.
    extra_fit_s: float | None = None


def _measure_in_process(
    detector: str,
    mode: str,
    n_train: int,
    n_test: int,
    seed: int,
    fit_rows: int | None = None,
    n_features: int = 50,
) -> dict:
    """Fit and score one configuration in this process (called in a fresh child).

    ``fit_rows`` fits on a random subset of that many training rows (the subsample baseline).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    from llmdas.detectors import canonical_name, make_detector, score_detector
    from llmdas.enhanced import EnhancedDetector

    detector = canonical_name(detector)  # a wrong name fails before rows are made
    X, y = make_mixture(n_train + n_test, n_features, seed=seed)
    train_rows = np.flatnonzero(y[:n_train] == 0)
    if fit_rows is not None and fit_rows < len(train_rows):
        train_rows = np.sort(
            np.random.default_rng(seed).choice(train_rows, fit_rows, replace=False)
        )
    X_train, X_test, y_test = X[train_rows], X[n_train:], y[n_train:]
    del X
    if not 0 < y_test.sum() < len(y_test):  # AUCs of one class alone would be 0 and nan
        raise ValueError(
            f"the {n_test} test rows hold {y_test.sum()} of the planted anomalies (1 % of all "
            "rows, placed at random); the AUCs need both kinds: score more rows (--test-rows)"
        )
    started = time.perf_counter()
    if mode == "base":
        model = make_detector(detector, random_state=seed).fit(X_train)
    else:
        model = EnhancedDetector(detector, random_state=seed).fit(X_train)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    scores = score_detector(model, X_test) if mode == "base" else model.decision_function(X_test)
    score_s = time.perf_counter() - started
    return {
        "fit_s": fit_s,
        "extra_fit_s": None if mode == "base" else fit_s - model.timings_["base_fit"],
        "score_s": score_s,
        "auc_pr": float(average_precision_score(y_test, scores)),
        "auc_roc": float(roc_auc_score(y_test, scores)),
    }


def run_scale_case(
    detector: str,
    mode: str,
    n_train: int,
    n_test: int = 100_000,
    seed: int = 0,
    fit_rows: int | None = None,
    timeout_s: float = 1800,
    n_features: int = 50,
) -> ScaleResult:
    """Measure one configuration in a fresh process; peak RSS is that process's (and children's) max."""
    code = (
        "import json, sys; from llmdas.perf import _measure_in_process as m; "
        f"print(json.dumps(m({detector!r}, {mode!r}, {n_train}, {n_test}, {seed}, {fit_rows!r}, "
        f"{n_features})))"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stdout=out, stderr=err, env=env, text=True
        )
        # wait4 gives this child's own resource usage: its peak RSS (KiB on Linux), including the
        # sandbox processes it started and reaped.
        deadline = time.monotonic() + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise RuntimeError(
                    f"{detector}/{mode} at {n_train} rows exceeded {timeout_s:.0f} s"
                )
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {proc.returncode}"
        raise RuntimeError(f"{detector}/{mode} at {n_train} rows failed: {last}")
    peak_kib = usage.ru_maxrss
    measured = json.loads(stdout.strip().splitlines()[-1])
    return ScaleResult(
        detector,
        mode,
        n_train,
        n_test,
        n_features,
        fit_rows,
        peak_rss_mb=peak_kib / 1024,
        **measured,
    )


#: The timed parts of a ``builtin`` benchmark cell, as stored (seconds).
OVERHEAD_PARTS = ("base_fit", "synthesis", "classifier_fit", "scoring")


def overhead_rows(store_path) -> list[dict]:
    """Per (dataset, detector) median overhead ratio of the ``builtin`` cells of a benchmark store.

    overhead = (synthesis + classifier fit + enhanced scoring of the test rows) / base fit, where
    the benchmark memoises base scores so that the enhanced scoring time is the classifier's extra
    work. Each row also holds the median seconds of every part (``OVERHEAD_PARTS``). As in
    ``llmdas summary``, a cell rerun under a newer configuration counts with its newest row only;
    cells with an error or without timings are skipped.
    """
    from statistics import median

    from llmdas.benchmark import ResultStore

    with ResultStore(store_path, read_only=True) as store:
        cells = store.cells(latest=True)  # the newest row first, then its error, as in summary
    grouped: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    for cell in cells:
        times = tuple(cell[f"t_{part}"] for part in OVERHEAD_PARTS)  # base fit first
        usable = cell["method"] == "builtin" and not cell["error"]
        if usable and None not in times and times[0] > 0:
            grouped.setdefault((cell["dataset"], cell["detector"]), []).append(times)
    result = []
    for (dataset, detector), timings in sorted(grouped.items()):
        row = {
            "dataset": dataset,
            "detector": detector,
            "overhead": median(sum(extra) / base for base, *extra in timings),
        }
        row.update({part: median(t[i] for t in timings) for i, part in enumerate(OVERHEAD_PARTS)})
        result.append(row)
    return result


def overhead_summary(rows: list[dict]) -> list[dict]:
    """Per detector over datasets: median, 90th percentile and maximum overhead ratio, and the
    median seconds of each part (``OVERHEAD_PARTS``)."""
    by_detector: dict[str, list[dict]] = {}
    for row in rows:
        by_detector.setdefault(row["detector"], []).append(row)
    summary = []
    for det, group in sorted(by_detector.items()):
        ratios = [r["overhead"] for r in group]
        entry = {
            "detector": det,
            "datasets": len(group),
            "median": float(np.median(ratios)),
            "p90": float(np.percentile(ratios, 90)),
            "max": float(np.max(ratios)),
        }
        entry.update({part: float(np.median([r[part] for r in group])) for part in OVERHEAD_PARTS})
        summary.append(entry)
    return summary
