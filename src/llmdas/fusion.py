"""Score normalisation and fusion of the base detector with the synthetic-anomaly classifier.

The paper fuses ``F(x) = minmax(f_t(x)) + w * minmax(f~(x))`` with ``w`` picked per dataset by
looking at test labels. llmdas's default is one rule for every dataset, fitted on training rows only:

``F(x) = T(f_t(x)) + w * C(f~(x))``

* ``T`` (:class:`TailNormalizer`) turns a base score into evidence: ``-log`` of its tail p-value
  among the training scores, with an exponential tail fitted to the top decile. It keeps growing
  linearly past the training maximum, so rows the detector already rates far outside the training
  range keep their lead — min-max would let a classifier bump them — and it is strictly
  increasing, so it keeps the detector's ranking exactly.
* Before ``T``, a detector whose scores approach a ceiling far from the data has them mapped by
  :class:`LogGap`, ``-log(ceiling - s)``. PyOD's OCSVM (RBF kernel) scores ``rho - sum_i a_i
  K(x, x_i)``: every row far from the support vectors lands just below ``rho``, where equal steps
  of the raw score are no longer comparable evidence, and ``T`` would hand the order of these
  near-ties to the classifier. On the log scale they spread by the log of their kernel mass,
  roughly a squared distance to the nearest support vectors; rows whose mass the detector itself
  rounds to nothing stay tied, and the classifier orders those.
* ``C`` is the same kind of evidence for the classifier: a :class:`TailNormalizer` fitted on the
  classifier's *out-of-sample* probabilities of the training rows (out-of-bag or cross-fitted),
  so that ``C`` is a ``-log`` p-value under the normal rows too. ``T + C`` is then Fisher's
  combination of the two p-values; the classifier's share is weighted by how far it can be
  trusted. A row the classifier rates like most normal rows gets ``C`` near 0 and keeps the
  detector's evidence; one it rates above every training row gets about ``log(n_train)`` and
  more, enough to lift a row the detector misses (digits between the clusters of training
  digits, say) above the detector's borderline rows.
* ``w`` (:func:`separability_weight`) is ``scale * max(0, 2 * AUC - 1)``, where AUC is the
  classifier's out-of-sample separability of synthetic versus normal training rows, and
  ``scale`` is tuned per built-in program (``EnhancedDetector(weight_scale="auto")``; 0.7 for
  any other program). A classifier that cannot tell its own synthetic rows from normal
  ones gets weight 0 and ``F`` is the base detector alone: the safeguard against an unreliable
  synthetic signal.

Every normaliser is fitted on training rows only, so no test label or test score informs the fusion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "EcdfNormalizer",
    "LogGap",
    "MinMaxNormalizer",
    "TailNormalizer",
    "chance_auc_spread",
    "fuse",
    "make_normalizers",
    "separability_weight",
]


@dataclass(frozen=True)
class MinMaxNormalizer:
    """``(s - lo) / (hi - lo)`` with ``lo``/``hi`` taken from the training scores (the paper's)."""

    lo: float
    hi: float

    @classmethod
    def fit(cls, train_scores: np.ndarray) -> MinMaxNormalizer:
        train_scores = np.asarray(train_scores, dtype=np.float64)
        return cls(float(train_scores.min()), float(train_scores.max()))

    def transform(self, scores: np.ndarray) -> np.ndarray:
        span = self.hi - self.lo
        # A constant training score carries no ranking information: map everything to 0 rather
        # than divide by zero.
        if span <= 0 or not np.isfinite(span):
            return np.zeros_like(np.asarray(scores, dtype=np.float64))
        return (np.asarray(scores, dtype=np.float64) - self.lo) / span


@dataclass(frozen=True)
class LogGap:
    """``s -> -log(ceiling - s)``: strictly increasing below ``ceiling``, so it keeps the ranking.

    A score at the ceiling (a gap the detector's own arithmetic rounded to 0) maps to a fixed value
    above every finite one, so that it stays tied with its like whatever else is scored with it.
    """

    ceiling: float

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        gap = self.ceiling - np.asarray(scores, dtype=np.float64)
        # The smallest positive gap is about half a unit in the last place of the ceiling.
        top = 1.0 - np.log(np.spacing(abs(self.ceiling)))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(gap > 0, -np.log(gap), top)


@dataclass(frozen=True)
class TailNormalizer:
    """``-log`` tail p-value of a score among the training scores, exponential beyond the 90th percentile.

    At a training score ``t`` the evidence is ``-log((#{train >= t} + 1) / (n + 1))``, linearly
    interpolated between consecutive distinct training scores. Past the 90th percentile ``q`` it
    grows as ``E(q) + (s - q) / beta``, with ``beta`` the mean excess of the training scores over
    ``q`` (the maximum-likelihood exponential tail; a tenth of the training range when nothing
    exceeds ``q``, a tenth of the score's size, at least 0.1, when every training score is the
    same), and below the training minimum it falls with the same slope. The map is continuous
    and strictly increasing, so it never ties two different base scores: with the classifier's
    weight at 0 the fused ranking is the detector's own. It extrapolates past the training
    maximum without under-flow.
    """

    knots: np.ndarray  # the distinct training scores, increasing
    evidence: np.ndarray  # -log tail p-value at each knot
    q90: float
    at_q90: float  # the interpolated evidence at q90, where the exponential tail starts
    beta: float

    @classmethod
    def fit(cls, train_scores: np.ndarray) -> TailNormalizer:
        ref = np.sort(np.asarray(train_scores, dtype=np.float64))
        n = len(ref)
        knots, first = np.unique(ref, return_index=True)
        # log of the inverse p-value, so that the lowest knot gets 0.0 rather than -0.0 ("-0.0" in a CSV)
        evidence = np.log((n + 1) / (n - first + 1))
        q90 = float(np.quantile(ref, 0.9))
        excess = ref[ref > q90] - q90
        if excess.size and excess.mean() > 0:
            beta = float(excess.mean())
        else:
            # Not a vanishing step for a constant score: a classifier whose normal rows all score
            # 0 would then outweigh the detector on any row it doubts, at 1e12 per unit.
            beta = float((ref[-1] - ref[0]) * 0.1) or 0.1 * max(abs(float(ref[-1])), 1.0)
        return cls(knots, evidence, q90, float(np.interp(q90, knots, evidence)), beta)

    def transform(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        lowest = self.knots[0]
        body = np.interp(scores, self.knots, self.evidence)
        below = self.evidence[0] + (scores - lowest) / self.beta
        tail = self.at_q90 + (scores - self.q90) / self.beta
        return np.where(scores > self.q90, tail, np.where(scores < lowest, below, body))


@dataclass(frozen=True)
class EcdfNormalizer:
    """Rank of a score among the training scores, in ``[0, 1]``, raised to ``power``.

    Past the training maximum ``m`` the rank grows by ``0.1 * (s - m) / (m - q90)``, so the
    ordering of unusually high scores survives while their weight stays bounded in practice.
    ``power > 1`` compresses the low and middle ranks and leaves the top ones near 1.

    The classifier's normaliser (``power=2``) of models fitted before ``C`` became tail evidence
    (:data:`llmdas.enhanced.METHOD_VERSION` 7): such models load and score as they were fitted.
    """

    sorted_train: np.ndarray
    slope: float
    power: float = 1.0

    @classmethod
    def fit(cls, train_scores: np.ndarray, power: float = 1.0) -> EcdfNormalizer:
        ref = np.sort(np.asarray(train_scores, dtype=np.float64))
        tail = max(float(ref[-1] - np.quantile(ref, 0.9)), 1e-12)
        return cls(ref, 0.1 / tail, power)

    def transform(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        ranks = np.searchsorted(self.sorted_train, scores, side="right") / len(self.sorted_train)
        return (ranks + self.slope * np.maximum(scores - self.sorted_train[-1], 0.0)) ** self.power


def make_normalizers(kind: str, base_train: np.ndarray, classifier_train: np.ndarray):
    """Fit the (base, classifier) normaliser pair of a fusion ``kind``: ``"tail"`` or ``"minmax"``."""
    if kind == "tail":
        return TailNormalizer.fit(base_train), TailNormalizer.fit(classifier_train)
    if kind == "minmax":
        return MinMaxNormalizer.fit(base_train), MinMaxNormalizer.fit(classifier_train)
    raise ValueError(f"normalization must be 'tail' or 'minmax', got {kind!r}")


def separability_weight(auc: float, scale: float) -> float:
    """``scale * max(0, 2 * auc - 1)``: zero for a classifier no better than chance."""
    if not np.isfinite(auc):
        return 0.0
    return float(scale * max(0.0, 2.0 * auc - 1.0))


def chance_auc_spread(n_normal: int, n_synthetic: int) -> float:
    """Standard deviation of the ROC-AUC of a classifier with no skill on these class sizes.

    Under the null hypothesis of the Mann-Whitney test the AUC has mean 0.5 and variance
    ``(n0 + n1 + 1) / (12 * n0 * n1)``. On a few dozen rows this spread is large enough for a
    chance-level classifier to earn a sizeable :func:`separability_weight`.
    """
    if n_normal < 1 or n_synthetic < 1:
        return float("inf")
    return float(np.sqrt((n_normal + n_synthetic + 1) / (12.0 * n_normal * n_synthetic)))


def fuse(base: np.ndarray, synthetic: np.ndarray, weight: float) -> np.ndarray:
    """``base + weight * synthetic`` for already normalised score arrays."""
    return np.asarray(base, dtype=np.float64) + weight * np.asarray(synthetic, dtype=np.float64)
