"""The fusion weight from other measures of the classifier's separability than its AUC.

The default weight is ``scale * max(0, 2 * AUC - 1)``, with AUC the out-of-bag separability of
all synthetic rows from the normal ones and ``scale`` the built-in program's. Part of that
separability comes from rows the base detector already flags, where the classifier adds
nothing. This script fits the default ``EnhancedDetector`` once per (dataset, detector, seed)
under the paper split and scores the test rows with the default weight and with the same rule
on two subsets of the synthetic rows, without refitting: ``hard-half``, those the base detector
scores at or below their median, and ``below-q90``, those it scores at or below its training
scores' 90th percentile (``hard-half`` where fewer than 10 are). Two more rules measure how
well the classifier separates all synthetic rows *among its top scores*, where the fusion takes
most from it: ``tail-pauc``, the standardised partial AUC up to a false-positive rate of 0.1
(``roc_auc_score(..., max_fpr=0.1)``), and ``tail-tpr95``, the share of synthetic rows scored
above the normal rows' 95th percentile, rescaled so that chance (0.05) gives 0.5 and all of them
1. Prints, per detector and tuning/validation half (``split_halves.halves``), the mean, wins and
worst Δ AUC-PR over the base and the mean weight.

A smaller AUC gives a smaller weight, so ``--pick-scale`` also scores each subset rule at its
own scale, picked per detector on the tune half as the shipped scales were: the largest
tune-half mean whose worst tune data set stays at or above -0.02 and which wins on at least 14
of the 17 (where no scale wins that often, the largest mean above the worst-case bar).

    python benchmarks/hard_row_weight.py --data ../shared/datasets [--seeds 42,0] [--jobs 2]
    python benchmarks/hard_row_weight.py --seeds 42,0,100,17,21 --pick-scale

About 3 minutes on 2 cores with two seeds, 7 with five. Research tool: nothing here changes the
library.
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
    pick_on_tune_half,
)

from llmdas.benchmark.summary import TIE
from llmdas.fusion import separability_weight

DETECTORS = ("PCA", "IForest", "OCSVM", "ECOD")
RULES = ("default", "hard-half", "below-q90", "tail-pauc", "tail-tpr95")
SCALES = (0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)


def fit_cell(path: Path, detector: str, seed: int) -> dict:
    from llmdas import EnhancedDetector
    from llmdas.data import load_dataset, paper_split
    from llmdas.detectors import score_detector

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
    aucs = {"default": det.separability_}
    for rule, subset in subsets.items():
        labels = np.r_[np.zeros(len(normal)), np.ones(subset.sum())]
        aucs[rule] = roc_auc_score(labels, np.r_[normal, synthetic[subset]])
    labels = np.r_[np.zeros(len(normal)), np.ones(n_synthetic)]
    aucs["tail-pauc"] = roc_auc_score(labels, oob, max_fpr=0.1)
    # On the AUC's scale, so that the weight is scale * max(0, 2 * value - 1) as for the others.
    above = (synthetic > np.quantile(normal, 0.95)).mean()
    aucs["tail-tpr95"] = 0.5 + 0.5 * (above - 0.05) / 0.95
    base_pr = average_precision_score(y_test, det.base_decision_function(X_test))
    return {
        "dataset": path.stem,
        "detector": detector,
        "aucs": aucs,
        "scale": det.weight_scale_,
        "y": y_test,
        "base_part": base_part,
        "evidence": evidence,
        "base_pr": base_pr,
    }


def per_dataset_means(rows: list[dict], detector: str, rule: str, scale=None) -> dict:
    """``{dataset: (mean Δ AUC-PR, mean weight)}`` over the seeds of ``rule``'s weight at
    ``scale`` (None: the library's scale)."""
    per_dataset = defaultdict(list)
    for r in (r for r in rows if r["detector"] == detector):
        weight = separability_weight(r["aucs"][rule], r["scale"] if scale is None else scale)
        fused = r["base_part"] + weight * r["evidence"]
        delta = average_precision_score(r["y"], fused) - r["base_pr"]
        per_dataset[r["dataset"]].append((delta, weight))
    return {name: np.mean(v, axis=0) for name, v in per_dataset.items()}


def pick_scale(rows: list[dict], detector: str, rule: str, tune: list[str]) -> float:
    """The scale picked on the tune half by the shipped scales' rule (module docstring)."""
    candidates = {}
    for scale in SCALES:
        means = per_dataset_means(rows, detector, rule, scale)
        candidates[scale] = [means[name][0] for name in tune]
    return pick_on_tune_half(candidates)


def main() -> None:
    parser = grid_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--pick-scale", action="store_true", help="also score each rule at its own tuned scale"
    )
    args = parser.parse_args()
    paths, rows = fit_grid(fit_cell, args, DETECTORS)

    split = halves(p.stem for p in paths)
    print(
        "| detector | weight from | scale | half | mean Δ AUC-PR | wins | worst Δ AUC-PR | weight |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for detector in DETECTORS:
        for rule in RULES:
            scales = [None]
            if args.pick_scale and rule != "default":
                scales.append(pick_scale(rows, detector, rule, split["tune"]))
            for scale in scales:
                means = per_dataset_means(rows, detector, rule, scale)
                label = "library's" if scale is None else f"{scale} (tuned)"
                for half, members in split.items():
                    m = np.array([means[name] for name in members])
                    worst = members[int(np.argmin(m[:, 0]))]
                    print(
                        f"| {detector} | {rule} | {label} | {half} | {m[:, 0].mean():+.4f} | "
                        f"{(m[:, 0] > TIE).sum()}/{len(m)} | {m[:, 0].min():+.4f} ({worst}) | "
                        f"{m[:, 1].mean():.2f} |"
                    )


if __name__ == "__main__":
    main()
