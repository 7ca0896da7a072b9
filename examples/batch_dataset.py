"""Embed a whole labelled data set in batches and save the array with its labels.

    python examples/batch_dataset.py --output-dir out

Offline by default (the fake API on loopback); with MISTRAL_API_KEY set, it uses the
real API. Writes ``symptom2disease_embeddings.npz`` (arrays ``X``, ``text`` and
``label``) to ``--output-dir``. Every vector is cached as soon as its batch returns, so
an interrupted run resumes where it stopped, and a second run sends no request.
"""

import numpy as np

from _common import (
    USD_PER_MILLION_TOKENS,
    describe_usage,
    embedding_service,
    estimate_cost,
    load_symptoms,
    make_vectorizer,
    output_path,
    parse_args,
)
from sklearn_mistral import track_usage

FILENAME = "symptom2disease_embeddings.npz"


def main():
    args = parse_args(__doc__.splitlines()[0])
    texts, labels = load_symptoms(args)

    with embedding_service() as service, track_usage() as usage:
        vectorizer = make_vectorizer(args, service, progress_bar=True)
        print_estimate(vectorizer.estimate_cost(texts))
        print(f"Embedding in batches of at most {vectorizer.batch_size} texts and "
              f"{vectorizer.max_tokens_per_request} tokens, {vectorizer.max_concurrency} requests at a time.")
        X = vectorizer.transform(texts)

    path = output_path(args, FILENAME)
    np.savez_compressed(path, X=X, text=np.asarray(texts), label=np.asarray(labels))

    print(f"Saved X {X.shape} {X.dtype} with {len(set(labels))} distinct labels to {path}")
    print(describe_usage(usage))
    print(f"Cost of this run: ${estimate_cost(usage.n_tokens):.6f} "
          f"({usage.n_tokens} tokens billed at ${USD_PER_MILLION_TOKENS:.2f} per million tokens of mistral-embed)")


def print_estimate(estimate):
    """Print what the transform is about to send and cost, worked out before sending."""
    price = "no list price known" if estimate.usd is None else f"estimated ${estimate.usd:.6f}"
    print(
        f"Before sending: {estimate.n_texts} texts, {estimate.n_distinct} distinct, {estimate.n_cached} "
        f"already cached; {estimate.n_tokens} tokens to bill in {estimate.n_requests} requests ({price})."
    )


if __name__ == "__main__":
    main()
