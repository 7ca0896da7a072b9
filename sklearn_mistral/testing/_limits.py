"""Rate limits of the fake, and the memory of the waits it asked clients for.

Mistral limits each workspace in requests per second and in tokens per minute,
enforced separately, and responds with 429 when either is exceeded. The fake models
both as token buckets. :class:`RateLimiter` and :class:`RetryTracker` are thread-safe.
"""

import hashlib
import json
import math
import numbers
import threading
import time

__all__ = [
    "RateLimiter",
    "RetryTracker",
    "check_positive_int",
    "check_rate",
    "check_seconds",
    "inputs_key",
]

# Seconds by which a retry may precede the requested moment and still count as on
# time, because the fake compares its monotonic clock with HTTP dates (wall clock).
EARLY_RETRY_TOLERANCE = 0.01


def check_seconds(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}.")


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}.")


def check_rate(name, value):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a number > 0 or None, got {value!r}.")


class TokenBucket:
    """A token bucket that refills at ``rate`` per second up to ``capacity``.

    A request larger than ``capacity`` passes once the bucket is full and leaves it
    in debt, so that it is delayed rather than rejected forever.
    """

    def __init__(self, rate, capacity):
        self.rate = rate
        self.capacity = capacity
        self._level = capacity
        self._updated = time.monotonic()

    def _refill(self, now):
        elapsed = max(0.0, now - self._updated)
        self._level = min(self.capacity, self._level + elapsed * self.rate)
        self._updated = now

    def wait_time(self, amount, now):
        """Return the seconds until ``amount`` can be taken, 0 if it can be now."""
        self._refill(now)
        needed = min(amount, self.capacity)
        return max(0.0, (needed - self._level) / self.rate)

    def take(self, amount):
        self._level -= amount


class RateLimiter:
    """Requests-per-second and tokens-per-minute limits. ``None`` disables either.

    The request bucket has room for ``max(1, rate_limit_rps)`` requests, so a burst
    of that size passes at once. The token bucket has room for one minute of tokens.
    """

    def __init__(self, rate_limit_rps=None, rate_limit_tpm=None):
        self._lock = threading.Lock()
        self._requests = None
        self._tokens = None
        if rate_limit_rps is not None:
            self._requests = TokenBucket(rate_limit_rps, max(1.0, rate_limit_rps))
        if rate_limit_tpm is not None:
            self._tokens = TokenBucket(rate_limit_tpm / 60.0, rate_limit_tpm)

    def acquire(self, n_tokens):
        """Admit a request of ``n_tokens``, or return why and how long it must wait.

        Returns ``None`` when admitted, else ``(limit, wait)`` with ``limit`` in
        ``{"requests", "tokens"}`` and ``wait`` in seconds. A rejected request takes
        nothing from either bucket.
        """
        with self._lock:
            now = time.monotonic()
            waits = {}
            if self._requests is not None:
                waits["requests"] = self._requests.wait_time(1, now)
            if self._tokens is not None:
                waits["tokens"] = self._tokens.wait_time(n_tokens, now)

            limit = max(waits, key=waits.get, default=None)
            if limit is not None and waits[limit] > 0:
                return limit, waits[limit]

            if self._requests is not None:
                self._requests.take(1)
            if self._tokens is not None:
                self._tokens.take(n_tokens)
            return None


def inputs_key(inputs):
    """Return a digest that identifies a request's list of inputs."""
    encoded = json.dumps(inputs, ensure_ascii=True).encode()
    return hashlib.blake2b(encoded, digest_size=16).digest()


class RetryTracker:
    """Memory of the earliest moment a retry is allowed, per inputs digest."""

    def __init__(self):
        self._lock = threading.Lock()
        self._not_before = {}

    def remember(self, key, not_before):
        """Store ``not_before`` (a ``time.monotonic`` value) for the inputs ``key``."""
        with self._lock:
            self._not_before[key] = not_before

    def is_early(self, key, arrival):
        """Return whether a request with inputs ``key`` arriving at ``arrival`` came too soon."""
        with self._lock:
            not_before = self._not_before.get(key, -math.inf)
        return arrival < not_before - EARLY_RETRY_TOLERANCE

    def clear(self):
        with self._lock:
            self._not_before.clear()
