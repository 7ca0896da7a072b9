"""Embed a few texts and look at the array that comes back.

    python examples/embed_texts.py

Offline by default (the fake API on loopback); with MISTRAL_API_KEY set, it uses the
real API.
"""

import numpy as np

from _common import describe_usage, embedding_service, make_vectorizer, parse_args
from sklearn_mistral import track_usage

TEXTS = [
    "Embed this sentence.",
    "As well as this one.",
]


def main():
    args = parse_args(__doc__.splitlines()[0])

    with embedding_service() as service, track_usage() as usage:
        vectorizer = make_vectorizer(args, service)
        X = vectorizer.transform(TEXTS)

    print(f"{len(TEXTS)} texts -> array of shape {X.shape}, dtype {X.dtype}: {X.shape[1]} dimensions per text.")
    for text, vector in zip(TEXTS, X):
        head = ", ".join(f"{value:+.4f}" for value in vector[:4])
        print(f"  {text!r}: [{head}, ...]  L2 norm {np.linalg.norm(vector):.4f}")
    names = vectorizer.get_feature_names_out()
    print(f"Feature names: {names[0]} ... {names[-1]}")
    print(describe_usage(usage))


if __name__ == "__main__":
    main()
