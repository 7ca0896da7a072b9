"""Faults, malformed responses and bad input, against the loopback fake: nothing is lost or wrong.

Every test counts what the fake received, so a retry that should not happen, a batch
sent twice or a request sent before input validation shows up as a failed assert.
"""

import json
import logging
import pickle
import re
import urllib.parse

import httpx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from sklearn_mistral import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InvalidInputError,
    MistralEmbeddingError,
    MistralEmbeddingVectorizer,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TextTooLongError,
    track_usage,
)
from sklearn_mistral import _response, _throttle
from sklearn_mistral._client import _display_url
from sklearn_mistral._response import parse_embeddings
from sklearn_mistral._tokens import get_token_counter
from sklearn_mistral.datasets import load_symptom2disease
from sklearn_mistral.testing import FakeMistralAPI, FaultPlan, fake_embedding

TEXTS = ["a dry cough", "a skin rash", "joint pain in the knees"]

# Matches the retry WARNING: "... after HTTP 500 (request id ...): retry 2 of 5 in 0.31 s".
RETRY_LINE = re.compile(r"^retrying a batch of \d+ texts after (?P<failure>.+): retry (?P<retry>\d+) of (?P<max>\d+) in (?P<wait>[\d.]+) s$")


@pytest.fixture
def fast_backoff(monkeypatch):
    """Shrink the exponential backoff to 0.05 to 0.1 s for the first retry, doubling after."""
    monkeypatch.setattr(_throttle, "_BACKOFF_BASE", 0.1)


@pytest.fixture
def retry_log(caplog):
    """Return a function that lists the retry WARNINGs logged so far, parsed."""
    caplog.set_level(logging.WARNING, logger="sklearn_mistral")

    def read():
        lines = []
        for record in caplog.records:
            match = RETRY_LINE.match(record.getMessage())
            if record.name == "sklearn_mistral" and match:
                assert record.levelno == logging.WARNING
                lines.append(match.groupdict())
        return lines

    return read


def assert_rows_are_fake_embeddings(X, texts):
    assert X.shape == (len(texts), 1024)
    for row, text in zip(X, texts):
        np.testing.assert_array_equal(row, fake_embedding(text))


def sent_texts(records):
    return [text for record in records for text in record.inputs]


# Retries of transient faults


@pytest.mark.parametrize(
    "kind, options, failure",
    [
        ("429", {"retry_after": 0.05, "header": "retry-after-ms"}, "HTTP 429 (request id "),
        ("500", {}, "HTTP 500 (request id "),
        ("502", {}, "HTTP 502 (request id "),
        ("503", {}, "HTTP 503 (request id "),
        ("504", {}, "HTTP 504 (request id "),
        ("drop", {}, "RemoteProtocolError, no response"),
    ],
)
def test_transient_fault_retried_until_success(kind, options, failure, make_vectorizer, fake, fast_backoff, retry_log):
    fake.inject(kind, times=2, **options)

    X = make_vectorizer().transform(TEXTS)

    assert_rows_are_fake_embeddings(X, TEXTS)
    assert [record.fault for record in fake.requests] == [kind, kind, None]
    assert [record.inputs for record in fake.requests] == [TEXTS] * 3
    retries = retry_log()
    assert [line["retry"] for line in retries] == ["1", "2"]
    assert all(line["max"] == "5" for line in retries)
    assert all(line["failure"].startswith(failure) for line in retries)


def test_retry_log_names_request_id(make_vectorizer, fake, fast_backoff, retry_log):
    fake.inject("500")

    make_vectorizer().transform(TEXTS)

    failed = fake.requests[0]
    assert retry_log()[0]["failure"] == f"HTTP 500 (request id {failed.request_id})"


def test_timeout_retried_until_success(make_vectorizer, fake, fast_backoff, retry_log):
    fake.inject("slow", delay=2.0)

    with track_usage() as usage:
        X = make_vectorizer(timeout=0.5).transform(TEXTS)

    assert_rows_are_fake_embeddings(X, TEXTS)
    assert usage.n_requests == 2
    assert usage.n_retries == 1
    assert retry_log()[0]["failure"] == "ReadTimeout, no response within timeout=0.5 s"


