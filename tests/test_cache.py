"""The on-disk cache: damage is detected and repaired, processes share it, it leaks no text.

Damage is done the way a disk or a careless tool would do it: by editing diskcache's
SQLite file (``cache.db``) directly with ``sqlite3``.
"""

import json
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sklearn_mistral import MistralEmbeddingVectorizer, track_usage
from sklearn_mistral._cache import VectorCache
from sklearn_mistral._output import stored_dtype
from sklearn_mistral.datasets import load_symptom2disease
from sklearn_mistral.testing import FakeMistralAPI, fake_embedding

TEXTS = ["a dry cough", "a skin rash", "joint pain in the knees", "blurred vision", "night sweats"]


def assert_rows_are_fake_embeddings(X, texts):
    assert X.shape == (len(texts), 1024)
    for row, text in zip(X, texts):
        np.testing.assert_array_equal(row, fake_embedding(text))


def _damage_first_entry(cache_dir, damage):
    """Replace the stored value of the oldest cache row with ``damage(value)``."""
    db = sqlite3.connect(cache_dir / "cache.db")
    try:
        with db:
            rowid, value = db.execute("SELECT rowid, value FROM Cache WHERE value IS NOT NULL ORDER BY rowid").fetchone()
            db.execute("UPDATE Cache SET value = ? WHERE rowid = ?", (damage(bytes(value)), rowid))
    finally:
        db.close()


def _flip_byte(position):
    def flip(value):
        damaged = bytearray(value)
        damaged[position] ^= 0x10
        return bytes(damaged)

    return flip


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(_flip_byte(0), id="flip-first-byte"),
        pytest.param(_flip_byte(2001), id="flip-byte-in-vector"),
        pytest.param(_flip_byte(-1), id="flip-byte-in-checksum"),
        pytest.param(lambda value: value[:-1], id="truncate-one-byte"),
        pytest.param(lambda value: value[: len(value) // 2], id="truncate-half"),
        pytest.param(lambda value: b"", id="truncate-all"),
        pytest.param(lambda value: value + b"\x00", id="append-byte"),
    ],
)
def test_damaged_entry_refetched(damage, make_vectorizer, fake, tmp_path, caplog):
    make_vectorizer().transform(TEXTS)
    _damage_first_entry(tmp_path / "cache", damage)
    fake.reset()

    with caplog.at_level(logging.WARNING, logger="sklearn_mistral"):
        X = make_vectorizer().transform(TEXTS)

    assert_rows_are_fake_embeddings(X, TEXTS)
    assert len(fake.requests) == 1
    assert len(fake.requests[0].inputs) == 1
    assert fake.requests[0].inputs[0] in TEXTS
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert [record.getMessage() for record in warnings] == [
        "1 damaged cache entries were ignored and will be fetched again"
    ]


def test_damaged_entry_repaired_by_refetch(make_vectorizer, fake, tmp_path):
    make_vectorizer().transform(TEXTS)
    _damage_first_entry(tmp_path / "cache", _flip_byte(100))
    make_vectorizer().transform(TEXTS)
    fake.reset()
    fake.fail_every_request = True

    with track_usage() as usage:
        X = make_vectorizer().transform(TEXTS)

    assert_rows_are_fake_embeddings(X, TEXTS)
    assert fake.requests == []
    assert usage.n_cache_hits == len(TEXTS)


# Several processes on one cache directory

_WORKER = textwrap.dedent(
    """
    import json
    import os
    import sys

    import numpy as np

    from sklearn_mistral import MistralEmbeddingVectorizer
    from sklearn_mistral._tokens import get_token_counter

    texts = json.loads(sys.argv[1])
    vectorizer = MistralEmbeddingVectorizer(
        base_url=os.environ["TEST_BASE_URL"],
        api_key_env=os.environ["TEST_API_KEY_ENV"],
        cache_dir=os.environ["TEST_CACHE_DIR"],
        batch_size=4,
        max_concurrency=2,
    )
    get_token_counter("mistral-embed")

    # Start all workers at once: each waits for the parent's line on stdin.
    print("ready", flush=True)
    sys.stdin.readline()
    np.save(sys.argv[2], vectorizer.transform(texts))
    """
)


