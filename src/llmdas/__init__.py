"""llmdas: enhance tabular anomaly detectors with programmatically synthesized hard anomalies."""

__version__ = "0.1.0"