def test_timeouts_raise_api_timeout_error(make_vectorizer, fake, fast_backoff):
    fake.inject("slow", times=2, delay=2.0)

    with track_usage() as usage, pytest.raises(APITimeoutError, match=r"timeout=0\.5 s") as caught:
        make_vectorizer(timeout=0.5, max_retries=1).transform(TEXTS)

    assert usage.n_requests == 2
    assert caught.value.__notes__ == ["Gave up after 2 attempts (max_retries=1)."]


@pytest.mark.parametrize(
    "kind, error_type, status",
    [
        ("429", RateLimitError, 429),
        ("500", ServerError, 500),
        ("503", ServerError, 503),
        ("504", ServerError, 504),
        ("drop", APIConnectionError, None),
    ],
)
def test_retries_exhausted_raise_typed_error(kind, error_type, status, make_vectorizer, fake, fast_backoff, retry_log):
    options = {"retry_after": 0.01, "header": "retry-after-ms"} if kind == "429" else {}
    fake.inject(kind, times=3, **options)

    with pytest.raises(error_type) as caught:
        make_vectorizer(max_retries=2).transform(TEXTS)

    assert len(fake.requests) == 3
    assert len(retry_log()) == 2
    assert getattr(caught.value, "status_code", None) == status
    assert caught.value.__notes__ == ["Gave up after 3 attempts (max_retries=2)."]


def test_max_retries_zero_sends_once(make_vectorizer, fake, retry_log):
    fake.inject("503")

    with pytest.raises(ServerError):
        make_vectorizer(max_retries=0).transform(TEXTS)

    assert len(fake.requests) == 1
    assert retry_log() == []


# Waits the server requests


@pytest.mark.parametrize(
    "header, logged_wait",
    [
        # Retry-After and ratelimitbysize-reset carry whole seconds, so 0.3 s rounds up to 1.
        ("retry-after", 1.0),
        ("ratelimitbysize-reset", 1.0),
        ("retry-after-ms", 0.3),
        # An HTTP date names a whole second of the wall clock, 0.3 s to 1.3 s ahead.
        ("retry-after-date", None),
    ],
)
def test_requested_wait_honoured(header, logged_wait, make_vectorizer, fake, retry_log):
    fake.inject("429", retry_after=0.3, header=header)

    X = make_vectorizer().transform(TEXTS)

    assert_rows_are_fake_embeddings(X, TEXTS)
    assert len(fake.requests) == 2
    assert fake.early_retries == 0
    if logged_wait is not None:
        assert float(retry_log()[0]["wait"]) == logged_wait


def test_requested_wait_capped(make_vectorizer, fake, retry_log, monkeypatch):
    monkeypatch.setattr(_throttle, "MAX_REQUESTED_WAIT", 0.1)
    fake.inject("429", retry_after=30, header="retry-after")

    X = make_vectorizer().transform(TEXTS)

    assert_rows_are_fake_embeddings(X, TEXTS)
    assert float(retry_log()[0]["wait"]) == 0.1
    # The fake saw the retry arrive before its 30 s: the cap, not the header, decided.
    assert fake.early_retries == 1


def test_backoff_doubles_with_jitter(make_vectorizer, fake, fast_backoff, retry_log):
    fake.inject("500", times=3)

    make_vectorizer().transform(TEXTS)

    waits = [float(line["wait"]) for line in retry_log()]
    assert len(waits) == 3
    # Retry k waits between half and all of 0.1 * 2 ** (k - 1) s; the log rounds to 0.01.
    for k, wait in enumerate(waits, start=1):
        ceiling = 0.1 * 2 ** (k - 1)
        assert ceiling / 2 - 0.005 <= wait <= ceiling + 0.005


def test_backoff_waits_differ_between_batches(make_vectorizer, fake, fast_backoff, retry_log):
    texts = [f"symptom number {i}" for i in range(8)]
    fake.inject("500", times=8)

    make_vectorizer(batch_size=1, max_concurrency=8).transform(texts)

    waits = [line["wait"] for line in retry_log()]
    assert len(waits) == 8
    assert len(set(waits)) > 1


