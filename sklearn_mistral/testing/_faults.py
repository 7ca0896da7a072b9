"""Fault injection: scripted faults consumed in order, then random ones from a plan."""

import collections
import dataclasses
import email.utils
import math
import numbers
import random
import threading
import time

from ._responses import (
    Response,
    json_response,
    proxy_page_response,
    rate_limited_response,
    server_error_response,
    too_many_inputs_response,
    too_many_tokens_response,
    unauthorized_response,
)
from ._limits import check_seconds

__all__ = ["Fault", "FaultPlan", "FaultSource", "fault_response", "retry_after_headers"]

RETRY_AFTER_HEADERS = (
    "retry-after",
    "retry-after-date",
    "retry-after-ms",
    "ratelimitbysize-reset",
    "none",
)
# Not an ``inject`` option: random faults and rate limits send both headers.
RETRY_AFTER_AND_MS = "retry-after and retry-after-ms"
UNAUTHORIZED_BODY_SHAPES = ("mistral", "message", "detail")
# Faults that send a 200 response with a malformed or reordered ``data`` list.
DATA_FAULTS = ("no-data", "wrong-dim", "missing-index", "duplicate-index", "shuffled")

# Every fault kind with its options and their defaults.
_FAULT_OPTIONS = {
    "429": {"retry_after": 1.0, "header": "retry-after"},
    "500": {},
    "502": {},
    "503": {},
    "504": {},
    "drop": {},
    "slow": {"delay": 1.0},
    "html": {},
    **{kind: {} for kind in DATA_FAULTS},
    "401": {"body_shape": "message"},
    "403": {},
    "400-too-many-tokens": {},
    "400-too-many-inputs": {},
}
FAULT_KINDS = tuple(_FAULT_OPTIONS)


@dataclasses.dataclass(frozen=True)
class Fault:
    """One fault to apply to one request: its kind and its options."""

    kind: str
    options: dict = dataclasses.field(default_factory=dict)


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}.")


def make_fault(kind, **options):
    """Build a :class:`Fault`, checking ``kind`` and its options."""
    _check_choice("kind", kind, FAULT_KINDS)
    unknown = sorted(set(options) - set(_FAULT_OPTIONS[kind]))
    if unknown:
        accepted = sorted(_FAULT_OPTIONS[kind]) or "none"
        raise TypeError(
            f"Fault {kind!r} got unknown options {unknown}. Its options are {accepted}."
        )

    options = {**_FAULT_OPTIONS[kind], **options}
    for name in ("retry_after", "delay"):
        if name in options:
            check_seconds(name, options[name])
    if "header" in options:
        _check_choice("header", options["header"], RETRY_AFTER_HEADERS)
    if "body_shape" in options:
        _check_choice("body_shape", options["body_shape"], UNAUTHORIZED_BODY_SHAPES)
    return Fault(kind, options)


@dataclasses.dataclass(frozen=True)
class FaultPlan:
    """Random faults, drawn independently for every request.

    Each request draws one number from ``random.Random(seed)``. A fraction
    ``rate_limited`` of requests gets a 429 whose ``Retry-After`` and
    ``retry-after-ms`` headers ask for ``retry_after`` seconds, a fraction
    ``server_error`` gets a 500, and a fraction ``dropped`` has its connection closed
    without a response. Draws follow the order in which requests arrive.

    Parameters
    ----------
    rate_limited, server_error, dropped : float, default=0.0
        Fractions in [0, 1] whose sum is at most 1.
    retry_after : float, default=0.05
        The wait, in seconds, that random 429 responses request.
    seed : int, default=0
        Seed of the random draws.

    Examples
    --------
    >>> from sklearn_mistral.testing import FakeMistralAPI, FaultPlan
    >>> plan = FaultPlan(rate_limited=0.1, server_error=0.05, seed=1)
    >>> with FakeMistralAPI(faults=plan) as fake:
    ...     fake.base_url.startswith("http://127.0.0.1:")
    True
    """

    rate_limited: float = 0.0
    server_error: float = 0.0
    dropped: float = 0.0
    retry_after: float = 0.05
    seed: int = 0

    def __post_init__(self):
        fractions = {
            "rate_limited": self.rate_limited,
            "server_error": self.server_error,
            "dropped": self.dropped,
        }
        for name, value in fractions.items():
            is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not is_number or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}.")
        if sum(fractions.values()) > 1:
            raise ValueError(f"The fractions of faults must sum to at most 1, got {fractions}.")
        check_seconds("retry_after", self.retry_after)

    def draw(self, rng):
        """Draw the fault of one request from ``rng``, or ``None``."""
        draw = rng.random()
        if draw < self.rate_limited:
            return Fault("429", {"retry_after": self.retry_after, "header": RETRY_AFTER_AND_MS})
        draw -= self.rate_limited
        if draw < self.server_error:
            return Fault("500")
        draw -= self.server_error
        if draw < self.dropped:
            return Fault("drop")
        return None


