"""Detect paraphrases: the pair of texts whose embeddings are closest.

    python examples/paraphrase.py

Offline by default (the fake API on loopback); with MISTRAL_API_KEY set, it uses the
real API. The two Memorial Day greetings should be flagged as the paraphrase.
"""

import itertools

from sklearn.metrics.pairwise import euclidean_distances

from _common import embedding_service, make_vectorizer, parse_args

SENTENCES = [
    "Have a safe happy Memorial Day weekend everyone",
    "To all our friends at Whatsit Productions Films enjoy a safe happy Memorial Day weekend",
    "Where can I find the best cheese?",
]


def main():
    args = parse_args(__doc__.splitlines()[0])

    with embedding_service() as service:
        vectorizer = make_vectorizer(args, service)
        distances = euclidean_distances(vectorizer.transform(SENTENCES))

    pairs = sorted(itertools.combinations(range(len(SENTENCES)), 2), key=lambda pair: distances[pair])
    print("Euclidean distance between every pair, closest first:")
    for rank, (i, j) in enumerate(pairs):
        flag = "  <- paraphrase" if rank == 0 else ""
        print(f"  {distances[i, j]:.4f}  {SENTENCES[i]!r}\n          {SENTENCES[j]!r}{flag}")

    i, j = pairs[0]
    print(f"\nParaphrase: {SENTENCES[i]!r} ~ {SENTENCES[j]!r}")


if __name__ == "__main__":
    main()
