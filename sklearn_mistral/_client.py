"""Send one batch of texts to ``{base_url}/embeddings``, retrying what can be retried.

The client knows HTTP and the wire format, nothing about scikit-learn or the cache.
"""

import asyncio
import json
import logging
from urllib.parse import urlsplit

import httpx

from ._errors import APIConnectionError, APITimeoutError
from ._response import error_from_response, parse_embeddings
from ._throttle import backoff_delay, requested_wait

__all__ = ["EmbeddingsClient", "make_http_client"]

logger = logging.getLogger("sklearn_mistral")

# Statuses worth another attempt: rate limited and server-side failures. 400, 401,
# 403, 404 and 422 describe the request itself, so a retry would fail the same way.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def make_http_client(base_url, timeout, max_concurrency):
    """Return an ``httpx.AsyncClient`` sized for ``max_concurrency`` requests in flight."""
    host = urlsplit(base_url).hostname or ""
    return httpx.AsyncClient(
        timeout=timeout,
        limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
        # Proxy settings from the environment must not capture loopback traffic.
        trust_env=host not in _LOOPBACK_HOSTS and not host.startswith("127."),
    )


class EmbeddingsClient:
    """Sends batches with retries, sharing a :class:`~._throttle.Throttle`.

    Parameters
    ----------
    http : httpx.AsyncClient
    url : str
        The full endpoint URL, ``{base_url}/embeddings``.
    api_key : str
        Sent as a bearer token; kept out of every message and log line.
    fields : dict
        Request fields besides ``input``: ``model`` and the output settings.
    n_features, dtype
        The expected length and dtype of each returned vector (``n_features`` may be
        ``None`` when the model is unknown).
    max_retries : int
    throttle : Throttle
    stats : Usage
        Counts of the running transform, updated in place.
    """

    def __init__(self, http, *, url, api_key, fields, n_features, dtype, max_retries, throttle, stats):
        self._http = http
        self._url = url
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._fields = fields
        self.n_features = n_features
        self._dtype = dtype
        self._max_retries = max_retries
        self._throttle = throttle
        self._stats = stats

    def __repr__(self):
        return f"EmbeddingsClient(url={self._url!r})"

    async def embed(self, texts):
        """Return ``(vectors, prompt_tokens)`` for ``texts``, in their order."""
        content = json.dumps({**self._fields, "input": texts}).encode("utf-8")
        attempt = 0
        while True:
            error, wait = await self._attempt(content, len(texts), attempt)
            if error is None:
                return wait

            attempt += 1
            if attempt > self._max_retries:
                raise error
            self._stats.n_retries += 1
            logger.warning(
                "retrying a batch of %d texts after %s (attempt %d of %d, waiting %.2f s)",
                len(texts), _short(error), attempt, self._max_retries, wait,
            )
            await asyncio.sleep(wait)

    async def _attempt(self, content, n_inputs, attempt):
        """Send once. Return ``(None, result)`` or ``(retryable error, wait)``; raise the rest."""
        path = urlsplit(self._url).path
        backoff = backoff_delay(attempt + 1)
        try:
            async with self._throttle:
                self._stats.n_requests += 1
                response = await self._http.post(self._url, content=content, headers=self._headers)
        except httpx.TimeoutException as exc:
            return APITimeoutError(f"POST {path} timed out ({type(exc).__name__})"), backoff
        except httpx.TransportError as exc:
            return APIConnectionError(f"POST {path} failed: {type(exc).__name__}: {exc}"), backoff

        if response.status_code == 200:
            self._throttle.record_success()
            result = parse_embeddings(response, n_inputs, self.n_features, self._dtype)
            self._learn_n_features(result[0])
            return None, result

        error = error_from_response(response)
        if response.status_code not in RETRYABLE_STATUSES:
            raise error
        wait = requested_wait(response.headers)
        wait = backoff if wait is None else wait
        if response.status_code == 429:
            self._stats.n_rate_limited += 1
            self._throttle.record_rate_limited(wait)
        return error, wait

    def _learn_n_features(self, vectors):
        # For models of unknown size, the first answer fixes the length for the rest.
        if self.n_features is None:
            self.n_features = vectors.shape[1]


def _short(error):
    status = getattr(error, "status_code", None)
    return f"HTTP {status}" if status else type(error).__name__
