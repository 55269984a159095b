import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from llmdas.data import (
    dataset_file,
    feature_columns,
    iter_features,
    list_datasets,
    load_dataset,
    load_demo,
    load_features,
    paper_split,
    random_split,
    required_data_dir,
)


def test_demo_set_is_odds_style():
    X, y = load_demo()
    assert X.shape == (397, 30)
    assert 0.09 < y.mean() < 0.11
    X2, y2 = load_demo()
    assert np.array_equal(X, X2) and np.array_equal(y, y2)


def test_paper_split_takes_first_half_of_inliers_in_file_order():
    X = np.arange(20, dtype=float).reshape(10, 2)
    y = np.array([0, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    X_train, X_test, y_test = paper_split(X, y)
    inliers = np.flatnonzero(y == 0)
    assert np.array_equal(X_train, X[inliers[:4]])
    assert len(X_test) == 6 and y_test.sum() == 2
    assert np.array_equal(X_test[:, 0], np.sort(X_test[:, 0]))  # file order kept


def test_random_split_depends_on_seed_only_and_leaves_two_normal_rows_a_side():
    X, y = load_demo()
    a, b, c = random_split(X, y, seed=1), random_split(X, y, seed=1), random_split(X, y, seed=2)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])
    assert len(a[0]) + len(a[1]) == len(X)
    # A fraction that leaves one side of the normal rows almost empty is refused, not obeyed.
    y5 = np.r_[np.zeros(5), np.ones(5)]
    X5 = np.arange(20, dtype=float).reshape(10, 2)
    for fraction, counts in [
        (0.1, "trains on 0 and tests on 5"),
        (0.9, "trains on 4 and tests on 1"),
    ]:
        with pytest.raises(ValueError, match=f"of the 5 normal rows {counts}; each needs at least"):
            random_split(X5, y5, train_fraction=fraction)
    assert len(random_split(X5, y5, train_fraction=0.5)[0]) == 2
    with pytest.raises(ValueError, match=r"train_fraction must be in \(0, 1\), got 1"):
        random_split(X5, y5, train_fraction=1)


@pytest.mark.parametrize("split", [paper_split, random_split])
def test_a_split_needs_labels_0_and_1_and_an_anomaly_to_evaluate(split):
    X = np.arange(20, dtype=float).reshape(10, 2)
    with pytest.raises(ValueError, match="y holds no anomaly .*AUC-PR and AUC-ROC are undefined"):
        split(X, np.zeros(10))
    with pytest.raises(ValueError, match=r"y must hold 0 \(normal\) and 1 \(anomaly\) only"):
        split(X, np.r_[np.zeros(8), 2, 2])  # 2 would count as an anomaly and fail the metrics


def test_formats_round_trip(tmp_path):
    X, y = load_demo()
    np.savez(tmp_path / "d.npz", X=X, y=y)

    savemat(tmp_path / "d.mat", {"X": X, "y": y.reshape(-1, 1)})
    header = ",".join([f"f{i}" for i in range(X.shape[1])] + ["label"])
    np.savetxt(
        tmp_path / "d.csv", np.column_stack([X, y]), delimiter=",", header=header, comments=""
    )
    for name in ("d.npz", "d.mat", "d.csv"):
        X2, y2 = load_dataset(tmp_path / name)
        assert np.allclose(X, X2) and np.array_equal(y, y2), name
    X3, _ = load_dataset(tmp_path / "d.csv", label_column="label")
    assert np.allclose(X, X3)


