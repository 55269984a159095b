"""The default on all-binary data, with and without ``snap_discrete``.

Many ADBench data sets outside our 34 are binary or categorical (celeba, census, backdoor,
InternetAds). As a stand-in, each of the 34 data sets is binarised at its training columns'
medians (``x > median``, the test rows with the same thresholds) and fitted under the paper split,
once with the default ``EnhancedDetector`` and once with ``snap_discrete=False``. Prints Δ AUC-PR
over the base detector per detector and tuning/validation half (as in ``split_halves.py``: mean
over seeds per dataset, then mean, wins, worst) and the mean fusion weight.

    python benchmarks/discrete_data.py --data ../shared/datasets [--seeds 42,0] [--jobs 2]

About 8 minutes on 2 cores with two seeds. Research tool: nothing here changes the library.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score
from split_halves import (  # this folder is on sys.path when the script runs
    fit_grid,
    grid_parser,
    halves,
)

from llmdas.benchmark.summary import TIE

DETECTORS = ("PCA", "IForest", "OCSVM", "ECOD")


def binarised(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper split of ``path`` with every column binarised at its training median."""
    from llmdas.data import load_dataset, paper_split

    X_train, X_test, y_test = paper_split(*load_dataset(path))
    median = np.median(X_train, axis=0)
    return (X_train > median).astype(float), (X_test > median).astype(float), y_test


def fit_cell(path: Path, detector: str, seed: int) -> list[dict]:
    """Δ AUC-PR and weight of the default and of ``snap_discrete=False`` on one binarised cell."""
    from llmdas import EnhancedDetector

    warnings.filterwarnings("ignore")
    X_train, X_test, y_test = binarised(path)
    out = []
    for snap in (True, False):
        det = EnhancedDetector(detector, snap_discrete=snap, random_state=seed).fit(X_train)
        base = average_precision_score(y_test, det.base_decision_function(X_test))
        fused = average_precision_score(y_test, det.decision_function(X_test))
        out.append(
            {
                "dataset": path.stem,
                "detector": detector,
                "snap": snap,
                "delta": fused - base,
                "weight": det.weight_,
            }
        )
    return out


def main() -> None:
    args = grid_parser(__doc__.splitlines()[0]).parse_args()
    paths, cells = fit_grid(fit_cell, args, DETECTORS)
    rows = [row for cell in cells for row in cell]

    split = halves(p.stem for p in paths)
    print("| detector | snap_discrete | half | mean ΔPR | wins | worst ΔPR | mean weight |")
    print("|---|---|---|---|---|---|---|")
    for detector in DETECTORS:
        for snap in (True, False):
            per_dataset = defaultdict(list)
            for r in rows:
                if r["detector"] == detector and r["snap"] == snap:
                    per_dataset[r["dataset"]].append((r["delta"], r["weight"]))
            for half, members in split.items():
                m = np.array([np.mean(per_dataset[name], axis=0) for name in members])
                print(
                    f"| {detector} | {snap} | {half} | {m[:, 0].mean():+.4f} | "
                    f"{(m[:, 0] > TIE).sum()}/{len(m)} | {m[:, 0].min():+.4f} | "
                    f"{m[:, 1].mean():.2f} |"
                )


if __name__ == "__main__":
    main()
