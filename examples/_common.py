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
    if os.environ.get("MISTRAL_API_KEY"):
        print("Using the Mistral API (MISTRAL_API_KEY is set): the vectors are mistral-embed's.\n")
        sys.stdout.flush()
        yield {}
        return

    from sklearn_mistral.testing import FakeMistralAPI

    print(
        "MISTRAL_API_KEY is not set, so this example runs offline against the fake Mistral API\n"
        "on loopback. Its vectors come from the offline fake, NOT from mistral-embed: the numbers\n"
        "below show that the pipeline works, not how good mistral-embed is.\n"
    )
    sys.stdout.flush()
    with FakeMistralAPI() as fake:
        yield {"base_url": fake.base_url, "api_key_env": fake.api_key_env}


def describe_usage(usage):
    """Return one line of what the embedding cost: texts, cache hits, requests, tokens."""
    return (
        f"{usage.n_texts} texts embedded ({usage.n_distinct} distinct), {usage.n_cache_hits} cache hits, "
        f"{usage.n_requests} requests sent, {usage.n_tokens} tokens billed"
    )
