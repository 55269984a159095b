"""Compare fusion-weight rules offline, on the issue-8 tuning/validation halves.

Fits the default ``EnhancedDetector`` once per (dataset, detector, seed) under the paper split,
keeps the normalised test scores ``T(f_t)`` and ``U(f~)`` and two training-only signals — the
classifier's out-of-bag separability of synthetic vs normal rows (``separability_``) and the base
detector's own separability of the same rows (ROC-AUC of its scores of the synthetic rows against
its training scores) — and then scores ``F = T + w * V(U)`` for each rule below without
refitting. For reference it also prints what a per-dataset choice of rule made *with test labels*
would reach (the paper's protocol), which bounds every fixed rule on these two scores.
Halves as in ``split_halves.py``: datasets sorted by name, even positions tune, odd validate.

    python benchmarks/fusion_rules.py --data ../shared/datasets --cache fusion_cells.pkl

The first run fits 34 × 4 × 5 detectors (≈ 8 minutes on 2 cores); later runs read ``--cache``.
Research tool: the library's fusion is ``llmdas.fusion``; nothing here changes it.
"""

from __future__ import annotations

import argparse
import pickle
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.metrics import average_precision_score, roc_auc_score

DETECTORS = ("PCA", "IForest", "OCSVM", "ECOD")
SEEDS = (42, 0, 100, 17, 21)


def collect(path: Path, detector: str, seed: int) -> dict:
    """One fitted cell: the normalised test scores and the training-only signals."""
    from llmdas import EnhancedDetector
    from llmdas.data import load_dataset, paper_split
    from llmdas.detectors import score_detector

    warnings.filterwarnings("ignore")
    X_train, X_test, y_test = paper_split(*load_dataset(path))
    det = EnhancedDetector(detector, random_state=seed).fit(X_train)
    base_test = score_detector(det.detector_, X_test, reference=det.base_scores_)
    base_synthetic = score_detector(det.detector_, det.synthetic_, reference=det.base_scores_)
    labels = np.r_[np.zeros(len(X_train)), np.ones(len(det.synthetic_))]
    return {
        "dataset": path.stem,
        "detector": detector,
        "y": y_test,
        "T": det._base_norm.transform(base_test),
        "U": det._clf_norm.transform(det.classifier_.predict_proba(X_test)[:, 1]),
        "clf_sep": det.separability_,
        "base_sep": roc_auc_score(labels, np.r_[det.base_scores_, base_synthetic]),
    }


def _gain(auc: float) -> float:
    return max(0.0, 2.0 * auc - 1.0)


def _tail(u: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(1.0 - u, 1e-3, 1.0))


#: name -> (transform V of the classifier's rank score, weight from the cell's training signals)
RULES = {
    "default: U, w = 3·gain(clf)": (lambda u: u, lambda c: 3.0 * _gain(c["clf_sep"])),
    "U, w = 3·gain(clf)·(1 − gain(base))": (
        lambda u: u,
        lambda c: 3.0 * _gain(c["clf_sep"]) * (1.0 - _gain(c["base_sep"])),
    ),
    "U², w = 3·gain(clf)": (lambda u: u**2, lambda c: 3.0 * _gain(c["clf_sep"])),
    "−log(1−U), w = 1·gain(clf)": (_tail, lambda c: _gain(c["clf_sep"])),
    "−log(1−U), w = 1·gain(clf)·(1 − gain(base))": (
        _tail,
        lambda c: _gain(c["clf_sep"]) * (1.0 - _gain(c["base_sep"])),
    ),
}


def evaluate(cells: list[dict], transform, weight) -> list[str]:
    names = sorted({c["dataset"] for c in cells})
    halves = {"tune": names[0::2], "validate": names[1::2], "all": names}
    lines = []
    for detector in DETECTORS:
        per_dataset = defaultdict(list)
        for c in (c for c in cells if c["detector"] == detector):
            fused = c["T"] + weight(c) * transform(c["U"])
            per_dataset[c["dataset"]].append(average_precision_score(c["y"], fused) - c["base_ap"])
        parts = [detector]
        for half, members in halves.items():
            delta = np.array([np.mean(per_dataset[d]) for d in members])
            parts.append(
                f"{half} {delta.mean():+.4f} {(delta > 0).sum()}/{len(delta)} {delta.min():+.4f}"
            )
        lines.append(" | ".join(parts))
    return lines


#: Weights the per-dataset oracle may pick from (with either transform of ``U``).
ORACLE_WEIGHTS = (0, 0.1, 0.25, 0.5, 1, 2, 3, 4, 6, 10, 30, 1000)


def oracle(cells: list[dict]) -> list[str]:
    """Reference only, uses test labels: the best (transform, weight) per dataset, as the paper's
    per-dataset choice did. Bounds what any fixed rule on these two scores can reach."""
    lines = []
    for detector in DETECTORS:
        per_dataset = defaultdict(lambda: defaultdict(list))
        for c in (c for c in cells if c["detector"] == detector):
            for name, transform in (("U", lambda u: u), ("tail", _tail)):
                for w in ORACLE_WEIGHTS:
                    fused = c["T"] + w * transform(c["U"])
                    per_dataset[c["dataset"]][(name, w)].append(
                        average_precision_score(c["y"], fused) - c["base_ap"]
                    )
        best = [max(np.mean(v) for v in choices.values()) for choices in per_dataset.values()]
        lines.append(f"{detector} | all {np.mean(best):+.4f} (per-dataset oracle, test labels)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets")
    parser.add_argument("--cache", default="fusion_cells.pkl")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    cache = Path(args.cache)
    if cache.is_file():
        cells = pickle.loads(cache.read_bytes())
    else:
        paths = sorted(Path(args.data).glob("*.npz"), key=lambda p: -p.stat().st_size)
        jobs = [(p, det, s) for p in paths for det in DETECTORS for s in SEEDS]
        cells = Parallel(n_jobs=args.jobs, verbose=5)(delayed(collect)(*j) for j in jobs)
        cache.write_bytes(pickle.dumps(cells))
    for c in cells:  # every rule is compared with the base detector alone
        c["base_ap"] = average_precision_score(c["y"], c["T"])
    print("Mean AUC-PR over datasets: base detector alone, classifier alone")
    for detector in DETECTORS:
        alone = defaultdict(list)
        for c in (c for c in cells if c["detector"] == detector):
            alone[c["dataset"]].append((c["base_ap"], average_precision_score(c["y"], c["U"])))
        base, clf = np.mean([np.mean(v, axis=0) for v in alone.values()], axis=0)
        print(f"{detector} | base {base:.4f} | classifier {clf:.4f}")
    print("Δ AUC-PR per half: mean, wins, worst (means over seeds per dataset)")
    for name, (transform, weight) in RULES.items():
        print(f"== {name}")
        print("\n".join(evaluate(cells, transform, weight)))
    print("== oracle: best rule per dataset, chosen with test labels (reference only)")
    print("\n".join(oracle(cells)))


if __name__ == "__main__":
    main()
