"""Tests of the offline fake of the Mistral embeddings API, through real HTTP with httpx."""

import concurrent.futures
import email.utils
import hashlib
import http.client
import json
import os
import pathlib
import re
import signal
import subprocess
import urllib.parse
import sys
import time

import httpx
import numpy as np
import pandas as pd
import pytest

import sklearn_mistral.testing
from sklearn_mistral.testing import FakeMistralAPI, FaultPlan, RequestRecord, fake_embedding

KEY = "test-key"
DOCS_INPUTS = ["Embed this sentence.", "As well as this one."]
BOOKS = "Books are mirrors: You only see in them what you already have inside you"
BOOKS_TOO = (
    "I think books are like people, in the sense that they'll turn up in your life "
    "when you most need them"
)
CAT = (
    "A home without a cat — and a well-fed, well-petted and properly revered cat — may "
    "be a perfect home, perhaps, but how can it prove title?"
)


# Building an SSL context takes roughly 0.1 s, so all clients share one, although
# the fake speaks plain HTTP.
SSL_CONTEXT = httpx.create_ssl_context()


def open_client(fake_or_url, authorization=f"Bearer {KEY}"):
    """Open an httpx client aimed at a fake. It ignores proxy environment variables."""
    base_url = getattr(fake_or_url, "base_url", fake_or_url)
    headers = {"Authorization": authorization} if authorization else {}
    return httpx.Client(
        base_url=base_url, headers=headers, timeout=10, verify=SSL_CONTEXT, trust_env=False
    )


