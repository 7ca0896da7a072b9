"""A transform killed part way leaves every finished batch in the cache; the rerun pays for the rest.

A child process embeds texts one batch at a time against a fake with latency that this
test process serves. Once the fake has served a few batches, the child is killed
(SIGKILL) or interrupted (SIGINT, as Ctrl-C does). A rerun in this process then must not
send again any text whose batch the child had stored.

Which batches did the child store? With ``max_concurrency=1`` the child hands each
batch to its cache writer thread before it sends the next one, so a served batch that a
later request followed had at least that request's round trip (0.1 s of latency) to be
written: every such batch must be in the cache. The last served batch may or may not
have been written when the signal arrived, so the test makes no claim about it.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from sklearn_mistral import MistralEmbeddingVectorizer
from sklearn_mistral.datasets import load_symptom2disease
from sklearn_mistral.testing import FakeMistralAPI, fake_embedding

BATCH_SIZE = 4
N_TEXTS = 80
# Batches the fake must have served (status 200) before the signal.
N_SERVED = 4
# Seconds the fake adds to every response.
LATENCY = 0.1

_CHILD = textwrap.dedent(
    """
    import asyncio
    import json
    import os
    import sys

    from sklearn_mistral import MistralEmbeddingVectorizer

    with open(sys.argv[1], encoding="utf-8") as file:
        texts = json.load(file)
    vectorizer = MistralEmbeddingVectorizer(
        base_url=os.environ["TEST_BASE_URL"],
        api_key_env=os.environ["TEST_API_KEY_ENV"],
        cache_dir=os.environ["TEST_CACHE_DIR"],
        batch_size=int(os.environ["TEST_BATCH_SIZE"]),
        max_concurrency=1,
    )

    async def notebook_cell():
        return vectorizer.transform(texts)

    try:
        if sys.argv[2] == "inside-event-loop":
            # Like a notebook kernel: a loop is running and Ctrl-C raises KeyboardInterrupt.
            asyncio.new_event_loop().run_until_complete(notebook_cell())
        else:
            vectorizer.transform(texts)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        sys.exit(130)
    print("finished", flush=True)
    """
)


def _wait_for(condition, description, timeout=60.0):
    """Poll ``condition`` every 10 ms; the child gives no event this process could wait on."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {description}")
        time.sleep(0.01)


def _served(fake):
    return [record for record in fake.requests if record.status == 200]


def _stored_for_sure(records):
    """Return the texts of served batches that a later request followed."""
    stored = set()
    for record in records:
        followed = any(other.start > record.end for other in records)
        if record.status == 200 and followed:
            stored.update(record.inputs)
    return stored


@pytest.fixture
def texts():
    return list(dict.fromkeys(load_symptom2disease().text))[:N_TEXTS]


def _interrupt_child(fake, texts, tmp_path, sig, mode):
    """Run the child until the fake has served ``N_SERVED`` batches, then send ``sig``."""
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(texts), encoding="utf-8")
    env = {
        **os.environ,
        "TEST_BASE_URL": fake.base_url,
        "TEST_API_KEY_ENV": fake.api_key_env,
        "TEST_CACHE_DIR": str(tmp_path / "cache"),
        "TEST_BATCH_SIZE": str(BATCH_SIZE),
    }
    child = subprocess.Popen(
        [sys.executable, str(script), str(texts_file), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: len(_served(fake)) >= N_SERVED or child.poll() is not None, "served batches")
        assert child.poll() is None, child.communicate()[1]
        child.send_signal(sig)
        stdout, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, stdout, stderr


def _rerun(fake, texts, tmp_path):
    """Embed ``texts`` in this process on the child's cache; return the output and the texts sent."""
    started = time.monotonic()
    vectorizer = MistralEmbeddingVectorizer(
        base_url=fake.base_url, api_key_env=fake.api_key_env, cache_dir=str(tmp_path / "cache"), batch_size=BATCH_SIZE
    )
    X = vectorizer.transform(texts)
    # Requests from the child that were still in flight at the signal started earlier.
    sent = [text for record in fake.requests if record.start > started for text in record.inputs]
    return X, sent


def _assert_rerun_paid_only_for_rest(fake, texts, tmp_path):
    child_records = fake.requests
    stored = _stored_for_sure(child_records)
    served = {text for record in child_records if record.status == 200 for text in record.inputs}

    X, resent = _rerun(fake, texts, tmp_path)

    assert len(stored) >= (N_SERVED - 1) * BATCH_SIZE
    assert stored.isdisjoint(resent)
    assert set(texts) - served <= set(resent)
    assert len(resent) == len(set(resent))
    for row, text in zip(X, texts):
        np.testing.assert_array_equal(row, fake_embedding(text))


def test_sigkill_keeps_stored_batches(texts, tmp_path):
    with FakeMistralAPI(latency=LATENCY) as fake:
        returncode, _, _ = _interrupt_child(fake, texts, tmp_path, signal.SIGKILL, "plain")

        assert returncode == -signal.SIGKILL
        _assert_rerun_paid_only_for_rest(fake, texts, tmp_path)


@pytest.mark.parametrize("mode", ["plain", "inside-event-loop"])
def test_sigint_stops_and_keeps_stored_batches(mode, texts, tmp_path):
    n_batches = N_TEXTS // BATCH_SIZE
    with FakeMistralAPI(latency=LATENCY) as fake:
        returncode, stdout, stderr = _interrupt_child(fake, texts, tmp_path, signal.SIGINT, mode)

        assert returncode == 130, stderr
        assert stdout == "KeyboardInterrupt\n"
        # The interrupt stopped the run instead of waiting for all of its batches.
        assert len(_served(fake)) < n_batches
        _assert_rerun_paid_only_for_rest(fake, texts, tmp_path)
