"""How long to wait before a retry, and how fast to send so that retries stay rare."""

import asyncio
import collections
import email.utils
import random
import time

__all__ = ["Throttle", "backoff_delay", "requested_wait"]

# Longest wait honoured from a server header; a longer request is capped here, so a
# bad header cannot stall a run for hours.
MAX_REQUESTED_WAIT = 60.0

# Exponential backoff when the server names no wait: 0.5 s, 1 s, 2 s ... capped.
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 20.0

# Window over which the accepted request rate is measured when a 429 arrives.
_RATE_WINDOW = 2.0


def requested_wait(headers, now=None):
    """Return the wait in seconds a 429 or 503 asks for, or ``None`` if it names none.

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

    At most ``max_concurrency`` requests are in flight. When a 429 arrives, every sender
    pauses for the wait the server asked, and request starts are then paced to the rate
    the server was accepting just before; the pace is relaxed by 5 % after each stretch
    without a 429, so a raised limit is found again. Without 429s nothing is paced.

    Not thread-safe: use one per event loop.
    """

    def __init__(self, max_concurrency, clock=time.monotonic):
        self._slots = asyncio.Semaphore(max_concurrency)
        self._clock = clock
        self._pause_until = 0.0
        self._interval = 0.0
        self._next_start = 0.0
        self._accepted = collections.deque()
        self._since_limited = 0
        self._longest_wait = 0.0

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
                return
            await asyncio.sleep(start - now)

    def record_success(self):
        """Note an accepted request; relax the pace after enough of them in a row."""
        now = self._clock()
        self._accepted.append(now)
        while self._accepted and self._accepted[0] < now - _RATE_WINDOW:
            self._accepted.popleft()

        self._since_limited += 1
        if self._interval and self._since_limited >= max(10, len(self._accepted)):
            self._interval *= 0.95
            self._since_limited = 0

    def record_rate_limited(self, wait):
        """Pause every sender for ``wait`` seconds and pace at the accepted rate."""
        now = self._clock()
        self._pause_until = max(self._pause_until, now + wait)
        self._since_limited = 0

        accepted = sum(1 for t in self._accepted if t >= now - _RATE_WINDOW)
        if accepted:
            paced = _RATE_WINDOW / accepted
            self._interval = max(self._interval, paced) if self._interval else paced
        else:
            self._interval = max(self._interval * 2, wait, 0.05)

        # The accepted rate falls with the pace itself, so without this bound a run of
        # 429s widened the gap between starts without limit (16 s after eight 429s that
        # each asked for 50 ms). No gap needs to exceed the longest wait the server asked.
        self._longest_wait = max(self._longest_wait, wait)
        self._interval = min(self._interval, max(self._longest_wait, 0.05))
