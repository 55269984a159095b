"""The classifier's neighbour-distance column (llmdas.neighbours)."""

import pickle

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from llmdas.neighbours import NeighbourDistance


def _mean_distance(reference, rows, k):
    return NearestNeighbors(n_neighbors=k).fit(reference).kneighbors(rows)[0].mean(axis=1)


def test_training_rows_are_measured_to_the_other_training_rows():
    X = np.random.default_rng(0).normal(size=(61, 3))
    fitted, own = NeighbourDistance.fit(X, np.random.default_rng(0), k=4)
    for i in (0, 17, 60):
        others = np.delete(X, i, axis=0)
        expected = _mean_distance(others, X[i : i + 1], 4)[0] / fitted.median
        assert np.isclose(own[i], np.log(expected))
    # The median of the training rows' distances is the unit: their feature centres on 0.
    assert np.isclose(np.median(own), 0.0)
    # A new row is measured to all training rows, and a training row scored anew as in the fit.
    new = X[:5] + 0.01
    assert np.allclose(fitted.transform(new), np.log(_mean_distance(X, new, 4) / fitted.median))
    assert np.allclose(fitted.transform(X), own)


def test_a_row_that_repeats_a_training_row_is_not_closer_to_the_data_than_that_row():
    # Test rows of discrete data often repeat training rows, and a synthesis program may return
    # near-copies: measured to themselves, they would look closer to the data than any training
    # row does, and the classifier would learn that artefact.
    X = np.random.default_rng(1).normal(size=(100, 4))
    fitted, own = NeighbourDistance.fit(np.vstack([X, X[:20]]), np.random.default_rng(0))
    assert np.allclose(fitted.transform(X[:20]), own[:20])
    assert np.allclose(fitted.transform(X[:20] + 1e-9), own[:20])
    assert np.allclose(own[:20], own[100:])


def test_the_reference_rows_are_distinct_and_at_most_max_reference():
    X = np.random.default_rng(2).normal(size=(300, 4))
    fitted, own = NeighbourDistance.fit(
        np.vstack([X, X]), np.random.default_rng(0), max_reference=100
    )
    assert fitted.index.n_samples_fit_ == 100
    assert len(np.unique(fitted.index._fit_X, axis=0)) == 100
    assert np.allclose(own, fitted.transform(np.vstack([X, X])))
    few, _ = NeighbourDistance.fit(np.vstack([X[:3]] * 5), np.random.default_rng(0))
    assert few.k == 2  # 3 distinct rows: each has 2 others


def test_the_feature_ignores_the_data_scale_and_stays_finite():
    X = np.random.default_rng(3).normal(size=(80, 5))
    _, own = NeighbourDistance.fit(X, np.random.default_rng(0))
    _, scaled = NeighbourDistance.fit(X * 1e-9, np.random.default_rng(0))
    assert np.allclose(own, scaled)
    fitted, _ = NeighbourDistance.fit(X[:2], np.random.default_rng(0))
    assert fitted.k == 1 and np.isfinite(fitted.transform(np.vstack([X, X + 1e6]))).all()
    with pytest.raises(ValueError, match="two distinct rows at least"):
        NeighbourDistance.fit(np.ones((5, 2)), np.random.default_rng(0))


def test_a_row_is_measured_alike_alone_or_among_others_and_knows_itself_far_from_the_origin():
    # The index ranks rows by |x|² − 2x·r + |r|², whose rounding grows with |x|² and with how
    # the matrix product is split among rows: far from the origin, a training row's distance to
    # itself came out as 1e-3 instead of 0, larger than the threshold that recognises it.
    X = np.random.default_rng(4).normal(size=(200, 30)) + 1e4
    fitted, own = NeighbourDistance.fit(X, np.random.default_rng(0))
    _, near_origin = NeighbourDistance.fit(X - 1e4, np.random.default_rng(0))
    assert np.allclose(own, near_origin)
    one_by_one = np.concatenate([fitted.transform(X[i : i + 1]) for i in range(len(X))])
    assert np.array_equal(one_by_one, fitted.transform(X))
    assert np.array_equal(fitted.transform(X), own)


def test_a_feature_saved_before_it_kept_its_reference_rows_scores_as_it_was_fitted():
    X = np.random.default_rng(5).normal(size=(120, 6))
    fitted, _ = NeighbourDistance.fit(X, np.random.default_rng(0))
    older = pickle.loads(pickle.dumps(fitted))
    object.__delattr__(older, "reference")  # as unpickled from a file saved before the field
    assert older.reference is None
    new = X[:10] + 0.3
    index_distance = fitted.index.kneighbors(new)[0][:, :-1].mean(axis=1)
    assert np.allclose(older.transform(new), np.log(index_distance / fitted.median))
