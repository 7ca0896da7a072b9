import pytest

from sklearn_mistral import MistralEmbeddingVectorizer
from sklearn_mistral.testing import FakeMistralAPI


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