def test_throttle_pace_bounded_by_requested_wait():
    # Regression: with random 429s between accepted requests, each asking for 50 ms,
    # the pace once fell to about one request per second.
    clock = _ManualClock()
    throttle = _throttle.Throttle(max_concurrency=4, clock=clock)

    for step in range(50):
        clock.now = step * 0.1
        throttle.record_success()
        throttle.record_rate_limited(wait=0.05)

    # The throttle allows at most four times the longest wait requested between starts.
    assert throttle._interval <= 4 * 0.05


class _ManualClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


# Errors that are never retried


@pytest.fixture
def strict_fake():
    """A fake whose per-input limit is 10 tokens, so that a longer text gets a plain 400."""
    with FakeMistralAPI(max_tokens_per_input=10) as api:
        yield api


def _vectorizer_for(fake, tmp_path, **params):
    return MistralEmbeddingVectorizer(
        base_url=fake.base_url, api_key_env=fake.api_key_env, cache_dir=str(tmp_path / "cache"), **params
    )


@pytest.mark.parametrize(
    "case, error_type, status, message",
    [
        ("400", BadRequestError, 400, "over the limit of 10 tokens per input"),
        ("401", AuthenticationError, 401, "Unauthorized"),
        ("403", AuthenticationError, 403, "Forbidden"),
        ("404", BadRequestError, 404, "Invalid model: no-such-embed"),
        ("422", BadRequestError, 422, "body.output_dimension: Input should be less than or equal to 3072"),
    ],
)
def test_client_error_sent_once(case, error_type, status, message, strict_fake, tmp_path, retry_log):
    params = {"max_retries": 5}
    if case in ("401", "403"):
        strict_fake.inject(case)
    elif case == "404":
        params["model"] = "no-such-embed"
    elif case == "422":
        params.update(model="codestral-embed", output_dimension=4000)
    texts = ["a long description of a persistent dry cough at night"] if case == "400" else ["cough"]

    with pytest.raises(error_type) as caught:
        _vectorizer_for(strict_fake, tmp_path, **params).transform(texts)

    error = caught.value
    assert len(strict_fake.requests) == 1
    assert retry_log() == []
    assert error.status_code == status
    assert message in error.message
    assert error.request_id == strict_fake.requests[0].request_id
    assert error.path.endswith("/v1/embeddings")
    assert f"HTTP {status} from POST {error.path}: " in str(error)


@pytest.mark.parametrize("body_shape", ["mistral", "message", "detail"])
def test_unauthorized_body_shapes_parsed(body_shape, make_vectorizer, fake):
    fake.inject("401", body_shape=body_shape)

    with pytest.raises(AuthenticationError) as caught:
        make_vectorizer().transform(TEXTS)

    assert caught.value.message == "Unauthorized"
    assert caught.value.request_id == fake.requests[0].request_id


def test_api_error_omits_key(make_vectorizer, fake, monkeypatch):
    key = "sk-reliability-test-key-7f3a"
    monkeypatch.setenv(fake.api_key_env, key)

    with pytest.raises(AuthenticationError) as caught:
        make_vectorizer().transform(TEXTS)

    error = caught.value
    assert key not in str(error)
    assert key not in repr(vars(error))
    assert key.encode() not in pickle.dumps(error)


def test_api_error_pickle_keeps_attributes(make_vectorizer, fake):
    fake.inject("429", retry_after=0.01, header="retry-after-ms")

    with pytest.raises(RateLimitError) as caught:
        make_vectorizer(max_retries=0).transform(TEXTS)

    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is RateLimitError
    assert (copy.status_code, copy.message, copy.code, copy.request_id, copy.path) == (
        429,
        "Rate limit exceeded",
        "1300",
        fake.requests[0].request_id,
        urllib.parse.urlsplit(fake.base_url).path + "/embeddings",
    )


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://user:secret@api.example.com:8443/v1/embeddings?key=secret", "https://api.example.com:8443/v1/embeddings"),
        ("http://[::1]:8000/v1/embeddings", "http://[::1]:8000/v1/embeddings"),
        ("http://127.0.0.1/v1/embeddings", "http://127.0.0.1/v1/embeddings"),
    ],
)
def test_error_url_drops_credentials(url, shown):
    assert _display_url(url) == shown


