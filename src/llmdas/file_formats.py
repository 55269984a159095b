"""Table files: reading arrays from ``.npz``, ``.mat``, CSV, ``.npy`` and Parquet files, and
writing columns to CSV, ``.npy`` and Parquet files.

Every reader turns a malformed file into a ``ValueError`` that names the file and, for a CSV file,
the line and column at fault. :mod:`llmdas.data` builds on this module: it finds a dataset's file
by name and checks its rows and labels.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from llmdas._atomic import replacing
from llmdas._validation import check_unique_names, preview

__all__ = [
    "DATASET_FORMATS",
    "DATASET_SUFFIXES",
    "DEFAULT_CHUNK_ROWS",
    "NAMED_SUFFIXES",
    "OUTPUT_SUFFIXES",
    "TABLE_SUFFIXES",
    "check_output_path",
    "column_names",
    "label_index",
    "read_arrays",
    "suffix_of",
    "table_chunks",
    "write_table",
]

#: File formats a dataset may come in. ``.npz`` and ``.mat`` hold ``X`` and ``y``; ``.csv``,
#: ``.npy`` and ``.parquet`` hold one table whose label column, if any, is named by
#: ``label_column``; ``.csv.gz`` is a gzipped CSV file. Parquet needs the optional dependency
#: pyarrow (``llmdas[parquet]``).
DATASET_SUFFIXES = (".npz", ".mat", ".csv", ".csv.gz", ".npy", ".parquet")
#: The same, as text for help and error messages.
DATASET_FORMATS = ", ".join(DATASET_SUFFIXES)
#: Files that hold one table, whose label column, if any, is named by ``label_column``.
TABLE_SUFFIXES = (".csv", ".csv.gz", ".npy", ".parquet")
_CSV_SUFFIXES = (".csv", ".csv.gz")
# Suffixes of files that are not read (but a .gz in .csv.gz), yet often hold a table; their error
# says what to do.
_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".zst")
_TEXT_TABLE_SUFFIXES = (".tsv", ".txt", ".dat", ".tab")
#: Files whose header names the feature columns.
NAMED_SUFFIXES = (".csv", ".csv.gz", ".parquet")
#: Rows :func:`llmdas.data.iter_features` (and so ``llmdas score``) reads at a time, and CSV
#: files are read by.
DEFAULT_CHUNK_ROWS = 100_000
#: File formats :func:`write_table` writes (scores, labels).
OUTPUT_SUFFIXES = (".csv", ".npy", ".parquet")


def suffix_of(path: Path) -> str:
    """The suffix that names a file's format: ``.csv.gz`` for a gzipped CSV file, else the last."""
    return ".csv.gz" if path.name.endswith(".csv.gz") else path.suffix


def column_names(path: Path) -> list[str] | None:
    """A CSV file's header row or a Parquet file's column names; ``None`` for a CSV file without
    a header. Only the first line, or the schema, is read."""
    return _parquet_columns(path) if path.suffix == ".parquet" else _read_header(path)


def table_chunks(path: Path, rows: int) -> Iterator[tuple[np.ndarray, list[str] | None]]:
    """A CSV, ``.npy`` or Parquet table's numbers ``rows`` rows at a time, each with the file's
    column names (``None`` when it names none)."""
    readers = {
        ".npy": _npy_chunks,
        ".parquet": _parquet_chunks,
        **dict.fromkeys(_CSV_SUFFIXES, _csv_chunks),
    }
    return readers[suffix_of(path)](path, rows)