@pytest.fixture
def fake():
    """A fake that accepts ``KEY``, stopped after the test."""
    with FakeMistralAPI(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def client(fake):
    with open_client(fake) as client:
        yield client


def embed(client, **body):
    body.setdefault("model", "mistral-embed")
    return client.post("/embeddings", json=body)


def error_detail(response):
    """Return the first FastAPI ``detail`` entry wrapped in a 422 body."""
    body = response.json()
    assert body["object"] == "error"
    return body["message"]["detail"][0]


def as_vectors(response):
    data = sorted(response.json()["data"], key=lambda item: item["index"])
    return np.asarray([item["embedding"] for item in data], dtype=np.float32)


# Successful responses


def test_embeddings_usage_matches_mistral_docs(client, fake):
    response = embed(client, input=DOCS_INPUTS)

    assert response.status_code == 200
    usage = response.json()["usage"]
    assert usage["prompt_tokens"] == 15
    assert usage["total_tokens"] == 15
    assert usage["completion_tokens"] == 0
    assert fake.billed_tokens == 15
    assert fake.n_requests == 1


def test_embeddings_response_shape(client):
    response = embed(client, input=DOCS_INPUTS)

    body = response.json()
    assert response.headers["content-type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
    assert body["object"] == "list"
    assert body["model"] == "mistral-embed"
    assert [item["object"] for item in body["data"]] == ["embedding", "embedding"]
    assert [item["index"] for item in body["data"]] == [0, 1]
    assert [len(item["embedding"]) for item in body["data"]] == [1024, 1024]


def test_embeddings_model_echoes_alias(client):
    response = embed(client, model="mistral-embed-2312", input="alias")

    assert response.json()["model"] == "mistral-embed-2312"
    np.testing.assert_array_equal(as_vectors(response)[0], fake_embedding("alias"))


def test_embeddings_vectors_equal_fake_embedding(client):
    texts = ["a dry cough", "a skin rash", "", "naïve café ☕"]

    vectors = as_vectors(embed(client, input=texts))

    for vector, text in zip(vectors, texts):
        np.testing.assert_array_equal(vector, fake_embedding(text))


def test_embeddings_single_string_input(client):
    response = embed(client, input="Embed this sentence.")

    assert response.status_code == 200
    assert len(response.json()["data"]) == 1
    assert response.json()["usage"]["prompt_tokens"] == 7


def test_embeddings_empty_string_bills_two_tokens(client):
    response = embed(client, input=[""])

    assert response.status_code == 200
    assert response.json()["usage"]["prompt_tokens"] == 2


def test_embeddings_base64_still_returns_floats(client):
    response = embed(client, input=["x"], encoding_format="base64")

    assert response.status_code == 200
    assert isinstance(response.json()["data"][0]["embedding"], list)


def test_embeddings_accepts_null_optional_fields(client):
    body = {"output_dimension": None, "output_dtype": None, "encoding_format": None}

    response = embed(client, input=["x"], **body)

    assert response.status_code == 200


def test_embeddings_accepts_metadata(client):
    accepted = embed(client, input=["x"], metadata={"source": "test"})
    rejected = embed(client, input=["x"], metadata="test")

    assert accepted.status_code == 200
    assert rejected.status_code == 422
    assert error_detail(rejected)["type"] == "dict_type"


def test_embeddings_codestral_output_dimension(client):
    response = embed(client, model="codestral-embed", input=["def f(): pass"], output_dimension=256)

    vector = as_vectors(response)[0]
    assert vector.shape == (256,)
    np.testing.assert_array_equal(vector, fake_embedding("def f(): pass", "codestral-embed", 256))


@pytest.mark.parametrize(
    "output_dtype, length, low, high",
    [
        ("int8", 1024, -128, 127),
        ("uint8", 1024, 0, 255),
        ("binary", 128, -128, 127),
        ("ubinary", 128, 0, 255),
    ],
)
def test_embeddings_quantized_dtypes(client, output_dtype, length, low, high):
    text = "quantize this sentence"

    response = embed(client, input=[text], output_dtype=output_dtype)

    values = response.json()["data"][0]["embedding"]
    assert len(values) == length
    assert all(isinstance(value, int) for value in values)
    assert low <= min(values)
    assert max(values) <= high
    np.testing.assert_array_equal(values, fake_embedding(text, output_dtype=output_dtype))


def test_fake_embedding_quantization_dequantizes():
    vector = fake_embedding("dequantize me")

    int8 = fake_embedding("dequantize me", output_dtype="int8").astype(float)
    uint8 = fake_embedding("dequantize me", output_dtype="uint8").astype(float)
    ubinary = fake_embedding("dequantize me", output_dtype="ubinary")
    binary = fake_embedding("dequantize me", output_dtype="binary")
    np.testing.assert_allclose(int8 / 127, vector, atol=0.5 / 127 + 1e-6)
    np.testing.assert_allclose(uint8 / 127.5 - 1, vector, atol=0.5 / 127.5 + 1e-6)
    np.testing.assert_array_equal(np.unpackbits(ubinary), vector > 0)
    np.testing.assert_array_equal(binary.astype(int), ubinary.astype(int) - 128)


def test_embeddings_index_follows_input_order(client):
    texts = [f"text number {i}" for i in range(20)]

    data = embed(client, input=texts).json()["data"]

    assert [item["index"] for item in data] == list(range(20))
    for item in data:
        np.testing.assert_array_equal(
            np.asarray(item["embedding"], np.float32), fake_embedding(texts[item["index"]])
        )


def test_embeddings_max_inputs_accepted(client):
    response = embed(client, input=["a"] * 256)

    assert response.status_code == 200
    assert len(response.json()["data"]) == 256


# fake_embedding


def test_fake_embedding_deterministic_across_processes():
    code = (
        "import hashlib; from sklearn_mistral.testing import fake_embedding; "
        "print(hashlib.sha256(fake_embedding('Embed this sentence.').tobytes()).hexdigest())"
    )

    command = [sys.executable, "-c", code]
    output = subprocess.run(command, capture_output=True, text=True, check=True)

    expected = hashlib.sha256(fake_embedding("Embed this sentence.").tobytes()).hexdigest()
    assert output.stdout.strip() == expected


@pytest.mark.parametrize("model", ["mistral-embed", "codestral-embed"])
def test_fake_embedding_unit_norm(model):
    output_dimension = 3072 if model == "codestral-embed" else None

    vector = fake_embedding("unit norm please", model, output_dimension)

    assert vector.dtype == np.float32
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "model, output_dimension, dimension",
    [
        ("mistral-embed", None, 1024),
        ("mistral-embed-2312", None, 1024),
        ("some-other-embed", None, 1024),
        ("codestral-embed", None, 1536),
        ("codestral-embed-2505", None, 1536),
        ("codestral-embed", 1, 1),
        ("codestral-embed", 3072, 3072),
    ],
)
def test_fake_embedding_dimension_per_model(model, output_dimension, dimension):
    assert fake_embedding("dimensions", model, output_dimension).shape == (dimension,)


def test_fake_embedding_truncation_keeps_prefix():
    full = fake_embedding("matryoshka", "codestral-embed", 3072)

    np.testing.assert_array_equal(fake_embedding("matryoshka", "codestral-embed"), full[:1536])
    np.testing.assert_array_equal(fake_embedding("matryoshka", "codestral-embed", 100), full[:100])


def test_fake_embedding_models_differ():
    mistral = fake_embedding("same text", "mistral-embed")

    np.testing.assert_array_equal(mistral, fake_embedding("same text", "mistral-embed-2312"))
    assert not np.array_equal(mistral, fake_embedding("same text", "some-other-embed"))


def test_fake_embedding_distinct_texts_differ():
    assert not np.array_equal(fake_embedding("Hello world"), fake_embedding("hello world!"))


def test_fake_embedding_rejects_invalid_arguments():
    with pytest.raises(ValueError, match="supported by codestral-embed only"):
        fake_embedding("x", "mistral-embed", 256)
    with pytest.raises(ValueError, match="output_dimension"):
        fake_embedding("x", "codestral-embed", 3073)
    with pytest.raises(ValueError, match="output_dtype"):
        fake_embedding("x", output_dtype="float16")
    with pytest.raises(TypeError, match="str"):
        fake_embedding(None)


def test_fake_embedding_shared_words_are_closer():
    books = fake_embedding(BOOKS)

    distance_to_books = np.linalg.norm(books - fake_embedding(BOOKS_TOO))
    distance_to_cat = np.linalg.norm(books - fake_embedding(CAT))
    assert distance_to_books < distance_to_cat


def test_fake_embedding_symptom2disease_is_separable(client):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    path = pathlib.Path(sklearn_mistral.__file__).parent / "datasets/data/Symptom2Disease.csv"
    data = pd.read_csv(path, index_col=0)
    texts = data["text"].tolist()
    batches = [texts[i : i + 128] for i in range(0, len(texts), 128)]
    X = np.concatenate([as_vectors(embed(client, input=batch)) for batch in batches])
    X_train, X_test, y_train, y_test = train_test_split(
        X, data["label"], test_size=0.2, random_state=0, stratify=data["label"]
    )

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X_train, y_train)

    assert X.shape == (1200, 1024)
    assert model.score(X_test, y_test) > 0.9