def test_error_hierarchy():
    assert issubclass(TextTooLongError, InvalidInputError)
    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(APITimeoutError, APIConnectionError)
    for error_type in (BadRequestError, AuthenticationError, RateLimitError, ServerError, ResponseFormatError):
        assert issubclass(error_type, APIStatusError)
    for error_type in (InvalidInputError, APIConnectionError, APIStatusError):
        assert issubclass(error_type, MistralEmbeddingError)


# Limit errors: split and resend


@pytest.mark.parametrize("kind", ["400-too-many-tokens", "400-too-many-inputs"])
def test_limit_error_splits_batch(kind, make_vectorizer, fake, caplog):
    texts = [f"patient report {i}: fever and chills" for i in range(10)]
    fake.inject(kind)

    X = make_vectorizer().transform(texts)

    assert_rows_are_fake_embeddings(X, texts)
    statuses = [(record.status, len(record.inputs)) for record in fake.requests]
    assert statuses[0] == (400, 10)
    assert sorted(statuses[1:]) == [(200, 5), (200, 5)]
    assert sorted(sent_texts(fake.requests[1:])) == sorted(texts)
    assert "sending it in halves" in caplog.text


def test_limit_error_splits_until_batches_pass(make_vectorizer, fake):
    texts = [f"patient report {i}: fever and chills" for i in range(8)]
    fake.inject("400-too-many-tokens", times=2)

    X = make_vectorizer().transform(texts)

    assert_rows_are_fake_embeddings(X, texts)
    # 8 is rejected, then one half of 4: that half goes again as 2 + 2.
    assert [len(record.inputs) for record in fake.requests if record.status == 400] == [8, 4]
    assert sorted(len(record.inputs) for record in fake.requests if record.status == 200) == [2, 2, 4]
    assert sorted(sent_texts(record for record in fake.requests if record.status == 200)) == sorted(texts)


def test_limit_error_on_single_text_raises(make_vectorizer, fake):
    fake.inject("400-too-many-tokens")

    with pytest.raises(BadRequestError, match="Too many tokens overall"):
        make_vectorizer().transform(["one text"])

    assert len(fake.requests) == 1


# Malformed 200 responses


@pytest.mark.parametrize(
    "kind, problem",
    [
        ("html", "the body is not JSON (text/html; charset=utf-8)"),
        ("no-data", "the body has no 'data' list"),
        ("wrong-dim", "embedding lengths [1023, 1024], expected 1024"),
        ("missing-index", "'data' has 2 items for 3 inputs"),
        ("duplicate-index", "index 0 appears twice in 'data'"),
    ],
)
def test_malformed_body_raises_response_format_error(kind, problem, make_vectorizer, fake):
    fake.inject(kind)

    with pytest.raises(ResponseFormatError) as caught:
        make_vectorizer().transform(TEXTS)

    error = caught.value
    assert problem in error.message
    assert error.status_code == 200
    assert error.request_id == fake.requests[0].request_id
    assert len(fake.requests) == 1


@pytest.mark.parametrize("kind", ["wrong-dim", "duplicate-index"])
def test_malformed_body_caches_nothing(kind, make_vectorizer, fake):
    fake.inject(kind)
    with pytest.raises(ResponseFormatError):
        make_vectorizer().transform(TEXTS)

    X = make_vectorizer().transform(TEXTS)

    assert_rows_are_fake_embeddings(X, TEXTS)
    assert fake.requests[1].inputs == TEXTS


def test_shuffled_data_ordered_by_index(make_vectorizer, fake):
    fake.inject("shuffled")

    X = make_vectorizer().transform(TEXTS)

    assert fake.requests[0].fault == "shuffled"
    assert_rows_are_fake_embeddings(X, TEXTS)


def _ok_response(body):
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/embeddings")
    return httpx.Response(200, content=body, request=request, headers={"x-request-id": "abc123"})


