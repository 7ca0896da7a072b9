"""Compare texts by the Euclidean distance between their embeddings.

    python examples/distances.py

Offline by default (the fake API on loopback); with MISTRAL_API_KEY set, it uses the
real API. The sentence that speaks of books should come out closer to the reference
than the one that speaks of cats.
"""

from sklearn.metrics.pairwise import euclidean_distances

from _common import embedding_service, make_vectorizer, parse_args

REFERENCE = "Books are mirrors: You only see in them what you already have inside you"
CANDIDATES = [
    "I think books are like people, in the sense that they'll turn up in your life when you most need them",
    "A home without a cat — and a well-fed, well-petted and properly revered cat — may be a perfect home, "
    "perhaps, but how can it prove title?",
]


def main():
    args = parse_args(__doc__.splitlines()[0])

    with embedding_service() as service:
        vectorizer = make_vectorizer(args, service)
        X = vectorizer.transform([REFERENCE, *CANDIDATES])
    distances = euclidean_distances(X[:1], X[1:])[0]

    print(f"Reference: {REFERENCE!r}\n")
    print("Euclidean distance to the reference (smaller is closer):")
    for text, distance in sorted(zip(CANDIDATES, distances), key=lambda pair: pair[1]):
        print(f"  {distance:.4f}  {text!r}")
    print(f"\nClosest to the reference: {CANDIDATES[distances.argmin()]!r}")


if __name__ == "__main__":
    main()
