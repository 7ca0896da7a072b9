"""Check that the API key stays out of everything a user can print, log, pickle or read on disk.

Each scenario runs a transform against the loopback fake with a distinctive key, and
the transform succeeds or fails. Then every place a key could leak into is searched:
the estimator's reprs, parameters and pickles, and the log records of every logger at
DEBUG, httpx and httpcore included. The search also covers the exception with its
chained causes, tracebacks and pickle, the cache files and the fake's request records.
"""

import io
import logging
import pickle
import traceback
import uuid
import warnings
from pathlib import Path

import joblib
import pytest

from sklearn_mistral import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    MissingAPIKeyError,
    MistralEmbeddingVectorizer,
    ServerError,
)
from sklearn_mistral.testing import FakeMistralAPI

TEXTS = ["a dry cough", "a skin rash", "joint pain in the knees"]

# Environment variable for the scenario whose key the fake does not accept.
WRONG_KEY_ENV = "SKLEARN_MISTRAL_TEST_WRONG_KEY"


@pytest.fixture
def secret():
    return "sk-SECRET-" + uuid.uuid4().hex


@pytest.fixture
def debug_logs(caplog):
    """Capture the records of every logger at DEBUG, the HTTP libraries' included."""
    caplog.set_level(logging.DEBUG)
    for name in ("sklearn_mistral", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _chain(error):
    """Yield ``error`` and every exception chained to it as cause or context."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _exception_texts(error):
    """Return each rendering of ``error`` and its chain that a user could print or ship."""
    texts = {
        "traceback": "".join(traceback.format_exception(error)),
        "traceback with locals": "".join(
            traceback.TracebackException.from_exception(error, capture_locals=True).format()
        ),
    }
    for depth, link in enumerate(_chain(error)):
        texts[f"str of exception {depth}"] = str(link)
        texts[f"repr of exception {depth}"] = repr(link)
        texts[f"attributes of exception {depth}"] = repr(vars(link))
    texts["pickled exception"] = pickle.dumps(error)
    return texts


def _log_texts(caplog):
    texts = {"log output": caplog.text}
    for i, record in enumerate(caplog.records):
        # The record's fields carry what a structured or JSON handler would send.
        texts[f"log record {i} ({record.name})"] = repr(vars(record))
    return texts


def _estimator_texts(vectorizer):
    buffer = io.BytesIO()
    joblib.dump(vectorizer, buffer)
    return {
        "repr": repr(vectorizer),
        "HTML repr": vectorizer._repr_html_(),
        "get_params": repr(vectorizer.get_params()),
        "pickle": pickle.dumps(vectorizer),
        "joblib": buffer.getvalue(),
    }


def _cache_texts(cache_dir):
    files = sorted(path for path in Path(cache_dir).rglob("*") if path.is_file())
    return {f"cache file {path.name}": path.read_bytes() for path in files}


def find_leaks(secret, texts):
    """Return the names of the places in ``texts`` (str or bytes) that contain ``secret``."""
    leaks = []
    for place, text in texts.items():
        needle = secret.encode() if isinstance(text, bytes) else secret
        if needle in text:
            leaks.append(place)
    return leaks


def _run(vectorizer, expected_error):
    """Transform ``TEXTS`` and return the error raised, which must be ``expected_error``."""
    if expected_error is None:
        vectorizer.transform(TEXTS)
        return None
    with pytest.raises(expected_error) as error_info:
        vectorizer.transform(TEXTS)
    return error_info.value


def _all_texts(vectorizer, error, fake, cache_dir, caplog, caught_warnings):
    texts = {
        **_estimator_texts(vectorizer),
        **_log_texts(caplog),
        **_cache_texts(cache_dir),
        "fake request records": repr(fake.requests),
        "warnings": repr([str(warning.message) for warning in caught_warnings]),
    }
    if error is not None:
        texts.update(_exception_texts(error))
    return texts


# Each scenario maps to the fault to inject, extra vectorizer parameters and the
# expected error.
SCENARIOS = {
    "success": (None, {}, None),
    "401 injected": (("401", {}), {}, AuthenticationError),
    "500 after retries": (("500", {"times": 2}), {"max_retries": 1}, ServerError),
    "dropped connection": (("drop", {"times": 2}), {"max_retries": 1}, APIConnectionError),
    "timeout": (("slow", {"delay": 0.5}), {"timeout": 0.1, "max_retries": 0}, APITimeoutError),
    "422 output_dimension": (None, {"model": "codestral-embed", "output_dimension": 4000}, BadRequestError),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_key_absent_after_transform(scenario, secret, debug_logs, tmp_path):
    fault, params, expected_error = SCENARIOS[scenario]
    cache_dir = tmp_path / "cache"

    with FakeMistralAPI(api_key=secret) as fake, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if fault is not None:
            kind, options = fault
            fake.inject(kind, **options)
        vectorizer = MistralEmbeddingVectorizer(
            base_url=fake.base_url, api_key_env=fake.api_key_env, cache_dir=str(cache_dir), **params
        )
        error = _run(vectorizer, expected_error)
        texts = _all_texts(vectorizer, error, fake, cache_dir, debug_logs, caught)
        authorized = [record.authorized for record in fake.requests]

    # The key was sent and accepted wherever the fake recorded a request. A timed-out
    # request is recorded only when its delayed response is ready, after this test.
    assert all(authorized)
    if scenario != "timeout":
        assert authorized
    assert any(record.name.startswith("httpcore") for record in debug_logs.records)
    assert find_leaks(secret, texts) == []


def test_key_absent_after_rejected_key(secret, debug_logs, tmp_path, monkeypatch):
    # The server rejects the key from the environment, which is the case where an
    # error message is most likely to show it.
    monkeypatch.setenv(WRONG_KEY_ENV, secret)
    cache_dir = tmp_path / "cache"

    with FakeMistralAPI(api_key="another-key") as fake, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vectorizer = MistralEmbeddingVectorizer(base_url=fake.base_url, api_key_env=WRONG_KEY_ENV, cache_dir=str(cache_dir))
        error = _run(vectorizer, AuthenticationError)
        texts = _all_texts(vectorizer, error, fake, cache_dir, debug_logs, caught)

    assert error.status_code == 401
    assert find_leaks(secret, texts) == []


def test_find_leaks_sees_key_in_debug_log(secret, debug_logs):
    # Proves the search would catch a key that an HTTP library logged at DEBUG.
    logging.getLogger("httpcore.http11").debug("send_request_headers headers=%r", {"Authorization": f"Bearer {secret}"})

    assert find_leaks(secret, _log_texts(debug_logs)) == ["log output", "log record 0 (httpcore.http11)"]


def test_find_leaks_sees_key_in_traceback_locals(secret):
    # Proves the search would catch a key held in a local variable of a failing frame.
    def send(api_key):
        raise ServerError("boom", status_code=500, path="/v1/embeddings")

    with pytest.raises(ServerError) as error_info:
        send(secret)

    assert find_leaks(secret, _exception_texts(error_info.value)) == ["traceback with locals"]


def test_key_passed_as_variable_name_not_echoed(fake, tmp_path):
    key_by_mistake = "sk-Mixed-Case-" + uuid.uuid4().hex
    vectorizer = MistralEmbeddingVectorizer(
        base_url=fake.base_url, api_key_env=key_by_mistake, cache_dir=str(tmp_path / "cache")
    )

    with pytest.raises(MissingAPIKeyError) as info:
        vectorizer.transform(["text"])

    assert key_by_mistake not in str(info.value)
    assert "not the key itself" in str(info.value)
    assert fake.requests == []
