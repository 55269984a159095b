"""The fusion weight from the classifier's separability of the *hard* synthetic rows only.

The default weight is ``3 * max(0, 2 * AUC - 1)`` with AUC the out-of-bag separability of all
synthetic rows from the normal ones. Part of that separability comes from rows the base detector
already flags, where the classifier adds nothing. This script fits the default
``EnhancedDetector`` once per (dataset, detector, seed) under the paper split and scores the test
rows with the default weight and with the same rule on two subsets of the synthetic rows, without
refitting: ``hard-half``, those the base detector scores at or below their median, and
``below-q90``, those it scores at or below its training scores' 90th percentile (``hard-half``
where fewer than 10 are). Prints, per detector and tuning/validation half
(``split_halves.halves``), the mean, wins and worst Δ AUC-PR over the base and the mean weight.

    python benchmarks/hard_row_weight.py --data ../shared/datasets [--seeds 42,0] [--jobs 2]

About 3 minutes on 2 cores with two seeds. Research tool: nothing here changes the library.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from split_halves import (  # this folder is on sys.path when the script runs
    fit_grid,
    grid_parser,
    halves,
)

from llmdas.benchmark.summary import TIE

DETECTORS = ("PCA", "IForest", "OCSVM", "ECOD")
RULES = ("default", "hard-half", "below-q90")


def fit_cell(path: Path, detector: str, seed: int) -> dict:
    from llmdas import EnhancedDetector
    from llmdas.data import load_dataset, paper_split
    from llmdas.detectors import score_detector
    from llmdas.fusion import separability_weight

    warnings.filterwarnings("ignore")
    X_train, X_test, y_test = paper_split(*load_dataset(path))
    det = EnhancedDetector(detector, random_state=seed).fit(X_train)
    base_part, _ = det.score_parts(X_test)
    evidence = det._clf_norm.transform(det._classifier_scores(X_test))  # C(f~)
    # Out-of-bag P(anomaly) of the classifier's training rows: the normal rows, then the synthetic.
    oob = np.nan_to_num(det.classifier_.oob_decision_function_[:, 1], nan=0.5)
    n_synthetic = len(det.synthetic_)
    normal, synthetic = oob[:-n_synthetic], oob[-n_synthetic:]
    synthetic_scores = score_detector(det.detector_, det.synthetic_)
    hard_half = synthetic_scores <= np.median(synthetic_scores)
    below_q90 = synthetic_scores <= np.quantile(det.base_scores_, 0.9)
    subsets = {
        "hard-half": hard_half,
        "below-q90": below_q90 if below_q90.sum() >= 10 else hard_half,
    }
    weights = {"default": det.weight_}
    for rule, subset in subsets.items():
        labels = np.r_[np.zeros(len(normal)), np.ones(subset.sum())]
        auc = roc_auc_score(labels, np.r_[normal, synthetic[subset]])
        weights[rule] = separability_weight(auc, det.weight_scale_)
    base_pr = average_precision_score(y_test, det.base_decision_function(X_test))
    row = {"dataset": path.stem, "detector": detector}
    for rule, weight in weights.items():
        fused = base_part + weight * evidence
        row[rule] = (average_precision_score(y_test, fused) - base_pr, weight)
    return row


def main() -> None:
    args = grid_parser(__doc__.splitlines()[0]).parse_args()
    paths, rows = fit_grid(fit_cell, args, DETECTORS)

    split = halves(p.stem for p in paths)
    print("| detector | weight from | half | mean Δ AUC-PR | wins | worst Δ AUC-PR | mean weight |")
    print("|---|---|---|---|---|---|---|")
    for detector in DETECTORS:
        for rule in RULES:
            per_dataset = defaultdict(list)
            for r in rows:
                if r["detector"] == detector:
                    per_dataset[r["dataset"]].append(r[rule])
            for half, members in split.items():
                m = np.array([np.mean(per_dataset[name], axis=0) for name in members])
                worst = members[int(np.argmin(m[:, 0]))]
                print(
                    f"| {detector} | {rule} | {half} | {m[:, 0].mean():+.4f} | "
                    f"{(m[:, 0] > TIE).sum()}/{len(m)} | {m[:, 0].min():+.4f} ({worst}) | "
                    f"{m[:, 1].mean():.2f} |"
                )


if __name__ == "__main__":
    main()
