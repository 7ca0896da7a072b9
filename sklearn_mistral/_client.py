"""Send one batch of texts to ``{base_url}/embeddings``, retrying what can be retried.

The client knows HTTP and the wire format, nothing about scikit-learn or the cache.
"""

import asyncio
import dataclasses
import functools
import json
import logging
import os
import ssl
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
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    # Proxy settings from the environment must not capture loopback traffic.
    trust_env = host not in _LOOPBACK_HOSTS and not host.startswith("127.")
    if parts.scheme == "https":
        ssl_context = _ssl_context(trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    else:
        # The client only posts to {base_url}/embeddings and follows no redirect, so a
        # plain-HTTP client never opens TLS. This context trusts no CA: it would reject
        # any certificate, and it costs nothing to build.
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return httpx.AsyncClient(
        timeout=timeout,
        limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
        trust_env=trust_env,
        verify=ssl_context,
    )


@functools.lru_cache(maxsize=8)
def _ssl_context(trust_env, cert_file, cert_dir):
    # httpx's default context, built once per process and per CA setting: loading the
    # CA bundle took about 45 ms of every transform that sent requests.
    return httpx.create_ssl_context(trust_env=trust_env)


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
            outcome = await self._attempt(content, len(texts), attempt)
            if not isinstance(outcome, _Failure):
                return outcome

            attempt += 1
            if attempt > self._max_retries:
                outcome.error.add_note(f"Gave up after {attempt} attempts (max_retries={self._max_retries}).")
                raise outcome.error
            self._stats.n_retries += 1
            logger.warning(
                "retrying a batch of %d texts after %s: retry %d of %d in %.2f s",
                len(texts), outcome.summary, attempt, self._max_retries, outcome.wait,
            )
            await asyncio.sleep(outcome.wait)

    async def _attempt(self, content, n_inputs, attempt):
        """Send once. Return the result or a retryable :class:`_Failure`; raise the rest."""
        backoff = backoff_delay(attempt + 1)
        try:
            async with self._throttle:
                self._stats.n_requests += 1
                response = await self._http.post(self._url, content=content, headers=self._headers)
        except httpx.TimeoutException as exc:
            return self._timeout_failure(exc, backoff)
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            # The request could not be built, so no retry can help. The exception text of
            # LocalProtocolError may quote header values, the key among them: leave it out.
            raise APIConnectionError(
                f"POST {_display_url(self._url)} could not be sent ({type(exc).__name__}). "
                "Check base_url: it must be an http:// or https:// URL."
            ) from None
        except httpx.TransportError as exc:
            error = APIConnectionError(
                f"POST {_display_url(self._url)} failed without a response ({type(exc).__name__}: {exc})."
            )
            return _Failure(error, backoff, f"{type(exc).__name__}, no response")

        if response.status_code == 200:
            self._throttle.record_success()
            result = parse_embeddings(response, n_inputs, self.n_features, self._dtype)
            self._learn_n_features(result[0])
            return result

        error = error_from_response(response)
        if response.status_code not in RETRYABLE_STATUSES:
            raise error
        wait = requested_wait(response.headers)
        wait = backoff if wait is None else wait
        if response.status_code == 429:
            self._stats.n_rate_limited += 1
            self._throttle.record_rate_limited(wait)
        summary = f"HTTP {error.status_code}" + (f" (request id {error.request_id})" if error.request_id else "")
        return _Failure(error, wait, summary)

    def _timeout_failure(self, exc, wait):
        seconds = self._http.timeout.read
        error = APITimeoutError(
            f"POST {_display_url(self._url)} got no response within timeout={seconds} s "
            f"({type(exc).__name__}). Raise timeout if the server is slow to answer large batches."
        )
        return _Failure(error, wait, f"{type(exc).__name__}, no response within timeout={seconds} s")

    def _learn_n_features(self, vectors):
        # For models of unknown size, the first response fixes the length for the rest.
        if self.n_features is None:
            self.n_features = vectors.shape[1]


@dataclasses.dataclass(frozen=True)
class _Failure:
    """A failed attempt worth retrying."""

    # Raised if this was the last attempt.
    error: Exception
    # Seconds to wait before the next attempt.
    wait: float
    # Description for the retry log: the status and request id, or the network error.
    summary: str


def _display_url(url):
    """Return ``url`` without user info or query, which may carry credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