# Rejections


def test_auth_missing_key_rejected(fake):
    with open_client(fake, authorization=None) as client:
        response = embed(client, input="x")

    assert response.status_code == 401
    request_id = response.headers["x-request-id"]
    assert response.json() == {"message": "Unauthorized", "request_id": request_id}
    assert fake.requests[0].authorized is False
    assert fake.n_requests == 0


def test_auth_wrong_key_rejected(fake):
    with open_client(fake, authorization="Bearer wrong-key") as client:
        response = embed(client, input="x")

    assert response.status_code == 401
    assert response.json()["message"] == "Unauthorized"


def test_auth_none_accepts_any_bearer():
    with FakeMistralAPI(api_key=None) as fake:
        with open_client(fake, authorization="Bearer anything") as client:
            accepted = embed(client, input="x")
        with open_client(fake, authorization="Basic dXNlcjpwYXNz") as client:
            rejected = embed(client, input="x")

    assert accepted.status_code == 200
    assert rejected.status_code == 401


def test_api_key_env_holds_accepted_key(fake):
    name = fake.api_key_env

    with open_client(fake, authorization=f"Bearer {os.environ[name]}") as client:
        response = embed(client, input="x")
    fake.stop()

    assert response.status_code == 200
    assert name not in os.environ


def test_unknown_path_not_found(client):
    response = client.post("/chat/completions", json={})

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_get_method_not_allowed(client):
    response = client.get("/embeddings")

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"detail": "Method Not Allowed"}


def test_unknown_model_not_found(client, fake):
    response = embed(client, model="mistral-embed-9999", input=["x"])

    assert response.status_code == 404
    body = response.json()
    assert body["object"] == "error"
    assert body["message"] == "Invalid model: mistral-embed-9999"
    assert body["type"] == "invalid_model"
    assert fake.requests[0].n_tokens == 3


