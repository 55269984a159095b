"""snap_to_support: synthetic values of discrete columns go back onto the column's support."""

import numpy as np

from llmdas.support import snap_to_support


def test_each_kind_of_column_is_snapped_as_documented():
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [
            rng.integers(0, 2, 200),  # binary
            rng.choice([-1.5, 0.25, 3.0], 200),  # three categorical codes
            rng.integers(0, 100, 200),  # integer counts, many values
            rng.normal(size=200),  # continuous
            np.full(200, 7.0),  # constant
        ]
    ).astype(float)
    rows = np.array(
        [
            [0.37, -9.0, 4.6, 0.123, 6.0],
            [0.5, 1.7, -3.2, -2.5, 8.0],
            [2.4, 0.9, 140.5, 9.0, 7.0],
        ]
    )
    snapped = snap_to_support(rows, X)
    np.testing.assert_array_equal(snapped[:, 0], [0.0, 0.0, 1.0])  # a tie goes to the lower value
    np.testing.assert_array_equal(snapped[:, 1], [-1.5, 3.0, 0.25])
    np.testing.assert_array_equal(snapped[:, 2], [5.0, -3.0, 140.0])  # may leave the range
    np.testing.assert_array_equal(snapped[:, 3], rows[:, 3])  # continuous: untouched
    np.testing.assert_array_equal(snapped[:, 4], [7.0, 7.0, 7.0])
    assert rows[0, 0] == 0.37  # the input is not modified


def test_many_distinct_non_integer_values_are_left_alone():
    X = np.linspace(0, 1, 11)[:, None] + 0.5  # 11 distinct values, not integers
    rows = np.array([[0.123], [4.56]])
    np.testing.assert_array_equal(snap_to_support(rows, X), rows)
    assert snap_to_support(rows, X, max_categories=11)[:, 0].tolist() == [0.5, 1.5]
