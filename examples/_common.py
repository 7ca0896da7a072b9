"""Start-up shared by the examples: the real API when a key is set, else the offline fake."""

import argparse
import contextlib
import os
import sys


def parse_args(description, **extra_options):
    """Parse the options every example takes, plus ``extra_options`` (name -> kwargs)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="vector cache directory (default: $SKLEARN_MISTRAL_CACHE_DIR, else ~/.cache/sklearn-mistral)",
    )
    parser.add_argument(
        "--output-dir",
        default=".",
        help="directory for the files the example writes (default: the current directory)",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="run on a small sample, for tests",
    )
    for name, options in extra_options.items():
        parser.add_argument(name, **options)
    return parser.parse_args()


@contextlib.contextmanager
def embedding_service():
    """Yield the vectorizer parameters that point at the real API or at the offline fake.

    Prints first thing which one it is, because the fake's vectors are not
    mistral-embed's and its numbers say nothing about the model's quality.
    """
    with embedding_server() as (service, _fake):
        yield service


@contextlib.contextmanager
def embedding_server():
    """Yield ``(service, fake)``: the vectorizer parameters and the running fake, or None.

    Same as :func:`embedding_service`, for the examples that read the fake's request
    record. ``fake`` is None when the real API is used.
    """
    if os.environ.get("MISTRAL_API_KEY"):
        print("Using the Mistral API (MISTRAL_API_KEY is set): the vectors are mistral-embed's.\n")
        sys.stdout.flush()
        yield {}, None
        return

    from sklearn_mistral.testing import FakeMistralAPI

    print(
        "MISTRAL_API_KEY is not set, so this example runs offline against the fake Mistral API\n"
        "on loopback. Its vectors come from the offline fake, NOT from mistral-embed: the numbers\n"
        "below show that the pipeline works, not how good mistral-embed is.\n"
    )
    sys.stdout.flush()
    global _using_fake
    _using_fake = True
    with FakeMistralAPI() as fake:
        yield {"base_url": fake.base_url, "api_key_env": fake.api_key_env}, fake


# Whether this process started the fake, so that cost lines can state that nothing was charged.
_using_fake = False


def plural(count, noun):
    """Return ``count`` and ``noun``, with an s unless the count is one."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def describe_usage(usage):
    """Return one line of what the embedding cost: texts, cache hits, requests, tokens."""
    line = (
        f"{plural(usage.n_texts, 'text')} embedded ({usage.n_distinct} distinct), "
        f"{plural(usage.n_cache_hits, 'cache hit')}, {plural(usage.n_requests, 'request')} sent, "
        f"{plural(usage.n_tokens, 'token')} billed"
    )
    if _using_fake:
        line += " (counted by the offline fake: nothing was charged)"
    return line


# The price of mistral-embed that cost estimates assume, in US dollars per million
# billed tokens. NOTE: prices change, so check Mistral's pricing page before budgeting.
USD_PER_MILLION_TOKENS = 0.10

# Every example that embeds Symptom2Disease uses this one sample in --fast mode, so
# that they share cache entries: each 5th row, 10 texts of each of the 24 diseases.
FAST_SAMPLE_STEP = 5


def make_vectorizer(args, service, **params):
    """Build a vectorizer aimed at ``service`` with the cache directory of ``args``."""
    from sklearn_mistral import MistralEmbeddingVectorizer

    return MistralEmbeddingVectorizer(cache_dir=args.cache_dir, **service, **params)


def load_symptoms(args):
    """Return the Symptom2Disease texts and labels, every 5th row with ``--fast``."""
    from sklearn_mistral.datasets import load_symptom2disease

    data = load_symptom2disease()
    if args.fast:
        return data.text[::FAST_SAMPLE_STEP], data.label[::FAST_SAMPLE_STEP]
    return data.text, data.label


def split_train_test(texts, labels):
    """Split 80/20, stratified by label and fixed by ``random_state=0``, as every example does."""
    from sklearn.model_selection import train_test_split

    return train_test_split(texts, labels, test_size=0.2, random_state=0, stratify=labels)


def output_path(args, filename):
    """Return ``filename`` inside ``--output-dir``, creating the directory if needed."""
    os.makedirs(args.output_dir, exist_ok=True)
    return os.path.join(args.output_dir, filename)


def estimate_cost(n_tokens):
    """Return the estimated price in US dollars of ``n_tokens`` billed tokens of mistral-embed."""
    return n_tokens * USD_PER_MILLION_TOKENS / 1_000_000