def test_model_missing_rejected(client):
    response = client.post("/embeddings", json={"input": ["x"]})

    assert response.status_code == 422
    assert error_detail(response)["type"] == "missing"
    assert error_detail(response)["loc"] == ["body", "model"]


def test_input_missing_rejected(client):
    response = embed(client)

    assert response.status_code == 422
    assert error_detail(response)["type"] == "missing"
    assert error_detail(response)["loc"] == ["body", "input"]


def test_input_wrong_type_rejected(client):
    response = embed(client, input=42)

    assert response.status_code == 422
    types = [detail["type"] for detail in response.json()["message"]["detail"]]
    assert types == ["string_type", "list_type"]


def test_input_non_string_item_rejected(client, fake):
    response = embed(client, input=["ok", 7])

    assert response.status_code == 422
    locs = [detail["loc"] for detail in response.json()["message"]["detail"]]
    assert ["body", "input", "list[str]", 1] in locs
    assert fake.requests[0].inputs == []
    assert fake.requests[0].n_tokens == 0


def test_extra_key_rejected(client):
    response = embed(client, input=["x"], inputs=["x"])

    assert response.status_code == 422
    assert error_detail(response)["type"] == "extra_forbidden"
    assert error_detail(response)["loc"] == ["body", "inputs"]
    assert response.json()["type"] == "invalid_request_error"


@pytest.mark.parametrize("field, value", [("output_dtype", "float16"), ("encoding_format", "hex")])
def test_enum_field_invalid_rejected(client, field, value):
    response = embed(client, input=["x"], **{field: value})

    assert response.status_code == 422
    assert error_detail(response)["type"] == "enum"
    assert error_detail(response)["loc"] == ["body", field]


@pytest.mark.parametrize(
    "value, error_type",
    [
        (0, "greater_than"),
        (-5, "greater_than"),
        ("256", "int_type"),
        (True, "int_type"),
        (3073, "less_than_equal"),
    ],
)
def test_output_dimension_invalid_rejected(client, value, error_type):
    response = embed(client, model="codestral-embed", input=["x"], output_dimension=value)

    assert response.status_code == 422
    assert error_detail(response)["type"] == error_type


def test_output_dimension_mistral_embed_rejected(client):
    response = embed(client, input=["x"], output_dimension=512)

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "This model does not support output_dimension."
    assert body["code"] == "3051"


def test_invalid_json_rejected(client):
    headers = {"Content-Type": "application/json"}
    content = b'{"model": "mistral-embed", "input": ['

    response = client.post("/embeddings", content=content, headers=headers)

    assert response.status_code == 422
    assert error_detail(response)["type"] == "json_invalid"


def test_empty_body_rejected(client):
    response = client.post("/embeddings", content=b"")

    assert response.status_code == 422
    assert error_detail(response)["type"] == "missing"


def test_form_body_rejected(client):
    response = client.post("/embeddings", data={"model": "mistral-embed", "input": "x"})

    assert response.status_code == 422
    assert error_detail(response)["type"] == "model_attributes_type"


def test_body_not_object_rejected(client):
    response = client.post("/embeddings", json=["mistral-embed", "x"])

    assert response.status_code == 422
    assert error_detail(response)["type"] == "model_attributes_type"


def test_lone_surrogate_rejected(client):
    headers = {"Content-Type": "application/json"}
    content = b'{"model": "mistral-embed", "input": ["bad \\ud800 text"]}'

    response = client.post("/embeddings", content=content, headers=headers)

    assert response.status_code == 422
    assert error_detail(response)["type"] == "string_type"
    assert response.json()["message"]["detail"][1]["type"] == "string_unicode"


def test_empty_input_list_rejected(client):
    response = embed(client, input=[])

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Please provide at least one input element."
    assert body["type"] == "invalid_request_error"


def test_too_many_inputs_rejected(client, fake):
    response = embed(client, input=["a"] * 257)

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Too many inputs in request, split into more batches."
    assert body["code"] == "3210"
    assert fake.requests[0].n_tokens == 257 * 3


def test_input_over_token_limit_rejected(client):
    response = embed(client, input=["short", "word " * 9000])

    assert response.status_code == 400
    body = response.json()
    assert "Input 1 " in body["message"]
    assert "8192" in body["message"]
    assert body["object"] == "error"


