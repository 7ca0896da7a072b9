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
        print(f"Embedding {len(texts)} texts in batches of at most {vectorizer.batch_size} texts "
              f"and {vectorizer.max_tokens_per_request} tokens, {vectorizer.max_concurrency} requests at a time.")
        X = vectorizer.transform(texts)

    path = output_path(args, FILENAME)
    np.savez_compressed(path, X=X, text=np.asarray(texts), label=np.asarray(labels))

    print(f"Saved X {X.shape} {X.dtype} with {len(set(labels))} distinct labels to {path}")
    print(describe_usage(usage))
    print(f"Estimated cost of this run: ${estimate_cost(usage.n_tokens):.6f} "
          f"({usage.n_tokens} tokens at ${USD_PER_MILLION_TOKENS:.2f} per million tokens of mistral-embed)")


if __name__ == "__main__":
    main()
