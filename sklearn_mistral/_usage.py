"""Add up what transforms cost, without storing anything on the estimator."""

import contextlib
import dataclasses
import threading

__all__ = ["Usage", "record_usage", "track_usage"]

_active = []
_active_lock = threading.Lock()


@dataclasses.dataclass
class Usage:
    """Totals over the transforms run inside one :func:`track_usage` block.

    Attributes
    ----------
    n_texts : int
        Texts passed to ``transform``, duplicates included.
    n_distinct : int
        Distinct texts among them, summed per transform.
    n_cache_hits : int
        Distinct texts read from the cache.
    n_requests : int
        HTTP requests sent, retries included.
    n_retries : int
        Requests that were retries of an earlier attempt.
    n_rate_limited : int
        Responses with status 429.
    n_tokens : int
        Tokens billed, from the API's ``usage.prompt_tokens``.
    n_truncated : int
        Texts cut to the per-input token limit.
    """

    n_texts: int = 0
    n_distinct: int = 0
    n_cache_hits: int = 0
    n_requests: int = 0
    n_retries: int = 0
    n_rate_limited: int = 0
    n_tokens: int = 0
    n_truncated: int = 0

    def add(self, stats):
        """Add the counts of one transform (any object with the same fields)."""
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(stats, field.name))


@contextlib.contextmanager
def track_usage():
    """Count texts, cache hits, requests and billed tokens of the transforms in a block.

    Counts every transform run in this process while the block is open, from any
    thread. Transforms in other processes (``GridSearchCV(n_jobs=2)`` with the default
    joblib backend) are not seen.

    Yields
    ------
    usage : Usage

    Examples
    --------
    >>> from sklearn_mistral import MistralEmbeddingVectorizer, track_usage
    >>> from sklearn_mistral.testing import FakeMistralAPI
    >>> with FakeMistralAPI() as fake, track_usage() as usage:
    ...     vectorizer = MistralEmbeddingVectorizer(
    ...         base_url=fake.base_url, api_key_env=fake.api_key_env, cache_dir=False)
    ...     _ = vectorizer.transform(["a sore throat", "a sore throat", "a rash"])
    >>> usage.n_texts, usage.n_distinct, usage.n_requests
    (3, 2, 1)
    """
    usage = Usage()
    with _active_lock:
        _active.append(usage)
    try:
        yield usage
    finally:
        with _active_lock:
            _active.remove(usage)


def record_usage(stats):
    """Add one transform's counts to every open :func:`track_usage` block."""
    with _active_lock:
        for usage in _active:
            usage.add(stats)
