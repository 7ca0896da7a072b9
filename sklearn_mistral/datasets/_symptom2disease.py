"""Symptom2Disease: 1200 patient descriptions of symptoms, labelled with 24 diseases."""

import csv
import os

from sklearn.utils import Bunch

__all__ = ["load_symptom2disease"]

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "Symptom2Disease.csv")


def load_symptom2disease(*, as_frame=False):
    """Load the Symptom2Disease texts and labels.

    1200 short descriptions written as a patient would, 50 for each of 24 diseases,
    from Mistral's cookbook (MIT licence), originally a Kaggle data set. Quirks kept as
    they are: 43 texts occur more than once, label casing varies ("Psoriasis",
    "allergy"), and some texts have surrounding spaces or non-ASCII punctuation.

    Parameters
    ----------
    as_frame : bool, default=False
        Also return the data as a pandas DataFrame with columns ``text`` and ``label``
        (requires pandas).

    Returns
    -------
    data : Bunch
        ``text`` (list of str), ``label`` (list of str), ``frame`` (DataFrame or None)
        and ``path`` (the CSV file).

    Examples
    --------
    >>> from sklearn_mistral.datasets import load_symptom2disease
    >>> data = load_symptom2disease()
    >>> len(data.text), len(set(data.label))
    (1200, 24)
    """
    with open(DATA_PATH, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    texts = [row["text"] for row in rows]
    labels = [row["label"] for row in rows]

    frame = None
    if as_frame:
        import pandas as pd

        frame = pd.DataFrame({"text": texts, "label": labels})
    return Bunch(text=texts, label=labels, frame=frame, path=DATA_PATH)
