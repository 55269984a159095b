"""llmdas: enhance tabular anomaly detectors with programmatically synthesized hard anomalies.

>>> from llmdas import EnhancedDetector, load_dataset, paper_split
>>> X, y = load_dataset("demo")
>>> X_train, X_test, y_test = paper_split(X, y)
>>> det = EnhancedDetector("PCA", random_state=0).fit(X_train)
>>> scores = det.decision_function(X_test)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Public names and the modules that define them. They are imported on first use, so that
# `import llmdas` stays cheap (the sandbox's child process imports this package too) and optional
# heavy dependencies load only when needed.
_EXPORTS = {
    "DETECTOR_NAMES": "llmdas.detectors",
    "make_detector": "llmdas.detectors",
    "EnhancedDetector": "llmdas.enhanced",
    "load": "llmdas.enhanced",
    # What fit, load and a program run may warn or raise, for `except` and warning filters.
    "ConstantColumnWarning": "llmdas.enhanced",
    "ConstantScoreWarning": "llmdas.enhanced",
    "FeatureNamesWarning": "llmdas.enhanced",
    "LabelColumnWarning": "llmdas.data",
    "ModelVersionWarning": "llmdas.enhanced",
    "ProgramFallbackWarning": "llmdas.enhanced",
    "SlowFitWarning": "llmdas.enhanced",
    "SmallSampleWarning": "llmdas.enhanced",
    "SyntheticCopiesWarning": "llmdas.enhanced",
    "ProgramError": "llmdas.sandbox",
    "SandboxUnavailableError": "llmdas.sandbox",
    "SynthesisProgram": "llmdas.program",
    "builtin_program": "llmdas.programs",
    "list_builtin": "llmdas.programs",
    "load_program": "llmdas.programs",
    "list_datasets": "llmdas.data",
    "load_dataset": "llmdas.data",
    "load_demo": "llmdas.data",
    "iter_features": "llmdas.data",
    "load_features": "llmdas.data",
    "paper_split": "llmdas.data",
    "random_split": "llmdas.data",
}

__all__ = sorted(_EXPORTS)

# The same names for type checkers, which do not run __getattr__ (ruff cannot read __all__).
if TYPE_CHECKING:
    from llmdas.data import (  # noqa: F401
        LabelColumnWarning,
        iter_features,
        list_datasets,
        load_dataset,
        load_demo,
        load_features,
        paper_split,
        random_split,
    )
    from llmdas.detectors import DETECTOR_NAMES, make_detector  # noqa: F401
    from llmdas.enhanced import (  # noqa: F401
        ConstantColumnWarning,
        ConstantScoreWarning,
        EnhancedDetector,
        FeatureNamesWarning,
        ModelVersionWarning,
        ProgramFallbackWarning,
        SlowFitWarning,
        SmallSampleWarning,
        SyntheticCopiesWarning,
        load,
    )
    from llmdas.program import SynthesisProgram  # noqa: F401
    from llmdas.programs import builtin_program, list_builtin, load_program  # noqa: F401
    from llmdas.sandbox import ProgramError, SandboxUnavailableError  # noqa: F401


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'llmdas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
