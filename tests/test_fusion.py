"""The score normalisers of llmdas.fusion."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from llmdas.fusion import LogGap, TailNormalizer, chance_auc_spread


def test_tail_evidence_is_strictly_increasing_and_never_ties_distinct_scores():
    rng = np.random.default_rng(0)
    train = np.round(rng.gamma(2.0, size=40), 1)  # few rows, many tied values
    T = TailNormalizer.fit(train)
    grid = np.linspace(train.min() - 3, train.max() + 3, 5001)
    values = T.transform(grid)
    assert np.all(np.diff(values) > 0)
    assert np.isfinite(T.transform(np.array([1e6, -1e6]))).all()


def test_tail_evidence_at_training_scores_is_the_empirical_tail_p_value():
    train = np.array([0.0, 1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0])
    T = TailNormalizer.fit(train)
    n = len(train)
    for t in np.unique(train[train <= T.q90]):
        expected = -np.log(((train >= t).sum() + 1) / (n + 1))
        assert np.isclose(T.transform(np.array([t]))[0], expected)
    # Past the 90th percentile the evidence grows linearly, continuing from the 90th percentile.
    q, beta = T.q90, (train[train > T.q90] - T.q90).mean()
    above = T.transform(np.array([q + beta, q + 2 * beta]))
    assert np.allclose(np.diff(np.r_[T.transform(np.array([q]))[0], above]), 1.0)


def test_tail_evidence_at_the_lowest_training_score_is_positive_zero():
    # -log(1) is -0.0, which a scores file would show as "-0.0".
    train = np.array([0.0, 0.0, 1.0, 2.0])
    assert not np.signbit(TailNormalizer.fit(train).transform(np.zeros(3))).any()


def test_tail_evidence_of_constant_training_scores_still_ranks():
    T = TailNormalizer.fit(np.zeros(10))
    assert np.all(np.diff(T.transform(np.array([-1.0, 0.0, 1.0]))) > 0)


@pytest.mark.parametrize("score", [0.0, 0.3, -2000.0, 5e8])
def test_tail_evidence_past_a_constant_training_score_grows_by_a_tenth_of_its_size(score):
    # One unit of evidence per tenth of the score's size (at least 0.1), not per 1e-12.
    T = TailNormalizer.fit(np.full(10, score))
    step = 0.1 * max(abs(score), 1.0)
    evidence = T.transform(np.array([score - step, score, score + step, score + 2 * step]))
    assert np.allclose(evidence, [-1.0, 0.0, 1.0, 2.0])


def test_log_gap_keeps_the_order_below_the_ceiling_and_maps_the_ceiling_alone_above_it():
    ceiling = 0.5
    # Distinct scores, up to the last float before the ceiling.
    below = np.unique(np.r_[ceiling - np.geomspace(1.0, 1e-15, 200), np.nextafter(ceiling, 0)])
    mapped = LogGap(ceiling)(below)
    assert np.all(np.diff(mapped) > 0) and np.isfinite(mapped).all()
    top = LogGap(ceiling)(np.array([ceiling, ceiling]))
    assert top[0] == top[1] > mapped.max()  # the same value, whatever else is mapped with it
    assert np.array_equal(LogGap(ceiling)(np.array([ceiling])), top[:1])


def test_chance_auc_spread_matches_the_auc_of_random_scores():
    # The spread of the AUC of scores that carry no information, simulated, against the formula.
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(20), np.ones(10)]
    aucs = [roc_auc_score(labels, rng.random(30)) for _ in range(4000)]
    assert abs(np.std(aucs) - chance_auc_spread(20, 10)) < 0.005
    assert chance_auc_spread(2000, 1000) < 0.02
    assert chance_auc_spread(5, 0) == float("inf")
