"""Planning a benchmark: methods, cells, configuration hashes and work groups.

A **cell** is one (dataset, detector, method, seed) evaluation. Cells that share a dataset, a
detector and a base fit form a **group**, the unit of work sent to a worker: the base detector is
fitted once per group and shared by every method of the group. Detectors without randomness are
fitted once per (dataset, detector) for all seeds when the split does not depend on the seed (the
paper split), so their group holds every seed.

Methods (``--methods``):

``builtin``          the built-in program written for the cell's detector;
``builtin:A``        the built-in program written for detector ``A`` (cross-detector transfer);
``program:FILE``     one program file, for every detector;
``store:NAME``       the program a program store (``--programs DIR``) holds for the detector;
``none``             the base detector alone (no enhanced scores);
``gaussian`` ...     a synthesis baseline (``llmdas.programs.list_baselines()``), run through the
                     same sandboxed path as every other program.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmdas._validation import repeated, require_dir, require_file
from llmdas.data import dataset_file, list_datasets, suggest_dataset
from llmdas.program import SynthesisProgram

__all__ = [
    "DETERMINISTIC_DETECTORS",
    "PROTOCOL_VERSION",
    "CellSpec",
    "Group",
    "MethodSpec",
    "Plan",
    "dataset_path",
    "estimate_cost",
    "make_plan",
    "parse_methods",
]

#: Bumped when the evaluation protocol changes in a way that makes old cells incomparable.
PROTOCOL_VERSION = 1

#: Detectors whose fit does not depend on the random seed (verified by tests/test_benchmark.py):
#: their base fit is shared across seeds.
DETERMINISTIC_DETECTORS = frozenset({"PCA", "OCSVM", "ECOD", "HBOS", "COPOD", "KNN", "LOF"})


@dataclass(frozen=True)
class MethodSpec:
    """One entry of ``--methods``: how a cell gets its synthesis program."""

    name: str  #: as stored in the ``method`` column
    kind: str  #: builtin | cross | program | store | baseline | none
    arg: str = ""  #: detector (cross), file (program), directory (store), baseline name

    def program_for(
        self, detector: str, store: dict[str, SynthesisProgram] | None = None
    ) -> SynthesisProgram | None:
        """The program this method uses on ``detector`` (``None`` for ``none``).

        Raises ``LookupError`` when there is none (e.g. a store without a program for it).
        """
        from llmdas.programs import baseline_program, builtin_program, load_program

        if self.kind == "none":
            return None
        if self.kind == "builtin":
            return builtin_program(detector)
        if self.kind == "cross":
            return builtin_program(self.arg)
        if self.kind == "baseline":
            return baseline_program(self.arg)
        if self.kind == "program":
            return load_program(Path(self.arg))
        if self.kind == "store":
            if store is None or detector not in store:
                raise LookupError(f"program store {self.arg} holds no program for {detector}")
            return store[detector]
        raise ValueError(f"unknown method kind {self.kind!r}")


def parse_methods(
    text: str,
    *,
    detectors: list[str],
    programs_dir: str | Path | None = None,
    cross: bool = False,
) -> dict[str, list[MethodSpec]]:
    """Parse ``--methods`` (plus ``--programs`` and ``--cross``) into the methods of each detector.

    Returns ``{detector: [MethodSpec, ...]}``; with ``cross`` every detector also gets
    ``builtin:A`` for every other detector ``A`` of the run.
    """
    from llmdas.detectors import canonical_name
    from llmdas.programs import list_baselines, load_program
    from llmdas.sandbox import ProgramError, check_source

    baselines = {p.name for p in list_baselines()}
    specs: list[MethodSpec] = []
    for item in [m.strip() for m in text.split(",") if m.strip()]:
        low = item.lower()
        if low == "builtin":
            specs.append(MethodSpec("builtin", "builtin"))
        elif low == "none":
            specs.append(MethodSpec("none", "none"))
        elif low.startswith("builtin:"):
            det = canonical_name(item.split(":", 1)[1])
            specs.append(MethodSpec(f"builtin:{det}", "cross", det))
        elif low.startswith("program:"):
            path = require_file(Path(item.split(":", 1)[1]).expanduser(), "program file")
            # Read and checked now: a file that is not a program, or one that may not run,
            # would otherwise fail every cell of the run, one at a time, into the store.
            program = load_program(path)
            try:
                check_source(program.file_aligned_source)
            except ProgramError as exc:
                raise ValueError(f"method {item}: {exc}") from exc
            specs.append(MethodSpec(f"program:{path.stem}", "program", str(path.resolve())))
        elif low.startswith("store:"):
            raise ValueError("give a program store with --programs DIR, not in --methods")
        elif low in baselines:
            specs.append(MethodSpec(low, "baseline", low))
        else:
            raise ValueError(
                f"unknown method {item!r}; use builtin, builtin:DETECTOR, program:FILE, none, "
                f"or a baseline ({', '.join(sorted(baselines))})"
            )
    if programs_dir is not None:
        directory = Path(programs_dir).expanduser().resolve()
        specs.append(MethodSpec(f"store:{directory.name}", "store", str(directory)))
    names = [s.name for s in specs]
    duplicated = repeated(names)
    if duplicated:
        raise ValueError(f"method(s) given twice: {', '.join(duplicated)}")
    if not specs:
        raise ValueError("no methods given")
    per_detector: dict[str, list[MethodSpec]] = {}
    for det in detectors:
        methods = list(specs)
        if cross:
            for other in detectors:
                name = f"builtin:{other}"
                if other != det and name not in names:
                    methods.append(MethodSpec(name, "cross", other))
        per_detector[det] = methods
    return per_detector


@dataclass(frozen=True)
class CellSpec:
    """What a worker needs to compute one cell (the program travels by value)."""

    method: str
    seed: int
    config_hash: str
    program: SynthesisProgram | None = None
    error: str | None = None  #: set when the program could not even be resolved


@dataclass(frozen=True)
class Group:
    """A unit of work: cells sharing a dataset, a detector and base fits (see module docstring)."""

    dataset: str
    path: str
    detector: str
    split: str
    seeds: tuple[int, ...]
    cells: tuple[CellSpec, ...]
    cost: float = 0.0
    blas_threads: int | None = None
    #: Seconds a program may run (None: EnhancedDetector's default). A limit, not a setting of the
    #: method: a program that finishes gives the same rows, so it is not in the config hash.
    program_timeout: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        seeds = ",".join(map(str, self.seeds))
        return f"{self.dataset}/{self.detector}/seed {seeds}"


@dataclass
class Plan:
    groups: list[Group]
    n_planned: int  #: cells in the full grid
    n_missing: int  #: cells not yet in the store (the ones the groups hold)
    config: dict[str, Any]


def dataset_path(data_dir: str | Path, name: str) -> Path:
    """The file of dataset ``name`` in ``data_dir`` (:func:`llmdas.data.dataset_file`)."""
    path = dataset_file(data_dir, name)
    if path is None:
        hint = suggest_dataset(data_dir, name)
        raise FileNotFoundError(f"dataset {name!r} not found in {data_dir}{hint}")
    return path


def list_dataset_names(data_dir: str | Path) -> list[str]:
    """:func:`llmdas.data.list_datasets` of ``data_dir``, which must exist."""
    return list_datasets(require_dir(data_dir, "data directory"))


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _shape_of(path: Path) -> tuple[int, int]:
    """(rows, features) of a dataset file, cheaply for ``.npz`` (header only)."""
    if path.suffix == ".npz" and zipfile.is_zipfile(path):
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            shape = data["X"].shape
        return int(shape[0]), int(shape[1]) if len(shape) > 1 else 1
    from llmdas.data import load_dataset

    X, _ = load_dataset(path)
    return X.shape


def enhanced_defaults() -> dict[str, str]:
    """The public constructor defaults of ``EnhancedDetector`` that shape every cell's result,
    and its ``METHOD_VERSION`` (what it computes with them).

    They are part of the configuration hash, so that a change of defaults or of the method (say,
    of the fusion) makes a rerun recompute cells instead of mixing old and new results.
    """
    from llmdas.enhanced import METHOD_VERSION, EnhancedDetector

    params = EnhancedDetector().get_params(deep=False)
    for key in ("detector", "program", "random_state", "prefit", "n_jobs"):
        params.pop(key, None)
    params["method_version"] = METHOD_VERSION
    return {key: repr(value) for key, value in sorted(params.items())}


def detector_identity(detector: str) -> str:
    """Class and constructor parameters of a registry detector, for the configuration hash.

    A registry entry that moves to another implementation (say, an llmdas subclass of a PyOD
    detector) then changes the hash, and a rerun recomputes instead of mixing results.
    """
    from llmdas.detectors import make_detector

    try:
        obj = make_detector(detector)
    except ImportError:  # e.g. DRL without torch: the cells will record the error
        return f"{detector}: unavailable"
    params = obj.get_params(deep=False) if hasattr(obj, "get_params") else {}
    params.pop("random_state", None)
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}{sorted((k, repr(v)) for k, v in params.items())}"


def config_hash(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def estimate_cost(detector: str, n_train: int, n_test: int, d: int, n_cells: int, n_fits: int):
    """A rough relative cost of a group, used only to start the longest groups first."""
    n = n_train + n_test
    if detector == "OCSVM":
        base = 2e-6 * n_train * n * max(d, 1) ** 0.5
    elif detector in ("KNN", "LOF"):
        base = 1e-6 * n_train * n
    else:
        base = 2e-5 * n * d
    per_cell = 1.0 + 3e-5 * n_train * math.log2(n_train + 2) * max(d, 1) ** 0.5
    if detector == "OCSVM":
        per_cell += 1e-6 * n_train * n_train * max(d, 1) ** 0.5 / 10
    return n_fits * base + n_cells * per_cell


def _program_stores(
    detectors: list[str], methods: dict[str, list[MethodSpec]]
) -> dict[str, dict[str, SynthesisProgram]]:
    """The program stores that ``store:`` methods name, each loaded once, by directory; warns of
    a detector a store has no program for (its cells are recorded as errors)."""
    from llmdas.programs import load_store

    stores: dict[str, dict[str, SynthesisProgram]] = {}
    for det in detectors:
        for spec in methods[det]:
            if spec.kind != "store":
                continue
            if spec.arg not in stores:
                stores[spec.arg] = load_store(spec.arg)
            if det not in stores[spec.arg]:
                warnings.warn(
                    f"program store {spec.arg} holds no program for {det} (it has "
                    f"{', '.join(sorted(stores[spec.arg])) or 'none'}): the {spec.name} cells of "
                    f"{det} are recorded as errors",
                    stacklevel=3,
                )
    return stores


def _missing_cells(
    dataset: str,
    detector: str,
    specs: list[MethodSpec],
    stores: dict[str, dict[str, SynthesisProgram]],
    identity: dict,
    defaults: dict,
    seeds: list[int],
    existing: set[tuple],
) -> dict[int, list[CellSpec]]:
    """The cells of one dataset and detector that ``existing`` lacks, by seed.

    A cell's hash covers ``identity`` (protocol, split, data and detector), the method, its
    program's source and the enhancement defaults, so a change to any of them recomputes it. A
    program that cannot be loaded gives cells that fail, saying why, when they run.
    """
    cells_by_seed: dict[int, list[CellSpec]] = {}
    for spec in specs:
        try:
            program = spec.program_for(detector, stores.get(spec.arg))
            error = None
        except (LookupError, ValueError, OSError) as exc:
            program, error = None, f"{type(exc).__name__}: {exc}"
        payload = {
            **identity,
            "method": spec.name,
            "program_sha256": program.sha256 if program is not None else None,
            "enhanced": defaults if spec.kind != "none" else None,
        }
        chash = config_hash(payload)
        for seed in seeds:
            if (dataset, detector, spec.name, int(seed), chash) not in existing:
                cells_by_seed.setdefault(int(seed), []).append(
                    CellSpec(spec.name, int(seed), chash, program, error)
                )
    return cells_by_seed


def make_plan(
    *,
    data_dir: str | Path,
    datasets: list[str],
    detectors: list[str],
    methods: dict[str, list[MethodSpec]],
    seeds: list[int],
    split: str,
    existing: set[tuple] | None = None,
    blas_threads: int | None = None,
    program_timeout: float | None = None,
) -> Plan:
    """Build the groups that compute every cell missing from ``existing`` (store keys)."""
    from llmdas.detectors import canonical_name

    if split not in ("paper", "random"):
        raise ValueError(f"split must be 'paper' or 'random', got {split!r}")
    if not seeds:
        raise ValueError("no seeds given")
    if len(set(seeds)) != len(seeds):
        raise ValueError("a seed is given twice")
    detectors = [canonical_name(d) for d in detectors]
    existing = existing or set()
    defaults = enhanced_defaults()
    stores = _program_stores(detectors, methods)

    groups: list[Group] = []
    identities: dict[str, str] = {}
    n_planned = 0
    for name in datasets:
        path = dataset_path(data_dir, name)
        data_sha = _file_sha256(path)
        try:
            n_rows, d = _shape_of(path)
        except (ValueError, OSError):  # unreadable: its cells fail, saying why, when they run
            n_rows, d = 0, 0
        n_train = max(2, n_rows // 2)  # an estimate; only used to order the work
        for det in detectors:
            if det not in identities:
                identities[det] = detector_identity(det)
            identity = {
                "protocol": PROTOCOL_VERSION,
                "split": split,
                "dataset_sha256": data_sha,
                "detector": identities[det],
            }
            cells_by_seed = _missing_cells(
                name, det, methods[det], stores, identity, defaults, seeds, existing
            )
            n_planned += len(methods[det]) * len(seeds)
            if not cells_by_seed:
                continue
            shared = det in DETERMINISTIC_DETECTORS and split == "paper"
            seed_sets = [tuple(cells_by_seed)] if shared else [(s,) for s in cells_by_seed]
            for seed_set in seed_sets:
                cells = tuple(c for s in seed_set for c in cells_by_seed[s])
                cost = estimate_cost(
                    det, n_train, n_rows - n_train, d, len(cells), 1 if shared else len(seed_set)
                )
                groups.append(
                    Group(
                        dataset=name,
                        path=str(path),
                        detector=det,
                        split=split,
                        seeds=seed_set,
                        cells=cells,
                        cost=cost,
                        blas_threads=blas_threads,
                        program_timeout=program_timeout,
                    )
                )
    groups.sort(key=lambda g: -g.cost)  # longest first
    config = {
        "data_dir": str(Path(data_dir).resolve()),
        "datasets": list(datasets),
        "detectors": detectors,
        "methods": {det: [s.name for s in specs] for det, specs in methods.items()},
        "seeds": [int(s) for s in seeds],
        "split": split,
        "enhanced": defaults,
        "program_timeout": program_timeout,
        "detector_impl": identities,
        "protocol": PROTOCOL_VERSION,
    }
    n_missing = sum(len(g.cells) for g in groups)
    return Plan(groups=groups, n_planned=n_planned, n_missing=n_missing, config=config)
