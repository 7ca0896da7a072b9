"""``FakeMistralAPI``: the offline fake of Mistral's embeddings API, on real HTTP."""

import logging
import os
import threading
import time
import urllib.parse
import uuid

from .._cache import FAKE_PATH_PREFIX
from .._tokens import get_token_counter
from ._api import (
    KNOWN_MODELS,
    APIError,
    Limits,
    embedding_response,
    is_authorized,
    parse_json,
    read_inputs,
    validate_request,
)
from ._faults import (
    DATA_FAULTS,
    RETRY_AFTER_AND_MS,
    FaultPlan,
    FaultSource,
    fault_response,
    retry_after_headers,
)
from ._limits import (
    RateLimiter,
    RetryTracker,
    check_positive_int,
    check_rate,
    check_seconds,
    inputs_key,
)
from ._records import Exchange, RequestRecord
from ._responses import (
    Response,
    method_not_allowed_response,
    rate_limited_response,
    route_not_found_response,
    server_error_response,
    unauthorized_response,
)
from ._server import HOST, EmbeddingsHTTPServer, read_body, send_response

__all__ = ["FakeMistralAPI", "RequestRecord"]

logger = logging.getLogger("sklearn_mistral.testing")

EMBEDDINGS_PATH = "/v1/embeddings"

# The fake's base_url carries this prefix so that caches keep its vectors apart from any
# real server's. Raise the version whenever the vectors of fake_embedding change, so
# that caches filled by an older fake are not read.
VECTORS_VERSION = 1
PATH_PREFIX = f"/{FAKE_PATH_PREFIX}{VECTORS_VERSION}"
# The key placed in ``api_key_env`` when the fake accepts any bearer token.
_ANY_KEY = "fake-key"


