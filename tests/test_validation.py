import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from sklearn_mistral import InvalidInputError
from sklearn_mistral._validation import check_texts


@pytest.mark.parametrize(
    "X",
    [
        ["a", "b"],
        ("a", "b"),
        np.array(["a", "b"]),
        np.array(["a", "b"], dtype=object),
        np.array([["a"], ["b"]], dtype=object),
        pd.Series(["a", "b"], index=[10, 20]),
        pd.DataFrame({"text": ["a", "b"]}),
        pd.Series(["a", "b"], dtype="string"),
    ],
    ids=["list", "tuple", "array", "object-array", "column-array", "series", "one-column-frame", "string-dtype"],
)
def test_check_texts_accepts_text_columns(X):
    texts = check_texts(X)

    assert texts == ["a", "b"]
    assert all(type(text) is str or isinstance(text, str) for text in texts)


def test_check_texts_accepts_empty_list():
    assert check_texts([]) == []


@pytest.mark.parametrize(
    "X, match",
    [
        ("one text", "Wrap one text in a list"),
        (b"bytes", "got a single bytes"),
        (scipy.sparse.csr_matrix(np.eye(2)), "sparse matrix"),
        (pd.DataFrame({"a": ["x"], "b": ["y"]}), "exactly one text column"),
        (np.array([["a", "b"]]), r"shape \(1, 2\)"),
        (42, "got int"),
    ],
    ids=["str", "bytes", "sparse", "two-columns", "2d-array", "int"],
)
def test_check_texts_rejects_wrong_container(X, match):
    with pytest.raises(TypeError, match=match):
        check_texts(X)


@pytest.mark.parametrize(
    "bad, fragment",
    [
        (None, "is missing (None)"),
        (float("nan"), "is missing (nan)"),
        (pd.NA, "is missing (<NA>)"),
        (3, "is int 3, not str"),
        (2.5, "is float 2.5, not str"),
        (b"cough", "is bytes"),
        ("", "is an empty string"),
        ("  \n\t", "is whitespace only"),
        ("fever \ud800 chills", "lone surrogate"),
    ],
    ids=["none", "nan", "pd-na", "int", "float", "bytes", "empty", "whitespace", "surrogate"],
)
def test_check_texts_names_bad_row(bad, fragment):
    X = ["fine", "also fine", bad]

    with pytest.raises(InvalidInputError) as info:
        check_texts(X)

    message = str(info.value)
    assert "row 2 " in message
    assert fragment in message
    assert "Drop or fill" in message
    assert info.value.rows == [2]


def test_check_texts_names_index_label_of_series():
    X = pd.Series(["ok", None], index=["patient-a", "patient-b"])

    with pytest.raises(InvalidInputError, match=r"row 1 \(index label 'patient-b'\) is missing"):
        check_texts(X)


def test_check_texts_lists_all_bad_rows():
    X = ["ok"] + [None] * 8

    with pytest.raises(InvalidInputError) as info:
        check_texts(X)

    assert info.value.rows == list(range(1, 9))
    assert "8 of 9 texts" in str(info.value)
    assert "and 3 more" in str(info.value)


def test_invalid_input_error_is_value_error():
    with pytest.raises(ValueError):
        check_texts([None])
