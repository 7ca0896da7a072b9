"""Convert the many shapes of a text column into a list of ``str``, or name the invalid rows."""

import math
import numbers
from urllib.parse import urlsplit

import numpy as np

from ._errors import InvalidInputError

__all__ = ["check_base_url", "check_texts"]

# How many offending rows one error message lists before summarizing the rest.
_MAX_ROWS_LISTED = 5


def check_texts(X):
    """Return the texts of ``X`` as a list of ``str``.

    Accepts a list, tuple, 1-D array, pandas Series, ``(n, 1)`` array or one-column
    DataFrame. Raises ``TypeError`` for input of the wrong kind (a bare string, a
    sparse matrix, several columns) and :class:`InvalidInputError` naming every bad
    row (missing values, non-strings, empty or whitespace-only strings, lone
    surrogates) before any request is sent.
    """
    column, labels = _as_column(X)
    texts = list(column)

    problems = list(_find_problems(texts))
    if problems:
        message = _describe_problems(problems, labels, len(texts))
        raise InvalidInputError(message, rows=[row for row, _ in problems])
    return texts


def _as_column(X):
    """Return ``X`` as a 1-D sequence and its row labels (``None`` unless pandas)."""
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"X must be a list-like of strings, got a single {type(X).__name__} "
            f"({_preview(X)}). Wrap one text in a list: transform([text])."
        )
    if hasattr(X, "tocsr") or hasattr(X, "todense"):
        raise TypeError(
            f"X must be a column of strings, got a sparse matrix of shape {X.shape}. "
            "Embeddings take raw text: pass the text column itself."
        )

    if _is_dataframe(X):
        return _dataframe_column(X)
    if hasattr(X, "iloc") and hasattr(X, "index"):
        return X.array, X.index

    if isinstance(X, (dict, set, frozenset)) or not hasattr(X, "__getitem__"):
        # A dict iterates over its keys and a set in no fixed order: neither is a column.
        raise TypeError(
            f"X must be an ordered list-like of strings (list, tuple, array, Series or "
            f"one-column DataFrame), got {type(X).__name__}. Convert it, e.g. list(X.values()) "
            "for a dict."
        )

    if isinstance(X, np.ndarray):
        return _array_column(X), None
    if not hasattr(X, "__len__") or not hasattr(X, "__iter__"):
        raise TypeError(
            f"X must be a list-like of strings (list, tuple, array, Series or one-column "
            f"DataFrame), got {type(X).__name__}."
        )
    return X, None


def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "iloc")


def _dataframe_column(X):
    if X.shape[1] != 1:
        raise TypeError(
            f"X must hold exactly one text column, got a DataFrame with {X.shape[1]} "
            f"columns {list(X.columns)[:10]}. Select the text column, for example "
            "with ColumnTransformer([('text', MistralEmbeddingVectorizer(), 'text')])."
        )
    return X.iloc[:, 0].array, X.index


def _array_column(X):
    if X.ndim == 1:
        return X
    if X.ndim == 2 and X.shape[1] == 1:
        return X[:, 0]
    raise TypeError(
        f"X must be a 1-D array of strings or a single column of shape (n_samples, 1), "
        f"got an array of shape {X.shape}. Select the text column first."
    )


def _find_problems(texts):
    """Yield ``(row, description)`` for every text that cannot be sent."""
    # One cheap pass finds the suspects: the full checks run only on them, which keeps
    # validation of 10^5 clean texts to a few tens of milliseconds.
    suspects = [
        row
        for row, text in enumerate(texts)
        if type(text) is not str or not text or not text.isascii() or text.isspace()
    ]
    for row in suspects:
        text = texts[row]
        problem = _check_string(text) if isinstance(text, str) else _describe_non_string(text)
        if problem:
            yield row, problem


def _check_string(text):
    if not text.strip():
        kind = "an empty string" if not text else "whitespace only"
        return f"is {kind}, which carries nothing to embed"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"contains a lone surrogate {text[exc.start]!r} at character {exc.start}, which is not valid UTF-8"
    return None


def _describe_non_string(value):
    if value is None or _is_missing(value):
        return f"is missing ({value!r})"
    if isinstance(value, bytes):
        return f"is bytes ({_preview(value)}), not str; decode it first, e.g. value.decode('utf-8')"
    return f"is {type(value).__name__} {_preview(value)}, not str"


def _is_missing(value):
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return math.isnan(value)
    # pandas.NA and pandas.NaT both compare as unknown; test by type name to avoid importing pandas.
    return type(value).__name__ in {"NAType", "NaTType"}


def _describe_problems(problems, labels, n_samples):
    lines = [f"{len(problems)} of {n_samples} texts cannot be embedded:"]
    for row, problem in problems[:_MAX_ROWS_LISTED]:
        where = f"row {row}"
        if labels is not None and labels[row] != row:
            where += f" (index label {labels[row]!r})"
        lines.append(f"  {where} {problem}")
    if len(problems) > _MAX_ROWS_LISTED:
        rest = [row for row, _ in problems[_MAX_ROWS_LISTED:]]
        lines.append(f"  and {len(rest)} more, at rows {_preview(rest)}")
    lines.append(
        "Drop or fill these rows before embedding. With pandas, X.dropna() drops "
        "missing values and X[X.str.strip() != ''] drops blank texts."
    )
    return "\n".join(lines)


def _preview(value, width=60):
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def check_base_url(base_url):
    """Raise ``ValueError`` unless ``base_url`` is an http(s) URL that a path can extend."""
    try:
        parts = urlsplit(base_url)
        # Reading the port raises ValueError when it is out of range.
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"base_url={base_url!r} is not a valid URL ({exc}).") from None

    problem = None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "it must start with http:// or https:// and name a host"
    elif parts.query or parts.fragment:
        problem = "requests go to {base_url}/embeddings, so it cannot have a query or fragment"
    elif base_url != base_url.strip() or " " in base_url:
        problem = "it contains spaces"
    if problem:
        raise ValueError(
            f"base_url={base_url!r} is invalid: {problem}. "
            "Example: base_url='https://api.mistral.ai/v1'."
        )