class FakeMistralAPI:
    """An offline fake of Mistral's ``POST /v1/embeddings``, served over HTTP on loopback.

    It enforces the API's limits and error bodies, bills ``usage`` with Mistral's
    tokenizers, records every request, and can inject latency, rate limits and faults.
    Its vectors are deterministic and carry some meaning (see :func:`fake_embedding`),
    but they are not mistral-embed's vectors.

    The server binds 127.0.0.1 on a free port (or ``port``), keeps HTTP/1.1
    connections alive, and serves each connection in its own daemon thread. Use it as
    a context manager, or call :meth:`start` and :meth:`stop`.

    Parameters
    ----------
    api_key : str or None, default="test-key"
        The bearer token accepted. ``None`` accepts any non-empty bearer token.
    latency : float, default=0.0
        Seconds added to every response.
    latency_per_token : float, default=0.0
        Seconds added per billed token of a successful response.
    max_inputs_per_request : int, default=256
        Inputs accepted per request; more get 400.
    max_tokens_per_request : int, default=16384
        Billed tokens accepted per request, summed over its inputs; more get 400.
    max_tokens_per_input : int, default=8192
        Billed tokens accepted per input; more get 400.
    rate_limit_rps : float or None, default=None
        Requests per second allowed, as a token bucket holding ``max(1, rate)``
        requests. Requests over it get 429 with ``Retry-After`` and ``retry-after-ms``.
    rate_limit_tpm : float or None, default=None
        Billed tokens per minute allowed, enforced separately; over it: 429.
    faults : FaultPlan or None, default=None
        Random faults to inject.
    port : int, default=0
        The TCP port on 127.0.0.1; 0 picks a free one.

    Attributes
    ----------
    fail_every_request : bool
        Set to True to respond to every request with 500, for instance to prove that a
        warm cache sends nothing.

    Examples
    --------
    >>> import httpx
    >>> from sklearn_mistral.testing import FakeMistralAPI
    >>> with FakeMistralAPI(api_key="test-key") as fake:
    ...     response = httpx.post(
    ...         f"{fake.base_url}/embeddings",
    ...         headers={"Authorization": "Bearer test-key"},
    ...         json={"model": "mistral-embed", "input": ["Embed this sentence."]},
    ...     )
    ...     print(response.status_code, fake.n_requests, fake.billed_tokens)
    200 1 7
    """

    def __init__(
        self,
        api_key="test-key",
        *,
        latency=0.0,
        latency_per_token=0.0,
        max_inputs_per_request=256,
        max_tokens_per_request=16384,
        max_tokens_per_input=8192,
        rate_limit_rps=None,
        rate_limit_tpm=None,
        faults=None,
        port=0,
    ):
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            raise ValueError("api_key must be a non-empty str, or None to accept any key.")
        check_seconds("latency", latency)
        check_seconds("latency_per_token", latency_per_token)
        check_positive_int("max_inputs_per_request", max_inputs_per_request)
        check_positive_int("max_tokens_per_request", max_tokens_per_request)
        check_positive_int("max_tokens_per_input", max_tokens_per_input)
        check_rate("rate_limit_rps", rate_limit_rps)
        check_rate("rate_limit_tpm", rate_limit_tpm)
        if faults is not None and not isinstance(faults, FaultPlan):
            raise TypeError(f"faults must be a FaultPlan or None, got {type(faults).__name__}.")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in [0, 65535], got {port!r}.")

        self._api_key = api_key
        self.latency = latency
        self.latency_per_token = latency_per_token
        self.limits = Limits(max_inputs_per_request, max_tokens_per_request, max_tokens_per_input)
        self.fail_every_request = False
        self._port = port
        self._faults = FaultSource(faults)
        self._rate_limiter = RateLimiter(rate_limit_rps, rate_limit_tpm)
        self._retries = RetryTracker()
        self._records = []
        self._records_lock = threading.Lock()
        self._server = None
        self._thread = None

    def __repr__(self):
        where = self.base_url if self._server is not None else "stopped"
        return f"{type(self).__name__}({where})"

    # Lifecycle

    def start(self):
        """Bind 127.0.0.1 and serve in a daemon thread. Returns ``self``."""
        if self._server is not None:
            raise RuntimeError("FakeMistralAPI is already running.")
        self._server = EmbeddingsHTTPServer(self._port, self._handle)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"FakeMistralAPI:{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        os.environ[self.api_key_env] = self._api_key or _ANY_KEY
        logger.info("Fake Mistral API serving at %s", self.base_url)
        return self

    def stop(self):
        """Stop serving and close open connections. Does nothing if the fake is not running."""
        if self._server is None:
            return
        os.environ.pop(self.api_key_env, None)
        server, self._server = self._server, None
        server.shutdown()
        server.close_connections()
        server.server_close()
        self._thread.join()
        logger.info("Fake Mistral API at port %d stopped", server.server_port)

    def _running_server(self):
        if self._server is None:
            raise RuntimeError(
                "FakeMistralAPI is not running. Call start() or use it in a with block."
            )
        return self._server

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def base_url(self):
        """The base URL, ``http://127.0.0.1:<port>/sklearn-mistral-fake-<version>/v1``.

        Clients POST to ``{base_url}/embeddings``. The fake also serves the real
        API's path, ``/v1/embeddings``, for clients such as the official SDK that take a
        server URL and add ``/v1`` themselves.
        """
        return f"http://{HOST}:{self._running_server().server_port}{PATH_PREFIX}/v1"

    @property
    def api_key_env(self):
        """The name of an environment variable that contains a key the fake accepts.

        :meth:`start` sets it in ``os.environ`` and :meth:`stop` removes it, so that a
        client that reads its key from an environment variable, such as
        ``MistralEmbeddingVectorizer(api_key_env=...)``, authenticates. Processes
        started before :meth:`start`, such as reused joblib workers, do not see it.
        """
        return f"SKLEARN_MISTRAL_FAKE_API_KEY_{self._running_server().server_port}"

    # Record and control

    @property
    def requests(self):
        """A snapshot list of :class:`RequestRecord`, in arrival order."""
        with self._records_lock:
            return list(self._records)

    @property
    def n_requests(self):
        """The number of requests that got a 200 response."""
        return sum(record.status == 200 for record in self.requests)

    @property
    def billed_tokens(self):
        """The sum of ``usage.prompt_tokens`` over the responses sent."""
        return sum(record.prompt_tokens for record in self.requests)

    @property
    def early_retries(self):
        """The number of requests that retried before the wait a 429 asked for."""
        return sum(record.early_retry for record in self.requests)

    def reset(self):
        """Clear the request record and the memory of requested waits.

        Injected faults that were not consumed yet, rate-limit buckets and
        ``fail_every_request`` stay as they are.
        """
        with self._records_lock:
            self._records.clear()
        self._retries.clear()

    def inject(self, kind, times=1, **options):
        """Apply a fault to the next ``times`` authorized requests to the endpoint.

        Scripted faults are consumed in order, before random faults of the
        :class:`FaultPlan`. A fault that alters a 200 response is consumed even if
        the request turns out invalid.

        Parameters
        ----------
        kind : str
            One of:

            - ``"429"``: rate limited. Options: ``retry_after`` in seconds (default
              1.0) and ``header``, the header that carries it: ``"retry-after"``
              (the default, whole seconds rounded up), ``"retry-after-date"`` (an
              HTTP date), ``"retry-after-ms"``, ``"ratelimitbysize-reset"`` or
              ``"none"``.
            - ``"500"``, ``"502"``, ``"503"``, ``"504"``: server errors. 502 and 504
              have an HTML body, as a proxy sends.
            - ``"drop"``: close the connection without a response.
            - ``"slow"``: wait ``delay`` seconds (default 1.0), then respond normally.
            - ``"html"``: a 200 whose body is an HTML page.
            - ``"no-data"``: a 200 JSON body without ``data``.
            - ``"wrong-dim"``: the first vector is one value short.
            - ``"missing-index"``: ``data`` has no entry for the last input.
            - ``"duplicate-index"``: the last entry of ``data`` repeats index 0.
            - ``"shuffled"``: ``data`` is reversed, with correct ``index`` values.
            - ``"401"``: unauthorized. Option ``body_shape``: ``"message"`` (the
              default), ``"mistral"`` or ``"detail"``.
            - ``"403"``: forbidden, ``{"message": "Forbidden", "request_id": ...}``.
            - ``"400-too-many-tokens"``, ``"400-too-many-inputs"``: the API's bodies
              for these limits, as if its limit were lower than the fake's.
        times : int, default=1
            The number of requests that get this fault.
        """
        self._faults.inject(kind, times, **options)

    # One request, in the connection's thread

    def _handle(self, handler):
        exchange = Exchange(start=time.monotonic(), request_id=uuid.uuid4().hex)
        try:
            self._parse(exchange, read_body(handler), handler.headers.get("Content-Type", ""))
        except (ValueError, OSError) as exc:
            logger.debug("Unreadable body in request %s: %r", exchange.request_id, exc)
            response = Response(None)
        else:
            response = self._respond(exchange, handler)
        self._remember_wait(exchange, response)

        # Sleep without holding any lock, so that other requests proceed meanwhile.
        delay = self.latency + exchange.delay + self.latency_per_token * response.prompt_tokens
        if delay > 0:
            time.sleep(delay)

        # Record before sending, so that a client that got its response finds it in
        # ``requests``.
        self._record(exchange, response)
        send_response(handler, response, exchange.request_id)

    def _parse(self, exchange, raw, content_type):
        try:
            exchange.parsed = parse_json(raw, content_type)
        except APIError as exc:
            exchange.rejection = exc.response
        exchange.inputs = read_inputs(exchange.parsed)

        # Unknown models are counted with mistral-embed's tokenizer, so that a typo in
        # a model name does not load another tokenizer.
        model = exchange.model if exchange.model in KNOWN_MODELS else "mistral-embed"
        if exchange.inputs:
            exchange.token_counts = get_token_counter(model).count(exchange.inputs)
            key = inputs_key(exchange.inputs)
            exchange.early_retry = self._retries.is_early(key, exchange.start)

    def _respond(self, exchange, handler):
        path = urllib.parse.urlsplit(handler.path).path
        if path not in (EMBEDDINGS_PATH, PATH_PREFIX + EMBEDDINGS_PATH):
            return route_not_found_response()
        if handler.command != "POST":
            return method_not_allowed_response()
        if self.fail_every_request:
            exchange.fault = "fail-every-request"
            return server_error_response(500)

        authorization = handler.headers.get("Authorization", "")
        exchange.authorized = is_authorized(authorization, self._api_key)
        if not exchange.authorized:
            return unauthorized_response(exchange.request_id)

        fault = self._faults.next_fault()
        if fault is None:
            return self._embed(exchange)
        exchange.fault = fault.kind
        response = fault_response(fault, exchange.request_id)
        if response is not None:
            return response
        exchange.delay = fault.options.get("delay", 0.0)
        return self._embed(exchange, fault.kind if fault.kind in DATA_FAULTS else None)

    def _embed(self, exchange, data_fault=None):
        if exchange.rejection is not None:
            return exchange.rejection
        try:
            request = validate_request(exchange.parsed, exchange.token_counts, self.limits)
        except APIError as exc:
            return exc.response

        n_tokens = int(exchange.token_counts.sum())
        rejection = self._rate_limiter.acquire(n_tokens)
        if rejection is not None:
            limit, wait = rejection
            headers, retry_after = retry_after_headers(wait, RETRY_AFTER_AND_MS)
            body_shape = "message" if limit == "requests" else "mistral"
            return rate_limited_response(headers, retry_after, body_shape)
        return embedding_response(request, n_tokens, data_fault)

    def _remember_wait(self, exchange, response):
        if response.status == 429 and response.retry_after is not None and exchange.inputs:
            not_before = time.monotonic() + response.retry_after
            self._retries.remember(inputs_key(exchange.inputs), not_before)

    def _record(self, exchange, response):
        record = RequestRecord(
            start=exchange.start,
            end=time.monotonic(),
            status=response.status,
            model=exchange.model,
            inputs=exchange.inputs,
            n_tokens=int(exchange.token_counts.sum()),
            fault=exchange.fault,
            request_id=exchange.request_id,
            authorized=exchange.authorized,
            early_retry=exchange.early_retry,
            body=exchange.body,
            prompt_tokens=response.prompt_tokens,
        )
        with self._records_lock:
            self._records.append(record)
        logger.debug(
            "Request %s: %d inputs, %d tokens, status %s, fault %s",
            record.request_id,
            len(record.inputs),
            record.n_tokens,
            record.status,
            record.fault,
        )