def test_too_many_tokens_rejected(client, fake):
    response = embed(client, input=["word " * 6000] * 3)

    assert response.status_code == 400
    assert response.json() == {
        "object": "error",
        "message": "Too many tokens overall, split into more batches.",
        "type": "invalid_request_prompt",
        "param": None,
        "code": "3210",
    }
    assert fake.requests[0].n_tokens > 16384


def test_configured_limits_enforced():
    limits = {"max_inputs_per_request": 2, "max_tokens_per_request": 10, "max_tokens_per_input": 6}

    with FakeMistralAPI(**limits) as small, open_client(small) as client:
        accepted = embed(client, input=["a", "b"])
        too_many_inputs = embed(client, input=["a", "b", "c"])
        too_long = embed(client, input=["one two three four five"])
        too_many_tokens = embed(client, input=["one two three four", "one two three four"])

    assert accepted.status_code == 200
    assert "Too many inputs" in too_many_inputs.json()["message"]
    assert "6 tokens per input" in too_long.json()["message"]
    assert "Too many tokens" in too_many_tokens.json()["message"]


# Faults


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_inject_server_errors(client, fake, status):
    fake.inject(str(status))

    failed = embed(client, input=["x"])
    recovered = embed(client, input=["x"])

    assert failed.status_code == status
    assert recovered.status_code == 200
    assert fake.requests[0].fault == str(status)
    assert fake.requests[1].fault is None


def test_inject_server_error_bodies(client, fake):
    fake.inject("500")
    fake.inject("502")

    json_error = embed(client, input=["x"])
    html_error = embed(client, input=["x"])

    assert json_error.json()["object"] == "error"
    assert html_error.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in html_error.text


def test_inject_times_consumed_in_order(client, fake):
    fake.inject("503", times=2)
    fake.inject("500")

    statuses = [embed(client, input=["x"]).status_code for _ in range(4)]

    assert statuses == [503, 503, 500, 200]


@pytest.mark.parametrize(
    "header, name, value",
    [
        ("retry-after", "retry-after", "1"),
        ("retry-after-ms", "retry-after-ms", "200"),
        ("ratelimitbysize-reset", "ratelimitbysize-reset", "1"),
    ],
)
def test_inject_429_wait_headers(client, fake, header, name, value):
    fake.inject("429", retry_after=0.2, header=header)

    response = embed(client, input=["x"])

    assert response.status_code == 429
    assert response.headers[name] == value
    assert response.json()["type"] == "rate_limited"
    assert fake.requests[0].fault == "429"


def test_inject_429_retry_after_date(client, fake):
    fake.inject("429", retry_after=2.0, header="retry-after-date")

    response = embed(client, input=["x"])

    moment = email.utils.parsedate_to_datetime(response.headers["retry-after"]).timestamp()
    assert 2.0 <= moment - time.time() <= 3.1


def test_inject_429_without_header(client, fake):
    fake.inject("429", header="none")

    response = embed(client, input=["x"])
    retried = embed(client, input=["x"])

    assert response.status_code == 429
    assert "retry-after" not in response.headers
    assert "retry-after-ms" not in response.headers
    assert retried.status_code == 200
    assert fake.early_retries == 0


def test_inject_drop_closes_connection(client, fake):
    fake.inject("drop")

    with pytest.raises(httpx.RemoteProtocolError):
        embed(client, input=["x"])
    recovered = embed(client, input=["x"])

    assert recovered.status_code == 200
    assert fake.requests[0].status is None
    assert fake.requests[0].fault == "drop"


def test_inject_slow_delays_then_answers(client, fake):
    fake.inject("slow", delay=0.3)

    started = time.monotonic()
    response = embed(client, input=["x"])

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3
    assert fake.requests[0].fault == "slow"


def test_inject_slow_times_out_client(client, fake):
    fake.inject("slow", delay=0.5)

    with pytest.raises(httpx.ReadTimeout):
        client.post("/embeddings", json={"model": "mistral-embed", "input": "x"}, timeout=0.1)


def test_inject_html_page(client, fake):
    fake.inject("html")

    response = embed(client, input=["x"])

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert fake.n_requests == 1
    assert fake.billed_tokens == 0


