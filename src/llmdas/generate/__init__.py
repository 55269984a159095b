"""Stage 1 of LLM-DAS: ask an LLM for a synthesis program, test it, repair it, review it.

For one detector the loop is::

    step 1   describe the detector and write its pseudo-code          (one LLM call, shared)
    for each of N candidates:
      step 2   write generate_hard_anomalies(...)                      (LLM call)
      extract  the ```python block (prose around it is tolerated)
      check    static check of the source                             (llmdas.sandbox)
      run      in the sandbox, on llmdas's own probe data, against the detector fitted on it
      review   validity, hardness, novelty (+ optional LLM reviewer)
      on any failure: send error + traceback + code back (repair prompt), at most K rounds
    keep the best working candidate -> SynthesisProgram + full transcript

The LLM never sees any data, and neither does the program during generation: the probe data set
is made here (:func:`make_probe_data`, a seeded Gaussian mixture with correlated, skewed and
constant features), never taken from the user. Every step is logged on ``llmdas.generate`` and
recorded in the transcript.
"""

from llmdas.generate.answers import ParsedAnswer, normalize_source, parse_answer
from llmdas.generate.loop import (
    TRANSCRIPT_FORMAT,
    CandidateReport,
    GenerationConfig,
    GenerationError,
    GenerationInterrupted,
    GenerationResult,
    generate_program,
)
from llmdas.generate.probe import fit_probe_detector, make_probe_data
from llmdas.generate.review import ReviewScores, review_output
from llmdas.generate.transcript import transcript_markdown

__all__ = [
    "TRANSCRIPT_FORMAT",
    "CandidateReport",
    "GenerationConfig",
    "GenerationError",
    "GenerationInterrupted",
    "GenerationResult",
    "ParsedAnswer",
    "ReviewScores",
    "fit_probe_detector",
    "generate_program",
    "make_probe_data",
    "normalize_source",
    "parse_answer",
    "review_output",
    "transcript_markdown",
]