@pytest.mark.parametrize(
    "body, problem",
    [
        (b'{"data": [{"embedding": [0.5, NaN], "index": 0}]}', "the embedding at index 0 contains NaN or infinite values"),
        (b'{"data": [{"embedding": [0.5, -Infinity], "index": 0}]}', "NaN or infinite"),
        (b'{"data": [{"embedding": [0.5, "x"], "index": 0}]}', "non-numeric value"),
        (b'{"data": [{"embedding": [0.5, 0.5], "index": true}]}', "index True"),
        (b'{"data": [{"index": 0}]}', "embedding lengths [-1]"),
        (b'{"data": ["not an object"]}', "index None"),
        (b"[1, 2]", "no 'data' list (keys: list)"),
    ],
)
def test_parse_embeddings_rejects_bad_values(body, problem, monkeypatch):
    # The json module is the decoder without orjson; unlike orjson it reads NaN.
    monkeypatch.setattr(_response, "_loads", json.loads)

    with pytest.raises(ResponseFormatError, match=re.escape(problem)) as caught:
        parse_embeddings(_ok_response(body), n_inputs=1, n_features=2, dtype=np.float32)

    assert caught.value.request_id == "abc123"


def test_default_decoder_rejects_nan():
    body = b'{"data": [{"embedding": [0.5, NaN], "index": 0}]}'

    with pytest.raises(ResponseFormatError):
        parse_embeddings(_ok_response(body), n_inputs=1, n_features=2, dtype=np.float32)


# Texts over the per-input limit


def _long_text(n_words):
    return " ".join(f"fever{i % 7} chills" for i in range(n_words))


def test_text_too_long_raises_before_any_request(make_vectorizer, fake):
    counter = get_token_counter("mistral-embed")
    long_texts = [_long_text(3000), _long_text(3500)]
    texts = ["short", long_texts[0], "short", "fine", long_texts[1]]

    with pytest.raises(TextTooLongError) as caught:
        make_vectorizer().transform(texts)

    error = caught.value
    expected_counts = counter.count(long_texts).tolist()
    assert min(expected_counts) > 8192
    assert error.rows == [1, 4]
    assert error.n_tokens == expected_counts
    assert f"row 1 ({expected_counts[0]} tokens), row 4 ({expected_counts[1]} tokens)" in str(error)
    assert "truncate=True" in str(error)
    assert fake.requests == []


def test_truncate_sends_at_most_limit(make_vectorizer, fake):
    counter = get_token_counter("mistral-embed")
    long_text = _long_text(3000)
    n_original = int(counter.count([long_text])[0])

    with track_usage() as usage, pytest.warns(UserWarning, match=r"1 text exceeds the limit of 8192 tokens per input and was truncated") as caught:
        X = make_vectorizer(truncate=True).transform(["short", long_text])

    sent = fake.requests[0].inputs
    n_sent = int(counter.count([sent[1]])[0])
    assert n_sent <= 8192
    assert long_text.startswith(sent[1])
    assert sent[0] == "short"
    assert f"cutting {n_original - n_sent} tokens in all" in str(caught[0].message)
    assert usage.n_truncated == 1
    assert X.shape == (2, 1024)


# Bad input, rejected before any request


@pytest.mark.parametrize(
    "X, error_type, where, fix",
    [
        (["ok", None], InvalidInputError, "row 1 is missing (None)", "Drop or fill these rows"),
        (["ok", float("nan")], InvalidInputError, "row 1 is missing (nan)", "Drop or fill these rows"),
        (pd.Series(["ok", pd.NA], dtype="string"), InvalidInputError, "row 1 is missing (<NA>)", "X.dropna()"),
        (pd.Series(["ok", None], index=["a", "b"]), InvalidInputError, "row 1 (index label 'b') is missing", "X.dropna()"),
        (["ok", 42], InvalidInputError, "row 1 is int 42, not str", "Drop or fill these rows"),
        (["ok", 4.5], InvalidInputError, "row 1 is float 4.5, not str", "Drop or fill these rows"),
        (["ok", b"itchy skin"], InvalidInputError, "row 1 is bytes (b'itchy skin'), not str", "value.decode('utf-8')"),
        (["ok", ""], InvalidInputError, "row 1 is an empty string", "Drop or fill these rows"),
        (["ok", " \t\n"], InvalidInputError, "row 1 is whitespace only", "X[X.str.strip() != '']"),
        (["ok", "bad \ud800 text"], InvalidInputError, "row 1 contains a lone surrogate '\\ud800' at character 4", "Drop or fill"),
        (np.array([["ok", None]], dtype=object).T, InvalidInputError, "row 1 is missing (None)", "Drop or fill"),
        (pd.DataFrame({"text": ["a"], "label": ["b"]}), TypeError, "a DataFrame with 2 columns", "Select the text column"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "an array of shape (2, 2)", "Select the text column first"),
        (scipy.sparse.csr_matrix(np.eye(2)), TypeError, "a sparse matrix of shape (2, 2)", "pass the text column itself"),
        ("a bare string", TypeError, "got a single str", "Wrap one text in a list: transform([text])"),
        (b"bare bytes", TypeError, "got a single bytes", "Wrap one text in a list"),
    ],
)
def test_bad_input_rejected_before_any_request(X, error_type, where, fix, make_vectorizer, fake):
    with pytest.raises(error_type) as caught:
        make_vectorizer().transform(X)

    message = str(caught.value)
    assert where in message
    assert fix in message
    assert fake.requests == []
    if error_type is InvalidInputError:
        assert caught.value.rows == [1]


