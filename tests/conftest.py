import os

import pytest

from sklearn_mistral import MistralEmbeddingVectorizer
from sklearn_mistral.testing import FakeMistralAPI

# Set when the test session starts, so that every joblib worker process, whenever it
# was started, inherits a key that fakes built with TEST_API_KEY accept.
TEST_API_KEY_ENV = "SKLEARN_MISTRAL_TEST_API_KEY"
TEST_API_KEY = "test-key-for-worker-processes"
os.environ[TEST_API_KEY_ENV] = TEST_API_KEY


@pytest.fixture
def fake():
    """A fresh fake Mistral API on loopback, stopped after the test."""
    with FakeMistralAPI() as api:
        yield api


@pytest.fixture
def make_vectorizer(fake, tmp_path):
    """Build vectorizers aimed at ``fake`` with a cache private to the test."""

    def make(**params):
        params.setdefault("base_url", fake.base_url)
        params.setdefault("api_key_env", fake.api_key_env)
        params.setdefault("cache_dir", str(tmp_path / "cache"))
        return MistralEmbeddingVectorizer(**params)

    return make