def _read_mat(path: Path, need_labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``X`` and ``y`` of an ODDS ``.mat`` file, MATLAB v5/v7 (scipy) or v7.3 (HDF5, h5py)."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
    except NotImplementedError:  # MATLAB v7.3 files are HDF5 (ODDS's http.mat and smtp.mat)
        mat = _load_mat73(path)
    except Exception as exc:  # scipy's MatReadError, or what a truncated file makes it raise
        raise ValueError(f"{path.name} is not a readable MATLAB file: {exc}") from None
    if mat.get("X") is None or (need_labels and mat.get("y") is None):
        held = ", ".join(sorted(k for k in mat if not k.startswith("__"))) or "no variables"
        raise ValueError(f"{path.name} lacks variables 'X' and 'y' (ODDS format; it holds {held})")
    return np.asarray(mat["X"]), (mat["y"] if need_labels else None)  # llmdas.data checks X


def _load_mat73(path: Path) -> dict[str, np.ndarray | None]:
    """The variables ``X`` and ``y`` of a MATLAB v7.3 file (``None`` for every other one)."""
    try:
        import h5py
    except ImportError:
        raise ImportError(
            f"{path.name} is a MATLAB v7.3 (HDF5) file; reading it needs h5py: pip install h5py "
            "(or llmdas[matlab]), or re-save the file with MATLAB's -v7"
        ) from None
    variables: dict[str, np.ndarray | None] = {}
    try:
        with h5py.File(path, "r") as file:
            for name, node in file.items():
                if name.startswith("#"):  # MATLAB's own bookkeeping (#refs#, #subsystem#)
                    continue
                if name not in ("X", "y"):
                    variables[name] = None
                elif not isinstance(node, h5py.Dataset) or node.dtype.kind not in "biuf":
                    raise ValueError(
                        f"{path.name}: variable {name!r} is not a dense real matrix (a sparse "
                        "matrix, cell, struct or complex array); store it as a full double matrix"
                    )
                else:
                    # MATLAB stores arrays column-major, so HDF5 sees every matrix transposed.
                    variables[name] = np.asarray(node).T
    except OSError as exc:  # a truncated or damaged HDF5 file
        raise ValueError(f"{path.name} is not a readable MATLAB v7.3 file: {exc}") from None
    return variables


def read_arrays(path: Path, label_column: str | int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """``X`` and ``y`` as stored in ``path``; ``label_column=None`` reads no labels at all."""
    need_labels = label_column is not None
    if path.suffix in (".npz", ".mat") and label_column not in (None, -1):
        raise ValueError(
            f"{path.name} keeps its labels in the array 'y'; a label column "
            f"({label_column!r}) applies only to CSV, .npy and Parquet tables"
        )
    if path.suffix == ".npz":
        # np.load reads a file that is not a zip archive as a pickle, and says so confusingly.
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{path.name} is not an .npz archive (np.savez writes them)")
        with np.load(path, allow_pickle=False) as data:
            missing = ({"X", "y"} if need_labels else {"X"}) - set(data.files)
            if missing:
                raise ValueError(
                    f"{path} lacks array(s) {sorted(missing)}; expected ADBench format "
                    f"(it holds {', '.join(sorted(data.files)) or 'no arrays'})"
                )
            try:
                return data["X"], (data["y"] if need_labels else None)
            except ValueError as exc:  # object arrays, which would need pickle
                raise ValueError(f"{path.name} holds an array that is not numeric: {exc}") from None
    if path.suffix == ".mat":
        return _read_mat(path, need_labels)
    if suffix_of(path) in TABLE_SUFFIXES:
        if suffix_of(path) in _CSV_SUFFIXES:
            table, header = _load_csv(path)
        elif path.suffix == ".parquet":
            table, header = _load_parquet(path)
        else:
            table, header = _load_npy(path), None
        if not need_labels:
            return table, None
        index = label_index(path, table.shape[1], header, label_column)
        return np.delete(table, index, axis=1), table[:, index]
    hint = ""
    if path.suffix in _COMPRESSED_SUFFIXES:
        hint = f" (decompress {path.name} first)"
    elif path.suffix in _TEXT_TABLE_SUFFIXES:
        hint = " (a text table: llmdas reads comma-separated .csv files)"
    raise ValueError(
        f"unsupported dataset format {path.suffix!r}; use one of {DATASET_FORMATS}{hint}"
    )


def _load_csv(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """The numbers of a CSV file as a 2-D table, and its header row if it has one."""
    chunks = list(_csv_chunks(path, DEFAULT_CHUNK_ROWS))
    if not chunks:
        raise ValueError(f"{path.name} holds no rows")
    return np.concatenate([table for table, _ in chunks]), chunks[0][1]


def _csv_chunks(path: Path, rows: int) -> Iterator[tuple[np.ndarray, list[str] | None]]:
    """A CSV file's numbers ``rows`` lines at a time (and its header, if it has one)."""
    header = _read_header(path)
    line = int(header is not None)  # lines before the chunk being read
    width = None
    # The first values of a first column without a name (pandas' index, if they are 0, 1, 2).
    unnamed_first: list[float] | None = [] if header is not None and header[0] == "" else None
    with _open_csv(path) as fh:
        if header is not None:  # skip it, and the blank lines before it
            while not fh.readline().strip():
                line += 1
        while lines := list(_csv_lines(path, fh, rows)):
            first = next((i for i, text in enumerate(lines) if text.strip()), None)
            if first is None:  # only blank lines, which np.loadtxt skips too
                line += len(lines)
                continue
            # np.loadtxt checks the lines of a chunk against the chunk's first line; this checks
            # that line against the chunks before, so that a message names the line at fault.
            columns = lines[first].count(",") + 1
            if width is not None and columns != width:
                raise ValueError(
                    f"{path.name} is not a table of numbers: line {line + first + 1} has "
                    f"{columns} columns, the lines before it {width}"
                )
            width = columns
            # np.loadtxt parses in C: at 100 000 x 50 it is 7x faster than np.genfromtxt and needs
            # a small fraction of its memory (genfromtxt keeps every cell as a Python string).
            try:
                table = np.loadtxt(lines, delimiter=",", quotechar='"', dtype=np.float64, ndmin=2)
            except ValueError as exc:
                raise ValueError(
                    f"{path.name} is not a table of numbers: "
                    f"{_csv_problem(str(exc), line, width, lines, header)}"
                ) from None
            if header is not None and table.shape[1] != len(header):  # names would be shifted
                raise ValueError(
                    f"{path.name} is not a table of numbers: its header names {len(header)} "
                    f"columns, but line {line + first + 1} holds {table.shape[1]} values; give "
                    "every column one name"
                )
            if unnamed_first is not None and len(unnamed_first) < 3 and table.shape[1] > 1:
                unnamed_first.extend(table[: 3 - len(unnamed_first), 0])
                _refuse_row_numbers(path, unnamed_first)
            yield table, header
            line += len(lines)


def _refuse_row_numbers(path: Path, first_values: list[float]) -> None:
    """Refuse a first column without a name whose first three rows hold 0, 1, 2 or 1, 2, 3.

    They are the index that pandas' ``to_csv`` writes unless ``index=False`` and the row names
    that R's ``write.csv`` writes unless ``row.names = FALSE``; read as a feature, they would make
    every row's position part of its anomaly score. Only the first three rows decide, so that the
    answer does not depend on how many rows are read at a time.
    """
    writers = {
        0.0: "the index that pandas' to_csv writes unless index=False",
        1.0: "the row names that R's write.csv writes unless row.names = FALSE",
    }
    start = first_values[0] if first_values else None
    if start in writers and first_values == [start, start + 1, start + 2]:
        raise ValueError(
            f"the first column of {path.name} has no name and numbers the rows {start:g}, "
            f"{start + 1:g}, {start + 2:g}, ...: {writers[start]}; write the file without it, or "
            "drop that column"
        )


def _npy_chunks(path: Path, rows: int) -> Iterator[tuple[np.ndarray, None]]:
    """A ``.npy`` table ``rows`` rows at a time, read through a memory map."""
    table = _open_npy(path, mmap=True)
    for start in range(0, table.shape[0], rows):
        yield _npy_floats(path, np.array(table[start : start + rows])), None


def _parquet_chunks(path: Path, rows: int) -> Iterator[tuple[np.ndarray, list[str]]]:
    """A Parquet file's numeric columns ``rows`` rows at a time, and their names."""
    parquet_file = _parquet_file(path)
    names = _parquet_columns(path, parquet_file)
    for batch in parquet_file.iter_batches(batch_size=rows, columns=names):
        if batch.num_rows:
            yield _parquet_values(path, names, batch), names


def _open_csv(path: Path) -> TextIO:
    # utf-8-sig drops the byte-order mark that Excel puts before a UTF-8 CSV file; read as part of
    # the first cell, it would make a file without a header lose its first row as a "header".
    if path.suffix == ".gz":  # decompressed as it is read, a chunk at a time
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return path.open(encoding="utf-8-sig")


def _csv_lines(path: Path, fh: TextIO, rows: int | None) -> Iterator[str]:
    """The next ``rows`` lines (None: all) of an open CSV file; a file that is not UTF-8 text
    says so."""
    try:
        yield from itertools.islice(fh, rows)
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise ValueError(
            f"{path.name} is not a CSV text file: it holds bytes that are not UTF-8 ({byte:#04x})"
        ) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:  # not gzip, or cut short
        raise ValueError(f"{path.name} is not a readable gzip file: {exc}") from None


def _read_header(path: Path) -> list[str] | None:
    """The first non-blank line's cells when it is a header, else None.

    A header is a first line with a cell that is not a number, or one that reads ``0,1,...,n-1``
    for ``n >= 3`` columns: the names pandas gives the columns of a frame built from an array,
    which ``DataFrame.to_csv`` writes as a header. Read as data, they would be an extra first row
    (and, with the labels last, a label of ``n - 1``). A leading ``#`` is dropped, as
    ``np.savetxt`` writes one before a header by default. An empty file, or one of blank lines
    only, holds no rows: said here, before a caller warns of its missing header.
    """
    with _open_csv(path) as fh:  # blank lines before it are skipped, as the rows' loader does
        line = next((text.strip() for text in _csv_lines(path, fh, None) if text.strip()), "")
    if not line:
        raise ValueError(f"{path.name} holds no rows")
    if line.startswith("#"):
        line = line[1:]
    # csv.reader, as the rows' loader does: a quoted name may hold a comma ("x, mm").
    cells = [cell.strip().strip('"') for cell in next(csv.reader([line]))]
    positions = [str(j) for j in range(len(cells))]
    if all(_is_number(cell) for cell in cells) and (len(cells) < 3 or cells != positions):
        return None
    check_unique_names(cells, f"the header of {path.name}")
    return cells


def _load_npy(path: Path) -> np.ndarray:
    """A 2-D ``.npy`` array as a float table (a 1-D one is a single column)."""
    table = _npy_floats(path, _open_npy(path, mmap=False))
    if table.shape[0] == 0:
        raise ValueError(f"{path.name} holds no rows")
    return table


def _open_npy(path: Path, mmap: bool) -> np.ndarray:
    """A ``.npy`` file's array as a 2-D table of its own dtype, memory-mapped if ``mmap``."""
    with path.open("rb") as fh:
        is_npy = fh.read(6) == b"\x93NUMPY"  # np.save's magic string
    if not is_npy:  # np.load would read it as a pickle, and say so confusingly
        raise ValueError(f"{path.name} is not a .npy file (np.save writes them)")
    try:
        table = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:  # object arrays
        raise ValueError(f"{path.name} is not a numeric .npy array: {exc}") from None
    if table.ndim == 1:
        table = table[:, None]
    if table.ndim != 2:
        raise ValueError(f"{path.name} holds a {table.ndim}-D array; a table of rows is 2-D")
    return table


def _npy_floats(path: Path, table: np.ndarray) -> np.ndarray:
    if table.dtype.names:  # a record array: its fields are the columns
        raise ValueError(
            f"{path.name} holds a structured array (fields {', '.join(table.dtype.names)}); save "
            "its columns as a plain 2-D array (np.column_stack), or as CSV or Parquet, which keep "
            "their names"
        )
    if table.dtype.kind == "c":  # NumPy would drop the imaginary parts, with only a warning
        raise ValueError(f"{path.name} holds complex numbers; the detectors need real ones")
    try:
        return np.asarray(table, dtype=np.float64)
    except (ValueError, TypeError) as exc:  # strings and the like
        raise ValueError(f"{path.name} is not a numeric .npy array: {exc}") from None


def _pyarrow_parquet(path: Path, action: str):
    """The ``pyarrow.parquet`` module, or an error saying how to install the optional pyarrow."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            f"{action} {path.name} needs pyarrow, which is optional: pip install 'llmdas[parquet]'"
        ) from None
    return pq


def _parquet_file(path: Path):
    """``path`` opened as a ``pyarrow.parquet.ParquetFile``, with errors a user can act on."""
    pq = _pyarrow_parquet(path, "reading")
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid (a ValueError) or OSError
        raise ValueError(f"{path.name} is not a readable Parquet file: {exc}") from None


def _parquet_columns(path: Path, parquet_file=None) -> list[str]:
    """A Parquet file's column names from its schema, without a pandas index stored in it."""
    schema = (parquet_file or _parquet_file(path)).schema_arrow
    index = (schema.pandas_metadata or {}).get("index_columns", [])
    # A pandas index is stored as a column (e.g. "__index_level_0__" after filtering rows) or,
    # for a plain range, as metadata only; either way it is no feature.
    names = [name for name in schema.names if name not in index]
    check_unique_names(names, path.name)
    return names


def _load_parquet(path: Path) -> tuple[np.ndarray, list[str]]:
    """A Parquet file's numeric columns as a 2-D float table, and their names."""
    parquet_file = _parquet_file(path)
    names = _parquet_columns(path, parquet_file)
    table = parquet_file.read(columns=names)
    if table.num_rows == 0:
        raise ValueError(f"{path.name} holds no rows")
    return _parquet_values(path, names, table), names


def _parquet_values(path: Path, names: list[str], table) -> np.ndarray:
    """The columns of a pyarrow table or record batch as a 2-D float array."""
    import pyarrow as pa

    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_decimal)
    other = [
        f"{name!r} ({column.type})"
        for name, column in zip(names, table.columns, strict=True)
        if not any(is_kind(column.type) for is_kind in numeric)
    ]
    if other:  # all of them at once, as the API says of a data frame's
        raise ValueError(
            f"{path.name} has columns that do not hold numbers: {', '.join(other)}; encode them "
            "as numbers (or drop them) first"
        )
    values = np.empty((table.num_rows, len(names)))  # filled column by column: one copy in memory
    for j, column in enumerate(table.columns):
        # Nulls become NaN, which the checks on X then report as missing values. safe=False: an
        # integer beyond 2**53 is rounded to the nearest float, as NumPy rounds it in an array,
        # where Arrow's safe cast refuses it ("Integer value ... not in range").
        values[:, j] = column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    return values


def check_output_path(path: str | Path) -> None:
    """Refuse, before any work is done, a file :func:`write_table` could not write."""
    path = Path(path)
    if path.suffix not in OUTPUT_SUFFIXES:
        choices = f"{', '.join(OUTPUT_SUFFIXES[:-1])} or {OUTPUT_SUFFIXES[-1]}"
        raise ValueError(
            f"cannot write {path.name}: name a {choices} file (the suffix sets the format)"
        )
    if path.suffix == ".parquet":
        _pyarrow_parquet(path, "writing")


def write_table(path: str | Path, columns: dict[str, np.ndarray], fmt: str = "%.10g") -> None:
    """Write equally long 1-D arrays as the named columns of a table file.

    A CSV gets a header row and ``fmt`` for its numbers; a Parquet file keeps each array's dtype;
    a ``.npy`` file holds the columns side by side (a 1-D array for a single column).
    """
    path = Path(path)
    check_output_path(path)
    with replacing(path) as tmp:  # an interrupted write leaves no partial table
        if path.suffix == ".parquet":
            import pyarrow as pa

            _pyarrow_parquet(path, "writing").write_table(pa.table(columns), tmp)
            return
        values = (
            np.column_stack(list(columns.values()))
            if len(columns) > 1
            else next(iter(columns.values()))
        )
        if path.suffix == ".npy":
            np.save(tmp, values)
        else:
            np.savetxt(tmp, values, fmt=fmt, delimiter=",", header=",".join(columns), comments="")


def _csv_problem(
    message: str, header_lines: int, width: int, lines: list[str], header: list[str] | None
) -> str:
    """np.loadtxt's parse error in terms of the file's own line numbers (``width`` columns).

    ``lines`` are the lines np.loadtxt was given, ``header`` the file's column names, if any.
    """
    ragged = re.search(r"changed from (\d+) to (\d+) at row (\d+)", message)
    if ragged:  # numpy counts these rows from 1, after the header
        before, after, row = map(int, ragged.groups())
        return f"line {row + header_lines} has {after} columns, the lines before it {before}"
    # numpy cuts a long cell after 100 characters, and its closing quote with it.
    cell = re.search(
        r"could not convert string '(.*?)('?) to \w+ at row (\d+), column (\d+)", message
    )
    if cell:  # numpy counts these rows from 0, after the header
        text, row, column = cell.group(1), int(cell.group(3)), int(cell.group(4))
        shown = repr(text) if cell.group(2) else f"{text[:60]!r}... ({len(text)}+ characters)"
        what = "is empty (a missing value: impute or drop it)" if not text else f"holds {shown}"
        if not text and column == width:  # some exporters end every line with a separator
            what = (
                "is empty: the line ends with a comma (a missing last value, or a comma that "
                "ends every line, which makes an extra empty column: remove it)"
            )
        missing = text.strip().upper() in _MISSING_MARKS
        if missing:
            what += " (a missing value: impute or drop it)"
        used = _other_separator(text.replace("\\t", "\t"))  # numpy's message writes \t for a tab
        if used is not None:
            what += f" (llmdas reads comma-separated files; this one seems to separate by {used})"
        elif text and not missing:  # text: an id, a date, a category
            what += _text_columns_hint(lines[row], header)
        name = header[column - 1] if header is not None and column <= len(header) else ""
        where = f"column {column} ({name!r})" if name else f"column {column}"
        return f"line {row + 1 + header_lines}, {where} {what}"
    return message


def _text_columns_hint(line: str, header: list[str] | None) -> str:
    """What to do about the text cells of ``line``, naming their columns when there are several.

    A first file is often an export with an id, a date or a category among the numbers; the
    detectors need every column to be a number.
    """
    cells = next(csv.reader([line]))
    columns = [
        repr(header[j]) if header is not None and j < len(header) and header[j] else str(j + 1)
        for j, cell in enumerate(cells)
        if cell.strip() and not _is_number(cell) and cell.strip().upper() not in _MISSING_MARKS
    ]
    where = f"; the line holds text in columns {', '.join(columns)}" if len(columns) > 1 else ""
    return (
        f"{where} (llmdas reads numbers only: drop identifier and free-text columns, and encode "
        "categories and dates as numbers, before fitting)"
    )


def _other_separator(text: str) -> str | None:
    """The field separator that ``text`` seems to use instead of commas ("';'", "tabs", "'|'")."""
    mark = next((mark for mark in (";", "\t", "|") if mark in text), None)
    return None if mark is None else "tabs" if mark == "\t" else f"'{mark}'"


# How CSV files often mark a missing value (np.loadtxt reads "nan" itself).
_MISSING_MARKS = frozenset({"NA", "N/A", "NULL", "NONE", "?", "-"})


def label_index(path: Path, n_columns: int, header: list[str] | None, label_column) -> int:
    """The position of ``label_column`` (a header name, or an index that may count from the end)
    among a table's ``n_columns``; the error for a name or index that is not there names
    ``path``."""
    if isinstance(label_column, str):
        if header is None:
            raise ValueError(
                f"{path.name}: no label column named {label_column!r} (the file has no header "
                "row; give the column's index, e.g. -1 for the last)"
            )
        if label_column not in header:
            shown = preview(header, limit=12, show=str)
            used = _other_separator(header[0]) if len(header) == 1 else None
            if used is not None:
                shown += f"; llmdas reads comma-separated files, and this one seems to use {used}"
            raise ValueError(
                f"{path.name}: no label column named {label_column!r} (its columns: {shown})"
            )
        return header.index(label_column)
    if not -n_columns <= label_column < n_columns:
        raise ValueError(
            f"{path.name}: label column {label_column} is out of range for its {n_columns} columns"
        )
    return label_column % n_columns


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
