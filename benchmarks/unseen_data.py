"""Data sets that no choice of the defaults has seen: scikit-learn's bundled digits, ADBench-style.

Issue 8 asks that the default also beat the base detector on ADBench data sets outside the 34 in
``../shared/datasets``. Those cannot be downloaded here, but two of ADBench's own recipes can be
applied to data that scikit-learn ships (``sklearn.datasets.load_digits``: 1797 rows of 8 x 8
pixel counts, 64 columns, 10 classes):

* ``digits-rare-K`` (ODDS's recipe, as for ``optdigits``): every digit but ``K`` is normal, and
  the rows of ``K`` are subsampled to 5 % of the data set as anomalies;
* ``digits-one-K`` (ADBench's recipe for its image data sets, ``CIFAR10_K``, ``MNIST-C`` ...):
  only the digit ``K`` is normal, and the other digits are subsampled to 5 % as anomalies.

Rows keep the file's order, so the paper split trains on the first half of the normal rows.
``digits-rare-0`` is close to ``optdigits`` (whose anomalies are the zeros of the larger UCI
set); the other 19 are new. This script only writes the files; the benchmark runs on them:

    python benchmarks/unseen_data.py --out unseen/
    llmdas benchmark --data unseen/ --detectors PCA,IForest,OCSVM,ECOD --methods builtin \
        --seeds 42,0,100,17,21 --split paper --store unseen.db --jobs 2
    llmdas summary unseen.db

Research tool: nothing here changes the library.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ANOMALY_SHARE = 0.05  # of the data set, in both recipes (ADBench and ODDS)


def digits_sets(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (X, y)}`` for the 20 data sets described in the module docstring."""
    from sklearn.datasets import load_digits

    X, digit = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    sets = {}
    for k in range(10):
        for recipe, normal in (("rare", digit != k), ("one", digit == k)):
            normal_idx = np.flatnonzero(normal)
            # n anomalies make ANOMALY_SHARE of n + len(normal_idx) rows.
            n = round(len(normal_idx) * ANOMALY_SHARE / (1 - ANOMALY_SHARE))
            anomaly_idx = rng.choice(np.flatnonzero(~normal), n, replace=False)
            keep = np.sort(np.concatenate([normal_idx, anomaly_idx]))
            sets[f"digits-{recipe}-{k}"] = (X[keep], (~normal[keep]).astype(np.int64))
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the .npz files")
    parser.add_argument("--seed", type=int, default=0, help="seed of the anomaly subsampling")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (X, y) in digits_sets(args.seed).items():
        np.savez(args.out / f"{name}.npz", X=X, y=y)
        print(f"{name}: {len(y)} rows ({int(y.sum())} anomalies), {X.shape[1]} columns")


if __name__ == "__main__":
    main()