def test_bad_input_lists_every_bad_row(make_vectorizer, fake):
    X = ["ok", None, "", 7, "fine", " "]

    with pytest.raises(InvalidInputError) as caught:
        make_vectorizer().transform(X)

    assert caught.value.rows == [1, 2, 3, 5]
    assert str(caught.value).startswith("4 of 6 texts cannot be embedded:")
    assert fake.requests == []


# A late error keeps what already arrived


def test_unrecoverable_error_keeps_finished_batches(strict_fake, tmp_path):
    texts = [f"cough {i}" for i in range(12)]
    too_long_for_fake = "a long description of a persistent dry cough at night"

    with pytest.raises(BadRequestError):
        _vectorizer_for(strict_fake, tmp_path, batch_size=3, max_concurrency=1).transform(texts + [too_long_for_fake])
    stored = {text for record in strict_fake.requests if record.status == 200 for text in record.inputs}
    strict_fake.reset()

    X = _vectorizer_for(strict_fake, tmp_path, batch_size=3).transform(texts)

    resent = sent_texts(strict_fake.requests)
    assert stored
    assert stored.isdisjoint(resent)
    assert sorted(stored.union(resent)) == sorted(texts)
    assert_rows_are_fake_embeddings(X, texts)


# Many random faults over a real data set


@pytest.mark.timeout(240)
def test_fault_run_matches_fault_free_output(tmp_path):
    texts = load_symptom2disease().text
    params = {"batch_size": 32, "max_concurrency": 4}
    with FakeMistralAPI() as clean:
        expected = _vectorizer_for(clean, tmp_path / "clean", **params).transform(texts)

    # The requested wait is longer than most first backoffs (0.25 to 0.5 s), so a client
    # that ignored the wait headers would retry early at some of the 429s and be counted.
    plan = FaultPlan(rate_limited=0.3, server_error=0.1, dropped=0.05, retry_after=0.3, seed=3)
    with FakeMistralAPI(faults=plan) as faulty, track_usage() as usage:
        X = _vectorizer_for(faulty, tmp_path / "faulty", max_retries=20, **params).transform(texts)
        faults = [record.fault for record in faulty.requests]
        early_retries = faulty.early_retries

    assert np.array_equal(X, expected)
    assert early_retries == 0
    assert faults.count("429") > 0
    assert faults.count("500") > 0
    assert faults.count("drop") > 0
    assert usage.n_retries == len(faults) - faults.count(None)


def test_per_input_rejection_names_row():
    texts = [f"short text {i}" for i in range(30)]
    texts[17] = "a much longer text " * 20

    with FakeMistralAPI(max_tokens_per_input=60) as fake:
        # Batches of 10 put row 17 at input 7 of the second request.
        vectorizer = MistralEmbeddingVectorizer(
            base_url=fake.base_url, api_key_env=fake.api_key_env, cache_dir=False, batch_size=10, max_concurrency=1
        )
        with pytest.raises(BadRequestError) as caught:
            vectorizer.transform(texts)

    notes = " ".join(getattr(caught.value, "__notes__", []))
    assert "Input 7" in caught.value.message
    assert "row 17 of X" in notes
