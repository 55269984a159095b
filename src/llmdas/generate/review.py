"""Reviewing a candidate program's output on the probe data: valid, hard, novel."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class ReviewScores:
    """Measures of one candidate's output on the probe data (see :func:`review_output`)."""

    n_rows: int = 0
    valid: bool = False
    unique_fraction: float = 0.0
    hardness: float = 0.0
    mean_score_percentile: float = 0.0
    novelty: float = 0.0
    copy_fraction: float = 0.0
    quality: float = 0.0
    n_score_calls: int = 0
    elapsed_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    verdict: str = ""
    critique: str = ""

    @property
    def ok(self) -> bool:
        return self.valid and not self.problems

    def summary(self) -> str:
        return (
            f"hardness {self.hardness:.2f} (share of rows below the 95th percentile of training "
            f"scores), mean score percentile {self.mean_score_percentile:.1f}, novelty "
            f"{self.novelty:.2f} (median distance to the nearest training row / typical "
            f"nearest-neighbour distance), copies {self.copy_fraction:.0%}, unique rows "
            f"{self.unique_fraction:.0%}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _standardise(X_train: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[~(std > 1e-12)] = 1.0
    return [(a - mean) / std for a in (X_train, *arrays)]


def _min_distances(A: np.ndarray, B: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
    out = np.empty(len(A))
    for start in range(0, len(A), 512):
        chunk = A[start : start + 512]
        d2 = (chunk**2).sum(1)[:, None] + (B**2).sum(1)[None, :] - 2.0 * chunk @ B.T
        np.maximum(d2, 0.0, out=d2)
        if exclude_self:
            idx = np.arange(start, start + len(chunk))
            d2[np.arange(len(chunk)), idx] = np.inf
        out[start : start + len(chunk)] = np.sqrt(d2.min(axis=1))
    return out


def review_output(
    X_syn: np.ndarray,
    X_train: np.ndarray,
    train_scores: np.ndarray,
    syn_scores: np.ndarray,
    *,
    n_samples: int,
    max_copy_fraction: float = 0.5,
    min_novelty: float = 0.05,
    min_unique_fraction: float = 0.1,
) -> ReviewScores:
    """Validity, hardness and novelty of synthetic rows against the training rows.

    * **validity**: finite, shape ``(n_samples, d)``, not all identical (unique-row share).
    * **hardness**: share of synthetic rows scored below the 95th percentile of the training
      scores (the detector still takes them for normal); also the mean percentile of their
      scores among the training scores.
    * **novelty**: median over synthetic rows of the distance to the nearest training row,
      divided by the median nearest-neighbour distance among training rows (standardised
      features). A row closer than 1e-6 of that scale is a copy.
    * **quality** = hardness x min(1, novelty): the ranking key.
    """
    X_syn = np.asarray(X_syn, dtype=float)
    scores = ReviewScores(n_rows=int(X_syn.shape[0]) if X_syn.ndim else 0)
    d = X_train.shape[1]
    if X_syn.ndim != 2 or X_syn.shape != (n_samples, d):
        scores.problems.append(f"output has shape {X_syn.shape}, expected ({n_samples}, {d})")
        return scores
    if not np.isfinite(X_syn).all():
        scores.problems.append("output holds NaN or infinite values")
        return scores
    n_unique = len(np.unique(np.round(X_syn, 12), axis=0))
    scores.unique_fraction = n_unique / len(X_syn)
    scores.valid = not (len(X_syn) > 1 and n_unique == 1)
    if not scores.valid:
        scores.problems.append("all generated rows are identical")
    elif scores.unique_fraction < min_unique_fraction:
        scores.problems.append(f"only {n_unique} distinct rows among {len(X_syn)}")

    train_scores = np.asarray(train_scores, dtype=float)
    syn_scores = np.asarray(syn_scores, dtype=float)
    threshold = np.percentile(train_scores, 95)
    scores.hardness = float(np.mean(syn_scores < threshold))
    ranks = np.searchsorted(np.sort(train_scores), syn_scores, side="right") / len(train_scores)
    scores.mean_score_percentile = float(100.0 * ranks.mean())

    Z_train, Z_syn = _standardise(X_train, X_syn)
    typical = float(np.median(_min_distances(Z_train, Z_train, exclude_self=True)))
    if not typical > 0:
        typical = 1.0
    dist = _min_distances(Z_syn, Z_train)
    scores.copy_fraction = float(np.mean(dist <= 1e-6 * typical))
    scores.novelty = float(np.median(dist) / typical)
    if scores.copy_fraction > max_copy_fraction:
        scores.problems.append(
            f"{scores.copy_fraction:.0%} of the generated rows are copies of training rows"
        )
    elif scores.novelty < min_novelty:
        scores.problems.append(
            f"generated rows are near-copies of training rows (novelty {scores.novelty:.3f})"
        )
    scores.quality = float(scores.hardness * min(1.0, scores.novelty))
    return scores


_VERDICT_RE = re.compile(r"VERDICT\s*:\s*\**\s*(accept|revise)", re.IGNORECASE)


def parse_verdict(text: str) -> str:
    found = _VERDICT_RE.findall(text)
    return found[-1].lower() if found else "unknown"
