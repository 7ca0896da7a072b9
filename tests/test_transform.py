import asyncio

import numpy as np
import pytest

from sklearn_mistral import TextTooLongError, track_usage
from sklearn_mistral._tokens import get_token_counter
from sklearn_mistral.datasets import load_symptom2disease
from sklearn_mistral.testing import fake_embedding

TEXTS = ["a dry cough", "a skin rash", "a dry cough", "joint pain in the knees"]


def test_transform_returns_fake_vectors_in_order(make_vectorizer):
    X = make_vectorizer().transform(TEXTS)

    assert X.shape == (4, 1024)
    assert X.dtype == np.float32
    assert X.flags["C_CONTIGUOUS"]
    for row, text in zip(X, TEXTS):
        np.testing.assert_array_equal(row, fake_embedding(text))


def test_transform_sends_duplicates_once(make_vectorizer, fake):
    make_vectorizer().transform(TEXTS)

    sent = [text for record in fake.requests for text in record.inputs]
    assert sorted(sent) == sorted(set(TEXTS))


def test_transform_empty_input_has_full_width(make_vectorizer, fake):
    X = make_vectorizer().transform([])

    assert X.shape == (0, 1024)
    assert X.dtype == np.float32
    assert fake.requests == []


def test_second_transform_reads_cache_only(make_vectorizer, fake):
    data = load_symptom2disease()
    first = make_vectorizer().transform(data.text)
    fake.fail_every_request = True
    fake.reset()

    with track_usage() as usage:
        second = make_vectorizer().transform(data.text)

    np.testing.assert_array_equal(first, second)
    assert fake.requests == []
    assert usage.n_requests == 0
    assert usage.n_cache_hits == usage.n_distinct == len(set(data.text))


def test_batches_respect_inputs_cap_and_token_budget(make_vectorizer, fake):
    rng = np.random.default_rng(0)
    words = load_symptom2disease().text
    texts = [" ".join(words[i] for i in rng.integers(0, 1200, size=n)) for n in rng.integers(1, 60, size=300)]
    texts += texts[:40]

    make_vectorizer(batch_size=64, max_tokens_per_request=16384).transform(texts)

    counter = get_token_counter("mistral-embed")
    assert fake.requests
    for record in fake.requests:
        assert record.status == 200
        assert len(record.inputs) <= 64
        assert counter.count(record.inputs).sum() <= 16384
    sent = [text for record in fake.requests for text in record.inputs]
    assert len(sent) == len(set(sent)) == len(set(texts))


def test_transform_bills_distinct_tokens_only(make_vectorizer, fake):
    data = load_symptom2disease()

    with track_usage() as usage:
        make_vectorizer().transform(data.text)

    distinct = list(dict.fromkeys(data.text))
    expected = int(get_token_counter("mistral-embed").count(distinct).sum())
    assert usage.n_tokens == fake.billed_tokens == expected
    assert usage.n_requests == len(fake.requests) == -(-len(distinct) // 128)


def test_transform_inside_running_event_loop(make_vectorizer):
    async def notebook_cell():
        return make_vectorizer().transform(["inside a loop"])

    X = asyncio.run(notebook_cell())

    np.testing.assert_array_equal(X[0], fake_embedding("inside a loop"))


def test_transform_without_cache_sends_every_time(make_vectorizer, fake):
    vectorizer = make_vectorizer(cache_dir=False)

    vectorizer.transform(["once"])
    vectorizer.transform(["once"])

    assert len(fake.requests) == 2


def test_cache_dir_env_moves_default(make_vectorizer, fake, tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_MISTRAL_CACHE_DIR", str(tmp_path / "from-env"))

    make_vectorizer(cache_dir=None).transform(["stored under the env directory"])

    assert (tmp_path / "from-env" / "cache.db").exists()


def test_model_change_never_reuses_vectors(make_vectorizer, fake):
    make_vectorizer().transform(["same text"])

    X = make_vectorizer(model="codestral-embed").transform(["same text"])

    assert X.shape == (1, 1536)
    assert len(fake.requests) == 2
    assert fake.requests[1].model == "codestral-embed"


def test_estimate_cost_matches_what_transform_bills(make_vectorizer, fake):
    data = load_symptom2disease()
    vectorizer = make_vectorizer()

    before = vectorizer.estimate_cost(data.text)
    vectorizer.transform(data.text)
    after = vectorizer.estimate_cost(data.text)

    assert before.n_distinct == len(set(data.text))
    assert before.n_cached == 0
    assert before.n_tokens == fake.billed_tokens
    assert before.n_requests == fake.n_requests
    assert before.usd == pytest.approx(fake.billed_tokens * 0.10 / 1e6)
    assert after.n_cached == before.n_distinct
    assert after.n_tokens == 0
    assert after.n_requests == 0


def test_cache_dir_under_file_names_fix(make_vectorizer, fake, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache should go")

    with pytest.raises(OSError, match="cannot create the vector cache directory") as info:
        make_vectorizer(cache_dir=str(blocker / "cache")).transform(["text"])

    assert "cache_dir=False" in str(info.value)
    assert fake.requests == []


def test_truncated_vector_not_reused_without_truncate(make_vectorizer, fake):
    long_text = "fever " * 9000

    with pytest.warns(UserWarning, match="truncated"):
        first = make_vectorizer(truncate=True).transform([long_text, "short"])
    with pytest.warns(UserWarning, match="truncated"):
        second = make_vectorizer(truncate=True).transform([long_text, "short"])

    np.testing.assert_array_equal(first, second)
    assert len(fake.requests) == 1
    with pytest.raises(TextTooLongError):
        make_vectorizer(truncate=False).transform([long_text])
    assert len(fake.requests) == 1
