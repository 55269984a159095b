import numpy as np
import pytest
from scipy import sparse

from llmdas._validation import check_feature_names, check_X, feature_names


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.array([[1.0, np.nan], [2.0, 3.0]]), "1 NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), "1 infinite"),
        (
            np.array([1.0, 2.0, 3.0]),
            r"must be 2-D.*reshape\(-1, 1\) makes one column.*\(1, -1\) one row",
        ),
        (np.zeros((2, 2, 2)), "must be 2-D"),
        (np.array([["a", "b"], ["c", "d"]]), "must be numeric"),
        (np.zeros((3, 0)), "no columns"),
        (np.array([[1 + 2j, 3]]), "complex"),
        (sparse.csr_matrix(np.eye(3)), r"sparse matrix.*X\.toarray\(\)"),
        (np.ma.masked_greater(np.eye(3), 0.5), "masked array with 3 masked value"),
        # As floats these would be days since 1970 (NaT: -9.2e18), without a word.
        (np.array([["2020-01-01", "NaT"]], dtype="datetime64[D]"), r"dates or durations \(dat"),
        (np.arange(4).astype("timedelta64[s]").reshape(2, 2), "dates or durations"),
    ],
)
def test_bad_input_names_the_problem(X, message):
    with pytest.raises(ValueError, match=message):
        check_X(X)


def test_missing_and_infinite_values_are_located_by_column_and_first_cell():
    import pandas as pd

    X = np.zeros((100, 8))
    X[60, 6], X[5, 1], X[7, 1] = np.inf, np.nan, np.nan
    located = r"2 NaN and 1 infinite value\(s\) in columns {}; the first is X\[5, 1\]; impute"
    with pytest.raises(ValueError, match=located.format(r"1, 6 \(counting from 0\)")):
        check_X(X)
    with pytest.raises(ValueError, match=located.format("'b', 'g'")):
        check_X(pd.DataFrame(X, columns=list("abcdefgh")))
    # A name that is not an argument (a file's chunk, say) gets the columns only, and at most five.
    with pytest.raises(
        ValueError, match=r"in columns 0, 1, 2, 3, 4 and 3 more \(counting from 0\); impute"
    ):
        check_X(np.full((3, 8), np.nan), name="X of f.csv (rows 1-3)")


def test_a_masked_array_without_masked_values_is_its_numbers():
    X = np.ma.masked_array(np.eye(3), mask=False)
    assert np.array_equal(check_X(X), np.eye(3))


def test_too_few_rows_and_feature_mismatch():
    with pytest.raises(ValueError, match=r"1 row\(s\), fewer than the 2 needed"):
        check_X(np.zeros((1, 3)), min_rows=2)
    with pytest.raises(ValueError, match="3 features, but the detector was fitted with 4"):
        check_X(np.zeros((5, 3)), n_features=4)


def test_identical_rows_are_rejected_only_when_variation_is_required():
    same = np.tile([[1.0, 2.0, 3.0]], (50, 1))
    with pytest.raises(ValueError, match="every column of X is constant.*all 50 rows"):
        check_X(same, require_variation=True)
    assert check_X(same).shape == (50, 3)  # scoring identical rows is fine
    one_varies = same.copy()
    one_varies[7, 2] = 4.0
    assert check_X(one_varies, require_variation=True).shape == (50, 3)


def test_accepts_lists_ints_and_bools():
    out = check_X([[1, 2], [3, 4]])
    assert out.dtype == np.float64 and out.flags.c_contiguous
    assert check_X(np.array([[True, False]])).tolist() == [[1.0, 0.0]]


def test_data_frames_name_the_columns_that_hold_no_numbers():
    import pandas as pd

    numbers = np.arange(4.0)
    nullable = pd.DataFrame({"a": numbers, "n": pd.array([1, None, 3, 4], dtype="Int64")})
    with pytest.raises(ValueError, match="X contains 1 NaN value"):  # a missing value, said so
        check_X(nullable)
    flags = pd.array([True, False, True, False], dtype="boolean")
    out = check_X(pd.DataFrame({"a": numbers, "n": nullable["n"].fillna(0), "f": flags}))
    assert out.tolist() == [[0, 1, 1], [1, 0, 0], [2, 3, 1], [3, 4, 0]]
    mixed = pd.DataFrame(
        {"a": numbers, "c": pd.Categorical(list("xyxy")), "t": pd.date_range("2026", periods=4)}
    )
    with pytest.raises(
        ValueError, match=r"columns that do not hold numbers: 'c' \(category\), 't'"
    ):
        check_X(mixed)


def test_feature_names_come_from_frames_with_string_columns():
    pd = pytest.importorskip("pandas")
    assert feature_names(pd.DataFrame(np.zeros((2, 2)), columns=["a", "b"])) == ["a", "b"]
    assert feature_names(pd.DataFrame(np.zeros((2, 2)))) is None  # default integer columns
    assert feature_names(np.zeros((2, 2))) is None
    twice = pd.DataFrame(np.zeros((2, 3)), columns=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"X names two columns 'a' \(columns 0 and 2\)"):
        feature_names(twice)  # as scikit-learn refuses such a frame


def test_check_feature_names_names_what_differs():
    check_feature_names(["a", "b"], ["a", "b"])
    check_feature_names(None, ["a", "b"])  # nothing to compare against
    check_feature_names(np.array(["a", "b"], dtype=object), None)
    with pytest.raises(ValueError, match="different order; put them in the order of fit: 'a', 'b'"):
        check_feature_names(["a", "b"], ["b", "a"])
    with pytest.raises(ValueError, match="missing 'b'; not seen at fit 'label'"):
        check_feature_names(["a", "b"], ["a", "label"])
    with pytest.raises(ValueError, match="3 columns for the 2 fitted ones"):
        check_feature_names(["a", "b"], ["a", "b", "a"])
    with pytest.raises(ValueError, match=r"missing 'c0', .*'c5', \.\.\. \(10 in all\)"):
        check_feature_names([f"c{i}" for i in range(10)], ["x"])