def _save_mat73(path, **variables):
    """What MATLAB's ``save -v7.3`` writes: an HDF5 file behind a 512-byte MAT-file header,
    each matrix stored column-major (so HDF5 sees it transposed)."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w", userblock_size=512) as file:
        for name, value in variables.items():
            if isinstance(value, dict):  # a struct
                group = file.create_group(name)
                for key, item in value.items():
                    group[key] = item
            else:
                file[name] = np.asarray(value).T
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Dec  3 2026 HDF5 schema 1.00 ."
    with open(path, "r+b") as file:
        file.write(text.ljust(116) + b"\0" * 8 + b"\x00\x02IM")


def test_matlab_v73_files_are_read_like_v7_ones(tmp_path):
    X, y = load_demo()
    _save_mat73(tmp_path / "d73.mat", X=X, y=y.reshape(-1, 1).astype(np.uint8))
    savemat(tmp_path / "d7.mat", {"X": X, "y": y.reshape(-1, 1)})
    X73, y73 = load_dataset(tmp_path / "d73.mat")
    X7, y7 = load_dataset(tmp_path / "d7.mat")
    assert X73.shape == X.shape and np.array_equal(X73, X7) and np.array_equal(y73, y7)

    _save_mat73(tmp_path / "nolabels.mat", data=X, y=y.reshape(-1, 1))
    with pytest.raises(ValueError, match=r"lacks variables.*it holds data, y\)"):
        load_dataset(tmp_path / "nolabels.mat")
    _save_mat73(tmp_path / "struct.mat", X={"values": X}, y=y.reshape(-1, 1))
    with pytest.raises(ValueError, match="variable 'X' is not a dense real matrix"):
        load_dataset(tmp_path / "struct.mat")


def test_a_matlab_v73_file_without_h5py_says_what_to_install(tmp_path, monkeypatch):
    X, y = load_demo()
    _save_mat73(tmp_path / "d73.mat", X=X, y=y.reshape(-1, 1))
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    with pytest.raises(ImportError, match="MATLAB v7.3 .* needs h5py: pip install h5py"):
        load_dataset(tmp_path / "d73.mat")


def test_names_resolve_in_llmdas_data(tmp_path, monkeypatch):
    X, y = load_demo()
    np.savez(tmp_path / "mine.npz", X=X, y=y)
    monkeypatch.setenv("LLMDAS_DATA", str(tmp_path))
    assert load_dataset("mine")[0].shape == X.shape
    assert load_dataset("mine.npz")[0].shape == X.shape
    with pytest.raises(FileNotFoundError, match="'other' not found") as error:
        load_dataset("other")
    assert "did you mean" not in str(error.value)  # nothing like it
    # A near miss names the dataset meant; a name differing only in case comes first.
    np.savez(tmp_path / "Mine2.npz", X=X, y=y)
    with pytest.raises(FileNotFoundError, match="'MINE' not found.*did you mean 'mine'\\?"):
        load_dataset("MINE")
    with pytest.raises(FileNotFoundError, match="did you mean 'mine' or 'Mine2'\\?"):
        load_dataset("mime")


def test_a_data_directory_is_the_option_then_the_default_and_none_says_how_to_name_one(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("LLMDAS_DATA", str(tmp_path / "default"))
    assert required_data_dir(tmp_path) == tmp_path
    assert required_data_dir() == tmp_path / "default"
    monkeypatch.delenv("LLMDAS_DATA")
    monkeypatch.chdir(tmp_path)  # no ../shared/datasets beside the working directory
    monkeypatch.setattr("llmdas.data._REPO_ROOT", tmp_path / "repo")  # nor beside the checkout
    with pytest.raises(FileNotFoundError, match="pass --data DIR or set \\$LLMDAS_DATA"):
        required_data_dir()


def test_a_label_column_for_a_file_with_a_y_array_is_refused(tmp_path):
    X, y = load_demo()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert load_dataset(tmp_path / "d.npz", label_column=-1)[1].sum() == y.sum()
    with pytest.raises(ValueError, match=r"keeps its labels in the array 'y'.*\('label'\)"):
        load_dataset(tmp_path / "d.npz", label_column="label")


def test_dataset_file_takes_only_dataset_suffixes(tmp_path):
    (tmp_path / "a.npz").touch()
    (tmp_path / "a.txt").touch()
    (tmp_path / "b").touch()
    assert dataset_file(tmp_path, "a") == tmp_path / "a.npz"
    assert dataset_file(tmp_path, "a.npz") == tmp_path / "a.npz"
    assert dataset_file(tmp_path, "a.txt") is None
    assert dataset_file(tmp_path, "b") is None
    # A name that two files share is refused, not taken to mean the first suffix tried; the
    # listing names it once.
    (tmp_path / "a.csv").touch()
    assert list_datasets(tmp_path) == ["a"]
    with pytest.raises(ValueError, match=r"dataset 'a' is ambiguous: .* holds a.npz and a.csv;"):
        dataset_file(tmp_path, "a")
    assert dataset_file(tmp_path, "a.csv") == tmp_path / "a.csv"  # named in full: no doubt
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    with pytest.raises(ValueError, match=f"is ambiguous: {tmp_path} holds a.npz and a.csv;"):
        dataset_file(elsewhere, str(tmp_path / "a"))  # a path as the name: its folder is named


def test_what_is_no_dataset_name_fails_clearly():
    with pytest.raises(TypeError, match="got ndarray .rows in memory need no loading"):
        load_dataset(np.zeros((3, 2)))
    with pytest.raises(FileNotFoundError, match="not found as a file"):  # not ENAMETOOLONG
        load_dataset("x" * 5000)


def test_a_folder_is_no_data_file(tmp_path, monkeypatch):
    with pytest.raises(IsADirectoryError, match="is a folder, not a data file"):
        load_dataset(tmp_path)
    # A dataset's name wins over a folder of that name in the working directory.
    (tmp_path / "data").mkdir()
    (tmp_path / "demo_like").mkdir()
    np.savez(tmp_path / "data" / "demo_like.npz", X=np.ones((4, 2)), y=np.array([0, 0, 0, 1]))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMDAS_DATA", str(tmp_path / "data"))
    X, y = load_dataset("demo_like")
    assert X.shape == (4, 2) and y.sum() == 1


def test_bad_files_fail_clearly(tmp_path):
    np.savez(tmp_path / "bad.npz", X=np.zeros((3, 2)), labels=np.zeros(3))
    with pytest.raises(ValueError, match=r"lacks array.*\(it holds X, labels\)"):
        load_dataset(tmp_path / "bad.npz")
    savemat(tmp_path / "bad.mat", {"data": np.zeros((3, 2)), "y": np.zeros((3, 1))})
    with pytest.raises(ValueError, match=r"lacks variables.*it holds data, y\)"):
        load_dataset(tmp_path / "bad.mat")
    np.savez(tmp_path / "nan.npz", X=np.array([[1.0, 1.0], [1.0, np.inf]]), y=np.array([0, 1]))
    with pytest.raises(ValueError, match="1 infinite value.* column 2; the first in row 2 "):
        load_dataset(tmp_path / "nan.npz")
    np.savez(tmp_path / "lab.npz", X=np.zeros((3, 2)), y=np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="labels must be 0"):
        load_dataset(tmp_path / "lab.npz")
    np.savez(tmp_path / "text.npz", X=np.zeros((3, 2)), y=np.array(["a", "n", "n"]))
    with pytest.raises(ValueError, match=r"got 2 distinct values \('a', 'n'\)"):
        load_dataset(tmp_path / "text.npz")  # the message used to fail on formatting them
    # Labels stored as the text "0" and "1" are those numbers, as text numbers in X are.
    X_text = np.array([["1.5", "2"], ["3", "4"], ["5", "6.5"]])
    np.savez(tmp_path / "digits.npz", X=X_text, y=np.array(["0", "1", "0"]))
    X, y = load_dataset(tmp_path / "digits.npz")
    assert y.tolist() == [0, 1, 0] and X[0].tolist() == [1.5, 2.0]
    (tmp_path / "first.csv").write_text("Class,a,b\n0,1.5,2.5\n1,0.5,7.5\n0,2.5,3.5\n")
    with pytest.raises(ValueError, match=r"last column of the file, but the column 'Class' sounds"):
        load_dataset(tmp_path / "first.csv")
    assert load_dataset(tmp_path / "first.csv", label_column="Class")[1].tolist() == [0, 1, 0]
    np.savez(tmp_path / "signs.npz", X=np.zeros((3, 2)), y=np.array([1, -1, 1]))
    with pytest.raises(ValueError, match=r"\(-1, 1\); which of -1 and 1 marks anomalies"):
        load_dataset(tmp_path / "signs.npz")
    with pytest.raises(ValueError, match="at least 4 normal rows"):
        paper_split(np.zeros((3, 2)), np.array([0, 0, 1]))


@pytest.mark.parametrize(
    "name, content, message",
    [
        # np.load reads a file without the .npy or zip magic as a pickle, and says so confusingly.
        ("g.npz", b"not a zip", "g.npz is not an .npz archive"),
        ("g.npy", b"not numpy", "g.npy is not a .npy file"),
        ("g.mat", b"not matlab", "g.mat is not a readable MATLAB file"),
        ("g.csv", b"1,2,0\n\xff\xfe,3,1\n", r"g.csv is not a CSV text file.*not UTF-8 \(0xff\)"),
    ],
)
def test_files_that_are_not_what_their_suffix_says_fail_clearly(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    for load in (load_dataset, load_features):
        with pytest.raises(ValueError, match=message):
            load(tmp_path / name)


def test_an_npz_of_object_arrays_is_refused_by_name(tmp_path):
    np.savez(tmp_path / "obj.npz", X=np.array([[1, "a"]] * 4, dtype=object), y=np.zeros(4))
    with pytest.raises(ValueError, match="obj.npz holds an array that is not numeric"):
        load_dataset(tmp_path / "obj.npz")


def test_quoted_csv_cells_are_read_as_numbers(tmp_path):
    # Some exporters quote every cell (pandas with quoting=csv.QUOTE_ALL, database dumps).
    (tmp_path / "q.csv").write_text('"a","b","label"\n"1.5","2","0"\n"3",4,"1"\n')
    X, y = load_dataset(tmp_path / "q.csv")
    assert X.tolist() == [[1.5, 2.0], [3.0, 4.0]] and y.tolist() == [0, 1]
    assert feature_columns(tmp_path / "q.csv", label_column=-1) == ["a", "b"]


@pytest.mark.parametrize("header", [True, False])
def test_a_csv_byte_order_mark_is_not_part_of_the_first_cell(tmp_path, header):
    # Excel writes UTF-8 CSV files with a byte-order mark. Read as text, it made the first cell of
    # a file without a header a non-number, so that its first row was taken for a header.
    X = np.arange(1.0, 13.0).reshape(4, 3)  # (a first line 0,1,2 is pandas' header)
    lines = (["a,b,c"] if header else []) + [",".join(f"{v:g}" for v in row) for row in X]
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    assert np.array_equal(load_features(tmp_path / "bom.csv"), X)
    assert feature_columns(tmp_path / "bom.csv") == (["a", "b", "c"] if header else None)


def test_load_features_reads_files_without_labels(tmp_path):
    X = np.random.default_rng(0).normal(size=(30, 4))
    np.savetxt(tmp_path / "plain.csv", X, delimiter=",")
    np.savetxt(tmp_path / "one.csv", X[:, :1], delimiter=",")
    np.savez(tmp_path / "x.npz", X=X)
    assert np.allclose(load_features(tmp_path / "plain.csv"), X)
    assert load_features(tmp_path / "one.csv").shape == (30, 1)  # one column stays a column
    assert np.allclose(load_features(tmp_path / "x.npz"), X)
    # label_column names a column of a table; an .npz keeps its labels apart and needs none.
    assert np.allclose(load_features(tmp_path / "x.npz", label_column=-1), X)
    # With a label column named, it is dropped and checked like load_dataset's.
    y = (np.arange(30) % 7 == 0).astype(float)
    np.savetxt(tmp_path / "lab.csv", np.column_stack([X, y]), delimiter=",")
    assert np.allclose(load_features(tmp_path / "lab.csv", label_column=-1), X)
    with pytest.raises(ValueError, match="labels must be 0"):
        load_features(tmp_path / "plain.csv", label_column=-1)


def test_csv_without_labels_is_named_in_the_error(tmp_path):
    X = np.random.default_rng(0).normal(size=(300, 5))
    np.savetxt(tmp_path / "plain.csv", X, delimiter=",")
    with pytest.raises(ValueError, match="got 300 distinct values") as info:
        load_dataset(tmp_path / "plain.csv")
    message = str(info.value)
    assert "last column" in message and "load_features" in message and len(message) < 400


@pytest.mark.parametrize(
    "text, message",
    [
        ("1,2,3\n4,5\n", "bad.csv is not a table of numbers: line 2 has 2 col"),
        ("a,b,c\n1,2,3\n4,,6\n", r"line 3, column 2 \('b'\) is empty"),  # lines count the header
        ("a,b,y,\n1,2,0,\n4,5,1,\n", "line 2, column 4 is empty: the line ends with a comma"),
        ("1,2,0\n4,x,1\n", r"line 2, column 2 holds 'x' \(llmdas reads numbers only: drop"),
        # An export with an id and a category among the numbers: every text column is named.
        (
            "id,amount,shop,y\nt1,1.5,cafe,0\n",
            r"line 2, column 1 \('id'\) holds 't1'; the line holds text in columns 'id', 'shop' "
            r"\(llmdas reads numbers only: drop identifier and free-text columns, and encode",
        ),
        ("1,2,0\n4,NA,1\n", r"line 2, column 2 holds 'NA' \(a missing value"),
        ("a;b;y\n1;2;0\n", "this one seems to separate by ';'"),
        ("a\tb\ty\n1\t2\t0\n", "this one seems to separate by tabs"),
        # numpy cuts a long cell short; the hint must survive that.
        (
            "a;b;y\n" + ";".join(["0.123456789012345678"] * 8) + "\n",
            r"\.\.\. \(\d+\+ characters\).*by ';'",
        ),
        ("", "bad.csv holds no rows"),
        ("a,b,label\n", "bad.csv holds no rows"),
        ("a,b,a\n1,2,0\n", r"the header of bad.csv names two columns 'a' \(columns 0 and 2\)"),
        ("a,,,y\n1,2,3,0\n", r"bad.csv leaves two columns without a name \(columns 1 and 2\)"),
        # pandas' to_csv writes its index, unnamed, unless index=False
        (",a,y\n0,1.5,0\n1,2.5,0\n2,0.5,1\n", "first column of bad.csv has no name and numbers"),
        # and R's write.csv its row names, quoted and from 1, unless row.names = FALSE
        (
            '"","V1","y"\n"1",1.5,0\n"2",2.5,0\n"3",0.5,1\n',
            r"numbers the rows 1, 2, 3, \.\.\.: the row names that R's write.csv writes",
        ),
    ],
)
def test_malformed_csv_files_fail_clearly(tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    # Read whole, and a line at a time: the line numbers are the file's either way.
    for load in (load_dataset, load_features, lambda p: list(iter_features(p, chunk_rows=1))):
        with pytest.raises(ValueError, match=message):
            load(tmp_path / "bad.csv")


def test_an_unnamed_first_column_is_read_unless_it_numbers_the_rows(tmp_path):
    (tmp_path / "t.csv").write_text(",a,y\n5,1.5,0\n7,2.5,0\n")
    X, y = load_dataset(tmp_path / "t.csv")
    assert X.tolist() == [[5.0, 1.5], [7.0, 2.5]] and y.tolist() == [0, 0]
    (tmp_path / "two.csv").write_text(",a,y\n0,1.5,0\n1,2.5,0\n")  # too few rows to tell
    assert load_dataset(tmp_path / "two.csv")[0].tolist() == [[0.0, 1.5], [1.0, 2.5]]


def _chunked(path, **kwargs) -> np.ndarray:
    chunks = list(iter_features(path, chunk_rows=4, **kwargs))
    assert all(len(chunk) <= 4 for chunk in chunks)
    return np.vstack(chunks)


def test_chunked_reading_gives_the_rows_that_load_features_gives(tmp_path):
    import pandas as pd  # pandas and pyarrow are in requirements.lock

    X, y = load_demo()
    X, y = X[:30], y[:30]
    table = np.column_stack([X, y])
    np.savetxt(tmp_path / "plain.csv", table, delimiter=",", fmt="%.17g")
    header = ",".join([f"f{j}" for j in range(X.shape[1])] + ["label"])
    np.savetxt(tmp_path / "named.csv", table, delimiter=",", fmt="%.17g", header=header)
    np.save(tmp_path / "t.npy", table)
    np.save(tmp_path / "column.npy", X[:, 0])
    pd.DataFrame(table, columns=header.split(",")).to_parquet(tmp_path / "t.parquet")
    np.savez(tmp_path / "d.npz", X=X, y=y)
    for name, label in [
        ("plain.csv", -1),
        ("named.csv", "label"),
        ("t.npy", -1),
        ("t.parquet", "label"),
        ("d.npz", None),
        ("column.npy", None),
    ]:
        expected = load_features(tmp_path / name, label_column=label)
        assert np.array_equal(_chunked(tmp_path / name, label_column=label), expected), name
    assert np.array_equal(_chunked("demo"), load_demo()[0])
    # Blank lines, here a whole chunk of them, are skipped as np.loadtxt skips them.
    lines = (tmp_path / "plain.csv").read_text().splitlines()
    (tmp_path / "gaps.csv").write_text("\n".join(lines[:4] + [""] * 5 + lines[4:]) + "\n")
    assert np.array_equal(_chunked(tmp_path / "gaps.csv", label_column=-1), X)


def test_chunked_reading_names_the_rows_and_lines_at_fault(tmp_path):
    rows = [f"{i},{i % 3},0" for i in range(10)]
    rows[5] = "5,nan,0"
    (tmp_path / "gap.csv").write_text("\n".join(rows) + "\n")
    located = (
        r"X of gap.csv \(rows 5-8\) contains 1 NaN value\(s\) in column 2; the first in row 6 "
    )
    with pytest.raises(ValueError, match=located + r"\(rows and columns count from 1\)"):
        list(iter_features(tmp_path / "gap.csv", label_column=-1, chunk_rows=4))
    (tmp_path / "named.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(
        ValueError, match=r"in column 'b'; the first in row 6 \(rows count from 1\)"
    ):
        list(iter_features(tmp_path / "named.csv", label_column="y", chunk_rows=4))
    with pytest.raises(
        ValueError, match=r"X of named.csv contains .* column 'b'; the first in row 6"
    ):
        load_dataset(tmp_path / "named.csv", label_column="y")
    rows[5] = "5,1"
    (tmp_path / "ragged.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match="line 7 has 2 columns, the lines before it 3"):
        list(iter_features(tmp_path / "ragged.csv", chunk_rows=5))
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="chunk_rows must be a positive integer"):
            next(iter_features(tmp_path / "gap.csv", chunk_rows=bad))


def test_a_label_column_out_of_range_is_named(tmp_path):
    (tmp_path / "ok.csv").write_text("1,2,0\n3,4,1\n")
    with pytest.raises(ValueError, match="label column 5 is out of range for its 3 columns"):
        load_dataset(tmp_path / "ok.csv", label_column=5)


def test_a_mat_file_of_complex_numbers_is_refused_not_cast(tmp_path):
    X = np.ones((6, 2)) + 1j
    savemat(tmp_path / "c.mat", {"X": X, "y": np.r_[np.zeros(5), 1].reshape(-1, 1)})
    for load in (load_dataset, load_features):
        with pytest.raises(ValueError, match="X of c.mat must be real-valued, got complex"):
            load(tmp_path / "c.mat")


def test_npy_tables_load_with_or_without_a_label_column(tmp_path):
    X, y = load_demo()
    np.save(tmp_path / "t.npy", np.column_stack([X, y]))
    np.save(tmp_path / "f.npy", X)
    X2, y2 = load_dataset(tmp_path / "t.npy")
    assert np.array_equal(X2, X) and np.array_equal(y2, y)
    assert np.array_equal(load_features(tmp_path / "f.npy"), X)
    assert np.array_equal(load_features(tmp_path / "t.npy", label_column=-1), X)
    np.save(tmp_path / "text.npy", np.array([["a", "b"], ["c", "d"]]))
    np.save(tmp_path / "objects.npy", np.array([[1, None]], dtype=object), allow_pickle=True)
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    np.save(tmp_path / "complex.npy", np.ones((3, 2)) + 1j)  # NumPy would drop the 1j, warning
    np.save(tmp_path / "records.npy", np.zeros(3, dtype=[("a", "f8"), ("label", "i4")]))
    for name, message in [
        ("text.npy", "text.npy is not a numeric .npy array"),
        ("objects.npy", "objects.npy is not a numeric .npy array"),
        ("cube.npy", "cube.npy holds a 3-D array"),
        ("complex.npy", "complex.npy holds complex numbers; the detectors need real ones"),
        ("records.npy", r"records.npy holds a structured array \(fields a, label\); save its"),
    ]:
        for load in (load_features, lambda p: list(iter_features(p))):
            with pytest.raises(ValueError, match=message):
                load(tmp_path / name)
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(ValueError, match="unsupported dataset format '.xlsx'; use one of"):
        load_dataset(tmp_path / "x.xlsx")
    (tmp_path / "x.tsv.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / "x.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match=r"'.gz'; use one of .*\(decompress x.tsv.gz first\)"):
        load_dataset(tmp_path / "x.tsv.gz")
    with pytest.raises(ValueError, match=r"'.tsv'; .*llmdas reads comma-separated .csv files"):
        load_features(tmp_path / "x.tsv")


def test_a_gzipped_csv_file_reads_as_the_csv_file_it_holds(tmp_path):
    import gzip

    X, y = load_demo()
    header = ",".join([f"f{i}" for i in range(X.shape[1])] + ["label"])
    plain = tmp_path / "d.csv"
    np.savetxt(plain, np.column_stack([X, y]), delimiter=",", header=header, comments="")
    packed = tmp_path / "d2.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for got, want in zip(load_dataset(packed), load_dataset(plain), strict=True):
        assert np.array_equal(got, want)
    assert feature_columns(packed, label_column="label") == feature_columns(plain, label_column=-1)
    chunks = list(iter_features(packed, label_column="label", chunk_rows=50))
    assert len(chunks) == -(-len(X) // 50) and np.array_equal(np.vstack(chunks), X)
    assert list_datasets(tmp_path) == ["d", "d2"]  # named without either suffix
    assert dataset_file(tmp_path, "d2") == packed  # a name finds it, as the benchmark's do
    (tmp_path / "bad.csv.gz").write_bytes(b"1,2,0\n")
    with pytest.raises(ValueError, match="bad.csv.gz is not a readable gzip file: Not a gzipped"):
        load_dataset(tmp_path / "bad.csv.gz")
    (tmp_path / "cut.csv.gz").write_bytes(packed.read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.csv.gz is not a readable gzip file"):
        load_features(tmp_path / "cut.csv.gz", label_column="label")


def test_a_column_that_looks_like_labels_read_as_a_feature_is_named(tmp_path):
    import warnings

    from llmdas import LabelColumnWarning

    X, y = load_demo()
    table = tmp_path / "labelled.csv"
    names = ",".join([*(f"f{i}" for i in range(X.shape[1])), "Class"])
    np.savetxt(table, np.column_stack([X, y]), delimiter=",", header=names, comments="")
    with pytest.warns(LabelColumnWarning, match=r"column 'Class' of labelled.csv holds only 0 and"):
        assert load_features(table).shape == (len(X), X.shape[1] + 1)  # as asked: a feature
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelColumnWarning)
        assert load_features(table, label_column="Class").shape == X.shape
        binary_feature = tmp_path / "flags.csv"  # 0/1, but not named like labels
        np.savetxt(
            binary_feature, np.column_stack([X, y]), delimiter=",", header=names[:-5] + "flag"
        )
        load_features(binary_feature)


def test_a_csv_header_is_read_as_its_rows_are(tmp_path):
    # A quoted name may hold a comma: it is one column's name, as the rows' parser reads it.
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('"x, mm","y",label\n1.5,2,0\n3,4,1\n')
    assert feature_columns(quoted, label_column="label") == ["x, mm", "y"]
    X, y = load_dataset(quoted, label_column="label")
    assert X.tolist() == [[1.5, 2.0], [3.0, 4.0]] and y.tolist() == [0, 1]
    # A header with more or fewer names than the rows have values would shift them.
    for header, names in (("a,b,c,label", 4), ("a,label", 2), ("a,b,label,", 4)):
        bad = tmp_path / "bad.csv"
        bad.write_text(f"{header}\n1,2,0\n3,4,1\n")
        with pytest.raises(
            ValueError, match=f"its header names {names} columns, but line 2 holds 3"
        ):
            load_features(bad)


def test_feature_columns_reads_a_csv_header_only(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a, b, label\n1,2,0\n3,4,1\n")
    assert feature_columns(path) == ["a", "b", "label"]
    assert feature_columns(path, label_column="label") == ["a", "b"]
    assert feature_columns(path, label_column=-1) == ["a", "b"]
    assert load_dataset(path, label_column="label")[1].tolist() == [0, 1]  # names are stripped
    commented = tmp_path / "commented.csv"
    np.savetxt(commented, np.eye(2), delimiter=",", header="a,b")  # "# a,b" by default
    assert feature_columns(commented) == ["a", "b"]
    plain = tmp_path / "plain.csv"
    plain.write_text("1,2,0\n3,4,1\n")
    assert feature_columns(plain) is None
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 2)), y=np.zeros(3))
    assert feature_columns(tmp_path / "d.npz") is None
    with pytest.raises(ValueError, match=r"no label column named 'y' \(its columns: a, b, label"):
        feature_columns(path, label_column="y")
    with pytest.raises(ValueError, match="has no header row; give the column's index"):
        load_dataset(plain, label_column="label")
    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text("a;b;label\n1;2;0\n3;4;1\n")
    with pytest.raises(ValueError, match="comma-separated files, and this one seems to use ';'"):
        feature_columns(semicolons, label_column="label")


def test_blank_lines_before_a_csv_header_are_skipped_and_a_blank_file_has_no_header(tmp_path):
    plain, spaced = tmp_path / "plain.csv", tmp_path / "spaced.csv"
    plain.write_text("a,b,label\n1,2,0\n3,4,1\n")
    spaced.write_text("\n  \na,b,label\n1,2,0\n3,4,1\n")
    assert feature_columns(spaced) == ["a", "b", "label"]
    for got, want in zip(load_dataset(spaced), load_dataset(plain), strict=True):
        assert np.array_equal(got, want)
    spaced.write_text("\n  \na,b,label\n1,2,0\nx,4,1\n")
    with pytest.raises(ValueError, match=r"line 5, column 1 \('a'\) holds 'x'"):  # the file's lines
        load_dataset(spaced)
    for text in ("", "\n\n"):
        empty = tmp_path / "empty.csv"
        empty.write_text(text)
        with pytest.raises(ValueError, match="empty.csv holds no rows"):
            feature_columns(empty)  # not one column named ''
        with pytest.raises(ValueError, match="empty.csv holds no rows"):
            load_dataset(empty)


def test_the_column_names_pandas_gives_an_array_are_a_header_not_a_row(tmp_path):
    import pandas as pd

    X = np.random.default_rng(0).normal(size=(6, 3))
    y = np.array([0, 0, 1, 0, 0, 1])
    pd.DataFrame(np.column_stack([X, y])).to_csv(tmp_path / "frame.csv", index=False)
    X_read, y_read = load_dataset(tmp_path / "frame.csv")  # a label "3" in its first row, before
    assert np.allclose(X_read, X) and y_read.tolist() == y.tolist()
    assert feature_columns(tmp_path / "frame.csv", label_column=-1) == ["0", "1", "2"]
    pd.DataFrame(X).to_csv(tmp_path / "rows.csv", index=False)
    assert np.allclose(load_features(tmp_path / "rows.csv"), X)
    assert np.allclose(np.concatenate(list(iter_features(tmp_path / "rows.csv", chunk_rows=4))), X)
    # Two columns are too few to tell "0,1" apart from a row of data; other numbers are data.
    (tmp_path / "pair.csv").write_text("0,1\n2,3\n")
    (tmp_path / "data.csv").write_text("0,1,3\n2,3,4\n")
    assert (
        len(load_features(tmp_path / "pair.csv")) == len(load_features(tmp_path / "data.csv")) == 2
    )


def test_parquet_tables_load_by_column_name_without_a_pandas_index(tmp_path):
    import pandas as pd  # pandas and pyarrow are in requirements.lock

    X, y = load_demo()
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    frame["count"] = np.arange(len(frame), dtype=np.int32)
    frame["flag"] = frame["count"] % 2 == 0
    frame["label"] = y
    normal = frame[frame["label"] == 0]  # filtered rows: pandas stores the index as a column
    normal.to_parquet(tmp_path / "normal.parquet")
    frame.to_parquet(tmp_path / "all.parquet")
    features = ["a", "b", "c", "count", "flag"]
    assert feature_columns(tmp_path / "normal.parquet", label_column="label") == features
    X_all, y_all = load_dataset(tmp_path / "all.parquet", label_column="label")
    assert np.array_equal(X_all, frame[features].to_numpy(dtype=float))
    assert np.array_equal(y_all, y)
    assert np.array_equal(load_dataset(tmp_path / "all.parquet")[1], y)  # last column by default
    X_normal = load_features(tmp_path / "normal.parquet", label_column="label")
    assert np.array_equal(X_normal, normal[features].to_numpy(dtype=float))
    # Integers beyond 2**53 (ids, hashes) are rounded to floats, as NumPy rounds them in an array.
    big = pd.DataFrame({"id": np.array([2**63, 2**53 + 1, 7], dtype=np.uint64), "x": [1.0, 2, 3]})
    big.to_parquet(tmp_path / "big.parquet")
    as_array = big.to_numpy(dtype=float)
    assert np.array_equal(load_features(tmp_path / "big.parquet"), as_array)


def test_bad_parquet_files_fail_clearly(tmp_path, monkeypatch):
    import pandas as pd  # pandas and pyarrow are in requirements.lock

    frame = pd.DataFrame(
        {"id": ["t1", "t2"], "a": [1.0, 2.0], "when": pd.to_datetime(["2024"] * 2)}
    )
    frame.to_parquet(tmp_path / "text.parquet")
    with pytest.raises(
        ValueError,
        match=r"text.parquet has columns that do not hold numbers: 'id' \(\w*string\), 'when' "
        r"\(timestamp\[\w+\]\); encode them",  # every one of them, not only the first
    ):
        load_features(tmp_path / "text.parquet")
    pd.DataFrame({"a": [1.0, None, 3.0], "b": [1, 2, 3]}).to_parquet(tmp_path / "gap.parquet")
    with pytest.raises(
        ValueError, match=r"contains 1 NaN value\(s\) in column 'a'; the first in row 2"
    ):
        load_features(tmp_path / "gap.parquet")
    pd.DataFrame({"a": []}, dtype=float).to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(ValueError, match="empty.parquet holds no rows"):
        load_features(tmp_path / "empty.parquet")
    import pyarrow as pa
    import pyarrow.parquet as pq

    twice = pa.table([pa.array([1.0, 2.0])] * 3, names=["a", "b", "a"])
    pq.write_table(twice, tmp_path / "twice.parquet")  # pyarrow allows it, pandas does not
    with pytest.raises(ValueError, match=r"twice.parquet names two columns 'a' \(columns 0 and 2"):
        load_features(tmp_path / "twice.parquet")
    (tmp_path / "fake.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="fake.parquet is not a readable Parquet file"):
        load_features(tmp_path / "fake.parquet")
    monkeypatch.setitem(__import__("sys").modules, "pyarrow.parquet", None)  # not installed
    with pytest.raises(ImportError, match=r"needs pyarrow.*pip install 'llmdas\[parquet\]'"):
        load_features(tmp_path / "gap.parquet")


def test_a_table_whose_write_fails_leaves_the_old_file_and_no_partial_one(tmp_path, monkeypatch):
    from llmdas.file_formats import write_table

    path = tmp_path / "scores.csv"
    write_table(path, {"score": np.arange(3.0)})
    old = path.read_bytes()

    def fail_halfway(fname, values, **kwargs):
        Path(fname).write_text("score\n0\n")  # part of the table, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savetxt", fail_halfway)
    with pytest.raises(OSError, match="No space left"):
        write_table(path, {"score": np.arange(1e6)})
    assert path.read_bytes() == old and [p.name for p in tmp_path.iterdir()] == ["scores.csv"]
    monkeypatch.undo()
    write_table(tmp_path / "new.npy", {"a": np.ones(2), "b": np.zeros(2)})  # np.save adds no suffix
    assert np.load(tmp_path / "new.npy").shape == (2, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.npy", "scores.csv"]
    # Through a symbolic link, the file it points to is replaced and the link stays.
    (tmp_path / "link.csv").symlink_to(path)
    write_table(tmp_path / "link.csv", {"score": np.ones(2)})
    assert (tmp_path / "link.csv").is_symlink() and load_features(path).shape == (2, 1)