def test_inject_no_data(client, fake):
    fake.inject("no-data")

    body = embed(client, input=["x"]).json()

    assert "data" not in body
    assert body["usage"]["prompt_tokens"] == 3


def test_inject_wrong_dim(client, fake):
    fake.inject("wrong-dim")

    data = embed(client, input=["x", "y"]).json()["data"]

    assert [len(item["embedding"]) for item in data] == [1023, 1024]


def test_inject_missing_index(client, fake):
    fake.inject("missing-index")

    data = embed(client, input=["x", "y", "z"]).json()["data"]

    assert [item["index"] for item in data] == [0, 1]


@pytest.mark.parametrize("texts, indices", [(["x", "y", "z"], [0, 1, 0]), (["x"], [0, 0])])
def test_inject_duplicate_index(client, fake, texts, indices):
    fake.inject("duplicate-index")

    data = embed(client, input=texts).json()["data"]

    assert [item["index"] for item in data] == indices


def test_inject_shuffled_keeps_indices(client, fake):
    fake.inject("shuffled")
    texts = ["first", "second", "third"]

    data = embed(client, input=texts).json()["data"]

    assert [item["index"] for item in data] == [2, 1, 0]
    for item in data:
        np.testing.assert_array_equal(
            np.asarray(item["embedding"], np.float32), fake_embedding(texts[item["index"]])
        )


@pytest.mark.parametrize(
    "body_shape, expected",
    [
        ("message", {"message": "Unauthorized"}),
        ("detail", {"detail": "Unauthorized"}),
        ("mistral", {"object": "error", "type": "authentication_error"}),
    ],
)
def test_inject_401_body_shapes(client, fake, body_shape, expected):
    fake.inject("401", body_shape=body_shape)

    response = embed(client, input=["x"])

    assert response.status_code == 401
    assert expected.items() <= response.json().items()


def test_inject_403_forbidden(client, fake):
    fake.inject("403")

    response = embed(client, input=["x"])

    assert response.status_code == 403
    request_id = response.headers["x-request-id"]
    assert response.json() == {"message": "Forbidden", "request_id": request_id}


@pytest.mark.parametrize(
    "kind, message",
    [
        ("400-too-many-tokens", "Too many tokens overall, split into more batches."),
        ("400-too-many-inputs", "Too many inputs in request, split into more batches."),
    ],
)
def test_inject_400_limit_bodies(client, fake, kind, message):
    fake.inject(kind)

    response = embed(client, input=["x"])

    assert response.status_code == 400
    assert response.json()["message"] == message
    assert response.json()["code"] == "3210"


def test_inject_rejects_invalid_arguments(fake):
    with pytest.raises(ValueError, match="kind"):
        fake.inject("418")
    with pytest.raises(TypeError, match="unknown options"):
        fake.inject("500", retry_after=1)
    with pytest.raises(ValueError, match="header"):
        fake.inject("429", header="x-wait")
    with pytest.raises(ValueError, match="times"):
        fake.inject("500", times=0)
    with pytest.raises(ValueError, match="delay"):
        fake.inject("slow", delay=-1)


def test_fail_every_request(client, fake):
    fake.fail_every_request = True

    statuses = [embed(client, input=["x"]).status_code for _ in range(3)]

    assert statuses == [500, 500, 500]
    assert fake.n_requests == 0
    assert {record.fault for record in fake.requests} == {"fail-every-request"}


def test_fault_plan_fractions_roughly_right():
    plan = FaultPlan(rate_limited=0.2, server_error=0.1, dropped=0.05, retry_after=0.0, seed=3)
    statuses = []

    with FakeMistralAPI(faults=plan) as fake, open_client(fake) as client:
        for i in range(400):
            try:
                statuses.append(embed(client, input=[f"text {i}"]).status_code)
            except httpx.RemoteProtocolError:
                statuses.append(None)
        faults = [record.fault for record in fake.requests]

    assert statuses.count(429) / 400 == pytest.approx(0.2, abs=0.05)
    assert statuses.count(500) / 400 == pytest.approx(0.1, abs=0.04)
    assert statuses.count(None) / 400 == pytest.approx(0.05, abs=0.03)
    assert faults.count("429") == statuses.count(429)
    assert faults.count("drop") == statuses.count(None)


