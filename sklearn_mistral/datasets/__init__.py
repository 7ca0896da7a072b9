"""Small real data sets shipped with the package, for examples and tests."""

from ._symptom2disease import load_symptom2disease

__all__ = ["load_symptom2disease"]
