"""The classifier's evidence calibrated on later rows: contiguous blocks instead of out-of-bag.

Under the paper split the training rows are the first half of the inliers in file order, and
on some data sets (cardio, Cardiotocography) the second half has drifted: the classifier, whose
boundary sits just outside the training rows, rates those normal test rows as more anomalous
than its out-of-bag scores of the training rows led ``C`` and the weight to expect. This script
asks whether calibrating on rows *later in the file* cures that: the default extra-trees (100
trees, bootstrap samples of at most 1000 rows) is grown as 4 sub-forests of 25 trees, each
without one contiguous block of the normal rows (in file order) and a random quarter of the
synthetic rows; a training row's out-of-sample score is that of the sub-forest that did not see
its block, and a test row is scored by all 100 trees. ``C``'s normaliser and the separability
behind the weight then come from those scores. The control, ``random-blocks``, is the same with
the normal rows put in blocks at random, so that only the file order differs.

Each (data set, detector, seed) is fitted once per variant (PCA, IForest and ECOD by default:
OCSVM's fits take as long as the other three together), and ``F = T + w · C`` is scored
offline at several scales of ``w = scale · max(0, 2 · separability − 1)``:

    python benchmarks/blocked_calibration.py --data ../shared/datasets [--cache blocked.pkl]

Δ AUC-PR over the base detector, tune / validate half (``split_halves.py``), wins and the worst
data set over the 34, and the paired one-tailed t-test's p. Research tool: nothing here changes
the library.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import ttest_1samp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.metrics import average_precision_score
from split_halves import (  # this folder is on sys.path when the script runs
    cached_grid,
    grid_parser,
    halves,
)

from llmdas.benchmark.summary import TIE
from llmdas.enhanced import _DEFAULT_TREE_ROWS, _DEFAULT_TREES
from llmdas.fusion import separability_weight

VARIANTS = ("out-of-bag", "file-order-blocks", "random-blocks")
SCALES = (0.6, 1.0, 1.5, 2.0)


class BlockForest(ClassifierMixin, BaseEstimator):
    """Extra-trees grown as ``n_blocks`` sub-forests, each without one block of the normal rows.

    ``oob_decision_function_`` holds each training row's score by the sub-forest that did not
    see it, where ``EnhancedDetector`` looks for out-of-bag scores.
    """

    def __init__(self, n_blocks: int = 4, file_order: bool = True, random_state: int = 0):
        self.n_blocks = n_blocks
        self.file_order = file_order
        self.random_state = random_state

    def fit(self, data: np.ndarray, labels: np.ndarray) -> BlockForest:
        rng = np.random.default_rng(self.random_state)
        normal, synthetic = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
        position = np.arange(len(normal)) if self.file_order else rng.permutation(len(normal))
        block = np.empty(len(labels), dtype=int)
        block[normal[position]] = np.arange(len(normal)) * self.n_blocks // len(normal)
        block[synthetic] = rng.integers(self.n_blocks, size=len(synthetic))
        held_out = np.zeros(len(labels))
        self.forests_ = []
        for b in range(self.n_blocks):
            seen = block != b
            n_seen = int(seen.sum())
            forest = ExtraTreesClassifier(
                n_estimators=_DEFAULT_TREES // self.n_blocks,
                bootstrap=True,
                max_samples=_DEFAULT_TREE_ROWS / n_seen if n_seen > _DEFAULT_TREE_ROWS else None,
                random_state=self.random_state * 31 + b,
            ).fit(data[seen], labels[seen])
            held_out[~seen] = forest.predict_proba(data[~seen])[:, 1]
            self.forests_.append(forest)
        self.oob_decision_function_ = np.c_[1 - held_out, held_out]
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.mean([forest.predict_proba(X) for forest in self.forests_], axis=0)


def collect(path: Path, detector: str, seed: int) -> list[dict]:
    """One fit per variant: the fused score's two evidences on the test rows, and the weight's AUC."""
    from llmdas import EnhancedDetector
    from llmdas.data import load_dataset, paper_split
    from llmdas.detectors import score_detector

    warnings.filterwarnings("ignore")
    X_train, X_test, y_test = paper_split(*load_dataset(path))
    cells = []
    for variant in VARIANTS:
        classifier = (
            None
            if variant == "out-of-bag"
            else BlockForest(file_order=variant == "file-order-blocks", random_state=seed)
        )
        det = EnhancedDetector(detector, classifier=classifier, random_state=seed).fit(X_train)
        base_test = score_detector(det.detector_, X_test, reference=det.base_scores_)
        cells.append(
            {
                "dataset": path.stem,
                "detector": detector,
                "variant": variant,
                "y": y_test,
                "T": det._base_evidence(base_test),
                "C": det._clf_norm.transform(det._classifier_scores(X_test)),
                "separability": det.separability_,
            }
        )
    return cells


def report(cells: list[dict]) -> list[str]:
    names = sorted({c["dataset"] for c in cells}, key=str.lower)
    tune = np.isin(names, halves(set(names))["tune"])
    base = {id(c): average_precision_score(c["y"], c["T"]) for c in cells}
    lines = []
    for detector in sorted({c["detector"] for c in cells}):
        for variant in VARIANTS:
            for scale in SCALES:
                per_dataset = defaultdict(list)
                for c in cells:
                    if c["detector"] == detector and c["variant"] == variant:
                        w = separability_weight(c["separability"], scale)
                        fused = average_precision_score(c["y"], c["T"] + w * c["C"])
                        per_dataset[c["dataset"]].append(fused - base[id(c)])
                d = np.array([np.mean(per_dataset[n]) for n in names])
                p = ttest_1samp(d, 0.0, alternative="greater").pvalue
                lines.append(
                    f"{detector} | {variant} | scale {scale} | tune {d[tune].mean():+.4f} / "
                    f"validate {d[~tune].mean():+.4f} | all {d.mean():+.4f}, "
                    f"{int((d > TIE).sum())}/{len(d)} wins, worst {d.min():+.4f} "
                    f"({names[int(d.argmin())]}), p {p:.4f}"
                )
    return lines


def main() -> None:
    parser = grid_parser(__doc__.splitlines()[0], seeds="42,0,100,17,21")
    parser.add_argument("--detectors", default="PCA,IForest,ECOD")
    parser.add_argument("--cache", default="blocked_calibration.pkl")
    args = parser.parse_args()
    per_cell = cached_grid(collect, args, args.detectors.split(","), Path(args.cache))
    cells = [c for variants in per_cell for c in variants]
    print("Δ AUC-PR of F = T + scale · gain · C over the base detector (means over the seeds)")
    print("\n".join(report(cells)))


if __name__ == "__main__":
    main()
