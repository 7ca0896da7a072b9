"""The fast paths of a transform: bulk cache reads and writes, decoding, batch plans."""

import json

import diskcache
import httpx
import numpy as np
import pytest

from sklearn_mistral import _cache, _response
from sklearn_mistral._batching import plan_batches
from sklearn_mistral._cache import BackgroundWriter, VectorCache, open_cache
from sklearn_mistral.testing import FakeMistralAPI, fake_embedding

NAMESPACE = {"endpoint": "loopback", "model": "mistral-embed", "output_dimension": None, "output_dtype": "float"}


@pytest.fixture
def store(tmp_path):
    return VectorCache(open_cache(tmp_path / "cache"), NAMESPACE, np.float32)


def random_vectors(n_rows, n_features=1024, seed=0):
    return np.random.default_rng(seed).standard_normal((n_rows, n_features), dtype=np.float32)


def read_all(store, keys, n_features=1024):
    """Return ``(found mask, rows)`` from ``read_into``, with every chunk copied out."""
    rows = {}

    def write(positions, vectors):
        rows.update(zip(positions.tolist(), np.array(vectors)))

    return store.read_into(keys, n_features, write), rows


def test_set_many_entries_readable_by_diskcache(store, tmp_path):
    keys = store.keys(["a cough", "a rash"])
    store.set_many(keys, random_vectors(2))

    cache = diskcache.Cache(tmp_path / "cache")
    value = cache.get(keys[0])

    assert len(cache) == 2
    assert isinstance(value, bytes)
    assert len(value) == 1024 * 4 + 8


def test_set_many_replaces_entry_in_place(store, tmp_path):
    keys = store.keys(["a cough"])
    store.set_many(keys, random_vectors(1, seed=1))
    store.set_many(keys, random_vectors(1, seed=2))

    found, rows = read_all(store, keys)

    assert len(diskcache.Cache(tmp_path / "cache")) == 1
    np.testing.assert_array_equal(rows[0], random_vectors(1, seed=2)[0])


@pytest.mark.parametrize("n_requested", [10, 1500], ids=["look-up", "scan"])
def test_read_into_places_vectors_by_position(store, n_requested):
    # Of 2000 stored entries, 10 are looked up by key, and 1500 are found by reading the whole table.
    texts = [f"text {i}" for i in range(2000)]
    vectors = random_vectors(2000)
    store.set_many(store.keys(texts), vectors)
    requested = texts[::-1][:n_requested] + ["never stored"]

    found, rows = read_all(store, store.keys(requested))

    assert found.tolist() == [True] * n_requested + [False]
    for position, text in enumerate(requested[:-1]):
        np.testing.assert_array_equal(rows[position], vectors[texts.index(text)])


def test_read_into_passes_bounded_chunks(store):
    texts = [f"text {i}" for i in range(2000)]
    store.set_many(store.keys(texts), random_vectors(2000))
    chunk_sizes = []

    store.read_into(store.keys(texts), 1024, lambda positions, vectors: chunk_sizes.append(len(positions)))

    assert sum(chunk_sizes) == 2000
    assert max(chunk_sizes) <= _cache._KEYS_PER_QUERY


def test_get_many_matches_read_into(store):
    texts = ["a", "b", "c"]
    vectors = random_vectors(3)
    store.set_many(store.keys(texts[:2]), vectors[:2])

    hits = store.get_many(store.keys(texts), 1024)

    assert sorted(hits) == [0, 1]
    np.testing.assert_array_equal(hits[1], vectors[1])


def test_read_into_skips_non_finite_vector(store, caplog):
    keys = store.keys(["fine", "broken"])
    vectors = random_vectors(2)
    vectors[1, 7] = np.nan
    store.set_many(keys, vectors)

    found, _ = read_all(store, keys)

    assert found.tolist() == [True, False]
    assert "1 damaged cache entries" in caplog.text


def test_cache_keys_differ_from_first_format(store):
    # Entries of the first layout (BLAKE2b checksums) must be misses, not damage.
    import hashlib

    first_prefix = hashlib.sha256(repr(sorted(NAMESPACE.items())).encode()).digest()
    first_key = hashlib.sha256(first_prefix + b"a cough").digest()

    assert store.keys(["a cough"]) != [first_key]


def test_checksum_detects_one_changed_word():
    keys = [bytes(range(32))] * 2
    payloads = np.zeros((2, 4096), dtype=np.uint8)
    payloads[1, 4000] = 1

    sums = _cache._checksums(keys, payloads)

    assert sums[0] != sums[1]


def test_checksum_depends_on_key():
    payloads = np.ones((2, 4096), dtype=np.uint8)

    sums = _cache._checksums([b"\x00" * 32, b"\x00" * 31 + b"\x01"], payloads)

    assert sums[0] != sums[1]


def test_checksum_pads_odd_lengths():
    # Bit-packed vectors of 100 dimensions take 13 bytes.
    payloads = np.arange(26, dtype=np.uint8).reshape(2, 13)

    sums = _cache._checksums([b"k" * 32] * 2, payloads)

    assert sums.shape == (2,)
    assert sums[0] != sums[1]


class FailingStore:
    def __init__(self):
        self.n_calls = 0

    def set_many(self, keys, vectors):
        self.n_calls += 1
        raise OSError("disk full")


def test_background_writer_raises_failed_write_on_close():
    writer = BackgroundWriter(FailingStore())
    writer.submit([b"k"], random_vectors(1))

    with pytest.raises(OSError, match="disk full"):
        writer.close()


def test_background_writer_close_can_keep_quiet():
    store = FailingStore()
    writer = BackgroundWriter(store)
    writer.submit([b"k"], random_vectors(1))

    writer.close(raise_error=False)

    assert store.n_calls == 1


def test_background_writer_stores_in_order(store):
    writer = BackgroundWriter(store)
    keys = store.keys(["same text"])
    for seed in range(5):
        writer.submit(keys, random_vectors(1, seed=seed))
    writer.close()

    _, rows = read_all(store, keys)

    np.testing.assert_array_equal(rows[0], random_vectors(1, seed=4)[0])


@pytest.fixture
def embeddings_response():
    texts = ["a dry cough", "a skin rash", "night sweats"]
    with FakeMistralAPI() as fake:
        response = httpx.post(
            f"{fake.base_url}/embeddings",
            headers={"Authorization": "Bearer test-key"},
            json={"model": "mistral-embed", "input": texts},
        )
    response.read()
    return texts, response


def test_parse_embeddings_same_with_json_module(embeddings_response, monkeypatch):
    texts, response = embeddings_response
    default_vectors, default_tokens = _response.parse_embeddings(response, 3, 1024, np.float32)

    monkeypatch.setattr(_response, "_loads", json.loads)
    json_vectors, json_tokens = _response.parse_embeddings(response, 3, 1024, np.float32)

    np.testing.assert_array_equal(default_vectors, json_vectors)
    assert default_tokens == json_tokens
    for row, text in zip(default_vectors, texts):
        np.testing.assert_array_equal(row, fake_embedding(text))


def test_plan_batches_evens_out_when_inputs_cap_binds():
    # 1153 short texts: ten batches either way, but no batch of 1 at the end.
    n_tokens = np.full(1153, 44)
    n_tokens[::7] = 80

    batches = plan_batches(n_tokens, 128, 16384)

    assert len(batches) == 10
    assert min(len(batch) for batch in batches) >= 100