def _start_workers(script, jobs, env):
    workers = []
    for args in jobs:
        process = subprocess.Popen(
            [sys.executable, str(script), *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        workers.append(process)
    for process in workers:
        assert process.stdout.readline() == "ready\n", process.communicate()[1]
    for process in workers:
        process.stdin.write("go\n")
        process.stdin.flush()
    return workers


def test_four_processes_share_one_cache(tmp_path):
    distinct = list(dict.fromkeys(load_symptom2disease().text))[:120]
    # Each process takes 60 texts, sharing 40 with the next one: 20 of its own.
    chunks = [distinct[start : start + 60] for start in (0, 20, 40, 60)]
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    cache_dir = tmp_path / "cache"

    with FakeMistralAPI(latency=0.02) as fake:
        env = {
            **os.environ,
            "TEST_BASE_URL": fake.base_url,
            "TEST_API_KEY_ENV": fake.api_key_env,
            "TEST_CACHE_DIR": str(cache_dir),
        }
        jobs = [(json.dumps(chunk), str(tmp_path / f"out{i}.npy")) for i, chunk in enumerate(chunks)]
        workers = _start_workers(script, jobs, env)
        for process in workers:
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr

        outputs = [np.load(tmp_path / f"out{i}.npy") for i in range(4)]
        fake.reset()
        fake.fail_every_request = True
        warm = MistralEmbeddingVectorizer(base_url=fake.base_url, api_key_env=fake.api_key_env, cache_dir=str(cache_dir))
        X_warm = warm.transform(distinct[:120])

    for X, chunk in zip(outputs, chunks):
        assert_rows_are_fake_embeddings(X, chunk)
    assert_rows_are_fake_embeddings(X_warm, distinct[:120])
    assert fake.requests == []


# What the cache directory looks like


def test_cache_dir_created_private(make_vectorizer, tmp_path):
    cache_dir = tmp_path / "new" / "cache"
    previous = os.umask(0)
    try:
        make_vectorizer(cache_dir=str(cache_dir)).transform(TEXTS)
    finally:
        os.umask(previous)

    assert cache_dir.stat().st_mode & 0o777 == 0o700


def test_cache_files_contain_no_input_text(make_vectorizer, fake, tmp_path):
    marker = "quokka-zebra-7731 itches behind the left elbow"
    texts = [marker, f"{marker} and the right knee"]

    make_vectorizer().transform(texts)

    files = [path for path in (tmp_path / "cache").rglob("*") if path.is_file()]
    contents = b"".join(path.read_bytes() for path in files)
    assert any(path.name == "cache.db" for path in files)
    assert marker in fake.requests[0].inputs[0]
    for encoding in ("utf-8", "utf-16-le"):
        assert marker.encode(encoding) not in contents


def _key(**params):
    settings = MistralEmbeddingVectorizer(**params)._settings()
    store = VectorCache(None, settings.namespace, stored_dtype(settings.output_dtype))
    return store.keys(["the same text"])[0]


@pytest.mark.parametrize(
    "change",
    [
        {"model": "codestral-embed"},
        {"model": "mistral-embed-2312"},
        {"model": "codestral-embed", "output_dimension": 256},
        {"model": "codestral-embed", "output_dtype": "int8"},
        {"model": "codestral-embed", "output_dtype": "binary"},
        {"base_url": "http://127.0.0.1:8000/v1"},
        {"base_url": "https://embeddings.example.internal/v1"},
    ],
)
def test_cache_key_changes_with_setting(change):
    assert _key(**change) != _key()


def test_cache_key_differs_per_output_dimension():
    assert _key(model="codestral-embed", output_dimension=256) != _key(model="codestral-embed", output_dimension=512)


@pytest.mark.parametrize(
    "same",
    [
        # Regional hosts serve the same models; a loopback server may restart on another port.
        {"base_url": "https://api.eu.mistral.ai/v1"},
        {"api_key_env": "OTHER_KEY", "batch_size": 7, "max_concurrency": 1, "timeout": 5.0},
    ],
)
def test_cache_key_kept_for_same_vectors(same):
    assert _key(**same) == _key()


def test_cache_key_kept_across_fake_ports():
    first = _key(base_url="http://127.0.0.1:8000/sklearn-mistral-fake-1/v1")

    assert first == _key(base_url="http://localhost:9000/sklearn-mistral-fake-1/v1")
    assert first != _key(base_url="http://localhost:9000/sklearn-mistral-fake-2/v1")


def test_cache_key_differs_between_local_servers():
    assert _key(base_url="http://127.0.0.1:8000/v1") != _key(base_url="http://127.0.0.1:9000/v1")
    assert _key(base_url="http://127.0.0.1:8000/v1") != _key(base_url="http://127.0.0.1:8000/sklearn-mistral-fake-1/v1")


@pytest.mark.parametrize(
    "first, second",
    [
        ({"output_dimension": 256}, {"output_dimension": 512}),
        ({}, {"output_dtype": "int8"}),
    ],
)
def test_codestral_setting_change_fetches_again(first, second, make_vectorizer, fake):
    make_vectorizer(model="codestral-embed", **first).transform(TEXTS)
    make_vectorizer(model="codestral-embed", **first).transform(TEXTS)

    make_vectorizer(model="codestral-embed", **second).transform(TEXTS)

    assert len(fake.requests) == 2
    assert fake.requests[1].body == {"model": "codestral-embed", "input": TEXTS, **second}
