"""How long to wait before a retry, and how fast to send so that retries stay rare."""

import asyncio
import collections
import email.utils
import math
import random
import time
import weakref

__all__ = ["Throttle", "backoff_delay", "requested_wait"]

# Maximum wait honoured from a server header. A longer request is capped here, so a
# bad header cannot stall a run for hours.
MAX_REQUESTED_WAIT = 60.0

# Exponential backoff when the server names no wait: 0.5 s, 1 s, 2 s ... capped.
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 20.0

# Window over which the accepted request rate is measured when a 429 arrives.
_RATE_WINDOW = 2.0

# Pacing after a 429, tuned against FakeMistralAPI's token bucket (benchmarks/). The
# rate grows by these fractions per accepted request: fast until the second 429, slowly
# after it. It shrinks by these factors at each 429 that the current rate caused.
_FAST_GROWTH = 0.15
_SLOW_GROWTH = 0.005
_FIRST_DECREASE = 0.8
_DECREASE = 0.9


def requested_wait(headers, now=None):
    """Return the wait in seconds that a 429 or 503 requests, or ``None`` if it names none.

    Reads ``retry-after-ms``, ``Retry-After`` (seconds or an HTTP date, RFC 9110
    section 10.2.3) and Mistral's ``ratelimitbysize-reset`` (seconds), in that order.
    """
    if "retry-after-ms" in headers:
        wait = _number(headers["retry-after-ms"])
        if wait is not None:
            return _cap(wait / 1000)

    if "retry-after" in headers:
        wait = _seconds_or_date(headers["retry-after"], now)
        if wait is not None:
            return _cap(wait)

    if "ratelimitbysize-reset" in headers:
        wait = _number(headers["ratelimitbysize-reset"])
        if wait is not None:
            return _cap(wait)
    return None


def _seconds_or_date(value, now):
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - (time.time() if now is None else now)


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def _cap(wait):
    return min(max(wait, 0.0), MAX_REQUESTED_WAIT)


def backoff_delay(attempt, rng=random):
    """Return a full-jitter exponential backoff for retry ``attempt`` (1 for the first)."""
    ceiling = min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 1))
    return rng.uniform(ceiling / 2, ceiling)


class Throttle:
    """Shares one rate among the concurrent requests of a transform.

    At most ``max_concurrency`` requests are in flight, and without 429s nothing more
    limits them. At the first 429 every sender pauses for the wait the server asked,
    and request starts are from then on paced at the rate the server accepted over
    the last ``_RATE_WINDOW`` seconds. Each accepted request raises the rate a little,
    so a limit that rises is found again. Each 429 lowers it, once per rate: a 429 for
    a request sent before the last decrease was caused by the old rate and changes
    nothing. So the requests already in flight cannot start a storm of decreases.

    Not thread-safe: use one per event loop.
    """

    def __init__(self, max_concurrency, clock=time.monotonic):
        self._slots = asyncio.Semaphore(max_concurrency)
        self._clock = clock
        self._pause_until = 0.0
        # Seconds between request starts; 0.0 until the first 429.
        self._interval = 0.0
        self._next_start = 0.0
        self._accepted = collections.deque()
        self._decreased_at = -math.inf
        self._n_decreases = 0
        self._n_accepted_since_decrease = 0
        self._longest_wait = 0.0
        # When the request of each task started, to tell which rate caused a 429.
        self._started = weakref.WeakKeyDictionary()

    async def __aenter__(self):
        await self._slots.acquire()
        try:
            await self._wait_turn()
        except BaseException:
            self._slots.release()
            raise
        return self

    async def __aexit__(self, *exc_info):
        self._slots.release()

    async def _wait_turn(self):
        while True:
            now = self._clock()
            start = max(self._pause_until, self._next_start)
            if start <= now:
                self._next_start = now + self._interval
                self._started[asyncio.current_task()] = now
                return
            await asyncio.sleep(start - now)

    def record_success(self):
        """Note an accepted request, and raise the paced rate a little."""
        now = self._clock()
        self._accepted.append(now)
        while self._accepted and self._accepted[0] < now - _RATE_WINDOW:
            self._accepted.popleft()
        self._n_accepted_since_decrease += 1

        if self._interval:
            growth = _FAST_GROWTH if self._n_decreases < 2 else _SLOW_GROWTH
            self._interval /= 1 + growth

    def record_rate_limited(self, wait):
        """Pause every sender for ``wait`` seconds and lower the paced rate."""
        now = self._clock()
        self._pause_until = max(self._pause_until, now + wait)
        self._longest_wait = max(self._longest_wait, wait)
        started = self._request_start()
        if started is not None and started < self._decreased_at:
            return

        accepted = sum(1 for t in self._accepted if t >= now - _RATE_WINDOW)
        if not accepted and not self._interval:
            # Nothing measured yet, as when the first request meets a 429: the pause
            # honours the server's wait, and a guessed pace would only slow the run down.
            return
        # At least one request per window, so that the pace never stops.
        accepted_rate = max(accepted, 1) / _RATE_WINDOW
        if not self._interval:
            rate = accepted_rate
        else:
            factor = _FIRST_DECREASE if self._n_decreases < 2 else _DECREASE
            rate = factor * min(1 / self._interval, accepted_rate)
        self._interval = 1 / rate

        # With nothing accepted since the last decrease, the accepted rate tells nothing
        # new and falls with the pace itself: a run of 429s would widen the gap between
        # starts without limit (16 s after eight 429s that each asked for 50 ms). The
        # server's own waits bound the gap instead.
        if self._n_decreases and not self._n_accepted_since_decrease:
            self._interval = min(self._interval, max(self._longest_wait, 0.05))
        # Accepted requests do not stop the fall either when the pace did not cause the
        # 429s, as with a server that rejects some requests whatever the rate, or with
        # other processes on the same key. With 30 % of requests rejected with 50 ms
        # waits, the pace fell to about one request per second. A token bucket requests
        # waits of up to one refill interval, so four times the longest requested wait
        # still paces it.
        self._interval = min(self._interval, 4 * max(self._longest_wait, 0.05))
        self._decreased_at = now
        self._n_decreases += 1
        self._n_accepted_since_decrease = 0

    def _request_start(self):
        """Return when the current task's last request started, or ``None``."""
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return None
        return self._started.get(task) if task is not None else None