def test_fault_plan_429_asks_for_retry_after():
    plan = FaultPlan(rate_limited=1.0, retry_after=0.25)

    with FakeMistralAPI(faults=plan) as fake, open_client(fake) as client:
        response = embed(client, input="x")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.headers["retry-after-ms"] == "250"


def test_fault_plan_same_seed_same_faults():
    def run(seed):
        plan = FaultPlan(rate_limited=0.3, server_error=0.3, seed=seed)
        with FakeMistralAPI(faults=plan) as fake, open_client(fake) as client:
            for _ in range(30):
                embed(client, input="x")
            return [record.status for record in fake.requests]

    assert run(seed=5) == run(seed=5)
    assert run(seed=5) != run(seed=6)


@pytest.mark.parametrize(
    "options",
    [
        {"rate_limited": 1.5},
        {"server_error": -0.1},
        {"rate_limited": 0.6, "dropped": 0.6},
        {"retry_after": -1},
    ],
)
def test_fault_plan_rejects_invalid_fractions(options):
    with pytest.raises(ValueError):
        FaultPlan(**options)


# Early retries and rate limits


def test_early_retry_detected(client, fake):
    fake.inject("429", retry_after=0.3, header="retry-after-ms")

    assert embed(client, input=["x", "y"]).status_code == 429
    assert embed(client, input=["x", "y"]).status_code == 200
    time.sleep(0.35)
    assert embed(client, input=["x", "y"]).status_code == 200

    assert [record.early_retry for record in fake.requests] == [False, True, False]
    assert fake.early_retries == 1


def test_early_retry_ignores_other_inputs(client, fake):
    fake.inject("429", retry_after=5, header="retry-after-ms")

    embed(client, input=["x"])
    embed(client, input=["y"])

    assert fake.early_retries == 0


def test_rate_limit_rps_answers_429():
    with FakeMistralAPI(rate_limit_rps=2) as limited, open_client(limited) as client:
        responses = [embed(client, input=["x"]) for _ in range(3)]
        wait = int(responses[2].headers["retry-after-ms"]) / 1000
        time.sleep(wait)
        retried = embed(client, input=["x"])

    assert [response.status_code for response in responses] == [200, 200, 429]
    assert responses[2].json() == {"message": "Requests rate limit exceeded"}
    assert 0 < wait <= 0.5
    assert int(responses[2].headers["retry-after"]) >= wait
    assert retried.status_code == 200
    assert limited.early_retries == 0


def test_rate_limit_tpm_answers_429():
    with FakeMistralAPI(rate_limit_tpm=30) as limited, open_client(limited) as client:
        statuses = []
        for _ in range(3):
            response = embed(client, input=DOCS_INPUTS)
            statuses.append(response.status_code)

    assert statuses == [200, 200, 429]
    assert response.json()["code"] == "1300"
    assert 25_000 <= int(response.headers["retry-after-ms"]) <= 30_000
    assert limited.billed_tokens == 30


# Record, latency, HTTP


def test_requests_never_contain_key():
    secret = "sk-secret-0123456789"

    with FakeMistralAPI(api_key=secret) as fake:
        with open_client(fake, authorization=f"Bearer {secret}") as client:
            embed(client, input=["x"])
        with open_client(fake, authorization=f"Bearer {secret}-wrong") as client:
            embed(client, input=["x"])
        records = fake.requests

    assert [record.authorized for record in records] == [True, False]
    assert secret not in repr(records)
    assert secret not in repr(fake)


def test_requests_record_fields(client, fake):
    embed(client, input=DOCS_INPUTS)

    (record,) = fake.requests
    assert isinstance(record, RequestRecord)
    assert record.status == 200
    assert record.model == "mistral-embed"
    assert record.inputs == DOCS_INPUTS
    assert record.n_tokens == 15
    assert record.body == {"model": "mistral-embed", "input": DOCS_INPUTS}
    assert record.start <= record.end


def test_requests_is_snapshot(client, fake):
    snapshot = fake.requests
    embed(client, input=["x"])

    assert snapshot == []
    assert len(fake.requests) == 1


def test_reset_clears_record(client, fake):
    embed(client, input=["x"])

    fake.reset()

    assert fake.requests == []
    assert fake.n_requests == 0
    assert fake.billed_tokens == 0


