import asyncio
import email.utils
import random

import pytest

from sklearn_mistral._throttle import MAX_REQUESTED_WAIT, Throttle, backoff_delay, requested_wait


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"ratelimitbysize-reset": "7"}, 7.0),
        ({"retry-after-ms": "100", "retry-after": "9"}, 0.1),
        ({"retry-after": "soon"}, None),
        ({}, None),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "100000"}, MAX_REQUESTED_WAIT),
    ],
)
def test_requested_wait_reads_headers(headers, expected):
    assert requested_wait(headers) == expected


def test_requested_wait_reads_http_date():
    now = 1_000_000.0
    headers = {"retry-after": email.utils.formatdate(now + 12, usegmt=True)}

    assert requested_wait(headers, now=now) == pytest.approx(12.0, abs=1.0)


def test_backoff_delay_grows_and_is_capped():
    rng = random.Random(0)

    first = [backoff_delay(1, rng) for _ in range(50)]
    later = [backoff_delay(30, rng) for _ in range(50)]

    assert all(0.25 <= delay <= 0.5 for delay in first)
    assert all(10 <= delay <= 20 for delay in later)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def paced_throttle(clock):
    """Return a throttle paced by one 429 after 20 accepted requests, and its interval."""
    throttle = Throttle(max_concurrency=4, clock=clock)
    for step in range(20):
        clock.now = step * 0.1
        throttle.record_success()
    clock.now = 2.0
    throttle.record_rate_limited(wait=0.1)
    return throttle, throttle._interval


def test_throttle_paces_after_rate_limit():
    clock = FakeClock()
    throttle = Throttle(max_concurrency=8, clock=clock)
    for step in range(20):
        clock.now = step * 0.1
        throttle.record_success()

    throttle.record_rate_limited(wait=1.0)

    # 20 accepted in the 2 s window: pace to one start per 0.1 s after the pause.
    assert throttle._pause_until == pytest.approx(2.9)
    assert throttle._interval == pytest.approx(0.1, rel=0.1)


def test_throttle_limits_concurrency():
    async def scenario():
        throttle = Throttle(max_concurrency=2)
        in_flight = 0
        peak = 0

        async def request():
            nonlocal in_flight, peak
            async with throttle:
                in_flight += 1
                peak = max(peak, in_flight)
                await asyncio.sleep(0.01)
                in_flight -= 1

        await asyncio.gather(*(request() for _ in range(10)))
        return peak

    assert asyncio.run(scenario()) == 2


def test_throttle_ignores_429_from_old_pace():
    clock = FakeClock()
    throttle, paced = paced_throttle(clock)

    async def late_429(started_at):
        # A request sent before the decrease whose 429 arrives after it.
        throttle._started[asyncio.current_task()] = started_at
        throttle.record_rate_limited(wait=0.1)

    clock.now = 2.05
    asyncio.run(late_429(started_at=1.9))

    assert throttle._interval == paced
    assert throttle._pause_until == pytest.approx(2.15)


def test_throttle_slows_for_429_at_new_pace():
    clock = FakeClock()
    throttle, paced = paced_throttle(clock)

    async def new_429(started_at):
        throttle._started[asyncio.current_task()] = started_at
        throttle.record_rate_limited(wait=0.1)

    clock.now = 2.5
    throttle.record_success()
    asyncio.run(new_429(started_at=2.2))

    assert throttle._interval > paced


def test_throttle_speeds_up_while_requests_pass():
    clock = FakeClock()
    throttle = Throttle(max_concurrency=4, clock=clock)
    throttle.record_success()
    clock.now = 0.1
    throttle.record_rate_limited(wait=0.1)
    slowed = throttle._interval

    for step in range(1, 41):
        clock.now = 0.1 + step * slowed
        throttle.record_success()

    # A limit raised on the server is found again: the pace keeps rising without 429s.
    assert throttle._interval < slowed / 10


def test_throttle_unpaced_without_429():
    clock = FakeClock()
    throttle = Throttle(max_concurrency=4, clock=clock)
    for step in range(100):
        clock.now = step * 0.01
        throttle.record_success()

    assert throttle._interval == 0.0


def test_throttle_first_429_only_pauses():
    clock = FakeClock()
    throttle = Throttle(max_concurrency=8, clock=clock)

    throttle.record_rate_limited(wait=1.0)

    # Nothing was accepted yet, so there is no rate to pace to: only the pause applies.
    assert throttle._pause_until == pytest.approx(1.0)
    assert throttle._interval == 0