class FaultSource:
    """Hands out faults: scripted ones first, in order, then random draws.

    Thread-safe: a lock guards the queue and the random generator, so each fault is
    handed to exactly one request.
    """

    def __init__(self, plan=None):
        self._lock = threading.Lock()
        self._scripted = collections.deque()
        self._plan = plan
        self._rng = random.Random(plan.seed) if plan is not None else None

    def inject(self, kind, times=1, **options):
        fault = make_fault(kind, **options)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be an int >= 1, got {times!r}.")
        with self._lock:
            self._scripted.extend([fault] * times)

    def next_fault(self):
        with self._lock:
            if self._scripted:
                return self._scripted.popleft()
            if self._plan is not None:
                return self._plan.draw(self._rng)
            return None


def _ceil(value):
    # Round first so that 0.2 * 1000 (200.00000000000003) gives 200, not 201.
    return math.ceil(round(value, 6))


def retry_after_headers(wait, header):
    """Return the headers asking for ``wait`` seconds, and the wait they advertise.

    ``Retry-After`` carries whole seconds or an HTTP date (RFC 9110, section 10.2.3),
    so it is rounded up. Returns ``({}, None)`` for ``header="none"``.
    """
    seconds = _ceil(wait)
    milliseconds = _ceil(wait * 1000)
    if header == "retry-after":
        return {"Retry-After": str(seconds)}, float(seconds)
    if header == "retry-after-ms":
        return {"retry-after-ms": str(milliseconds)}, milliseconds / 1000
    if header == "ratelimitbysize-reset":
        return {"ratelimitbysize-reset": str(seconds)}, float(seconds)
    if header == "retry-after-date":
        now = time.time()
        moment = math.ceil(now + wait)
        return {"Retry-After": email.utils.formatdate(moment, usegmt=True)}, moment - now
    if header == RETRY_AFTER_AND_MS:
        headers = {"Retry-After": str(seconds), "retry-after-ms": str(milliseconds)}
        return headers, milliseconds / 1000
    return {}, None


def fault_response(fault, request_id):
    """Return the response that replaces the normal one, or ``None`` if the fault alters it."""
    kind = fault.kind
    if kind == "429":
        options = fault.options
        headers, retry_after = retry_after_headers(options["retry_after"], options["header"])
        return rate_limited_response(headers, retry_after)
    if kind in ("500", "502", "503", "504"):
        return server_error_response(int(kind))
    if kind == "drop":
        return Response(None)
    if kind == "html":
        return proxy_page_response()
    if kind == "401":
        return unauthorized_response(request_id, fault.options["body_shape"])
    if kind == "403":
        # NOTE: Mistral does not document its 403 body; this copies the gateway's 401 shape.
        return json_response(403, {"message": "Forbidden", "request_id": request_id})
    if kind == "400-too-many-tokens":
        return too_many_tokens_response()
    if kind == "400-too-many-inputs":
        return too_many_inputs_response()
    return None