def test_latency_added_to_every_response():
    with FakeMistralAPI(latency=0.2, latency_per_token=0.01) as fake, open_client(fake) as client:
        started = time.monotonic()
        client.post("/embeddings", json={})
        rejected_seconds = time.monotonic() - started

        started = time.monotonic()
        embed(client, input=DOCS_INPUTS)
        accepted_seconds = time.monotonic() - started

    assert 0.2 <= rejected_seconds < 0.3
    assert accepted_seconds >= 0.2 + 15 * 0.01


def test_concurrent_connections_served():
    texts = [f"concurrent text {i}" for i in range(48)]

    # httpx opens up to 100 connections per client, so each thread gets its own.
    with FakeMistralAPI(latency=0.2) as fake, open_client(fake) as client:
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=48) as pool:
            responses = list(pool.map(lambda text: embed(client, input=[text]), texts))
        elapsed = time.monotonic() - started

    assert [response.status_code for response in responses] == [200] * 48
    # One at a time would take 48 x 0.2 s; half of that proves overlap on a busy machine.
    assert elapsed < 48 * 0.2 / 2
    for response, text in zip(responses, texts):
        np.testing.assert_array_equal(as_vectors(response)[0], fake_embedding(text))


def test_keep_alive_serves_many_requests_per_connection(fake):
    url = urllib.parse.urlsplit(fake.base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    connection.connect()
    # Fail instead of reconnecting if the server closed the connection.
    connection.auto_open = 0
    body = json.dumps({"model": "mistral-embed", "input": ["x"]})
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    statuses = []
    for _ in range(3):
        connection.request("POST", "/v1/embeddings", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()

    assert statuses == [200, 200, 200]


def test_chunked_request_body(client):
    chunks = [b'{"model": "mistral-embed", ', b'"input": ["chunked"]}']

    headers = {"Content-Type": "application/json"}

    response = client.post("/embeddings", content=iter(chunks), headers=headers)

    assert response.status_code == 200
    np.testing.assert_array_equal(as_vectors(response)[0], fake_embedding("chunked"))


def test_stop_closes_server():
    fake = FakeMistralAPI().start()
    url = fake.base_url
    fake.stop()
    fake.stop()

    with pytest.raises(httpx.ConnectError), open_client(url) as client:
        client.post("/embeddings", json={})
    with pytest.raises(RuntimeError, match="not running"):
        fake.base_url


def test_base_url_is_loopback(fake):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/sklearn-mistral-fake-\d+/v1", fake.base_url)


def test_fake_answers_on_api_path(fake):
    root = fake.base_url.split("/sklearn-mistral-fake-")[0]

    response = httpx.post(
        root + "/v1/embeddings",
        json={"model": "mistral-embed", "input": ["on the real path"]},
        headers={"Authorization": f"Bearer {os.environ[fake.api_key_env]}"},
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    "options",
    [
        {"latency": -1},
        {"max_inputs_per_request": 0},
        {"max_tokens_per_request": 1.5},
        {"rate_limit_rps": 0},
        {"api_key": ""},
        {"port": 70000},
    ],
)
def test_fake_rejects_invalid_parameters(options):
    with pytest.raises(ValueError):
        FakeMistralAPI(**options)


def test_public_names_sorted_and_complete():
    public = sorted(name for name in dir(sklearn_mistral.testing) if not name.startswith("_"))

    assert sklearn_mistral.testing.__all__ == sorted(sklearn_mistral.testing.__all__)
    expected = {"FakeMistralAPI", "FaultPlan", "RequestRecord", "fake_embedding"}
    assert set(sklearn_mistral.testing.__all__) == expected
    assert set(sklearn_mistral.testing.__all__) <= set(public)


def test_main_serves_until_interrupted():
    process = subprocess.Popen(
        [sys.executable, "-m", "sklearn_mistral.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = re.search(r"http://127\.0\.0\.1:\d+/\S*v1", process.stdout.readline()).group()
        with open_client(base_url, authorization="Bearer any-key") as client:
            response = embed(client, input=["x"])
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)

    assert response.status_code == 200
    assert process.returncode == 0
    assert "Stopped after 1 requests." in output
