"""Cluster the embeddings with k-means and compare the clusters with the diseases.

    python examples/clustering.py

Offline by default (the fake API on loopback); with MISTRAL_API_KEY set, it uses the
real API. Prints the adjusted Rand index of ``KMeans(n_clusters=24)`` against the 24
labels of Symptom2Disease, then a few texts of one cluster.
"""

import collections

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import make_pipeline

from _common import describe_usage, embedding_service, load_symptoms, make_vectorizer, parse_args
from sklearn_mistral import track_usage

N_CLUSTERS = 24
N_SAMPLE_TEXTS = 5
MAX_TEXT_LENGTH = 110


def main():
    args = parse_args(
        __doc__.splitlines()[0],
        **{"--cluster": {"type": int, "default": None, "help": "the cluster whose texts to show (default: the purest)"}},
    )
    texts, labels = load_symptoms(args)

    with embedding_service() as service, track_usage() as usage:
        model = make_pipeline(make_vectorizer(args, service), KMeans(n_clusters=N_CLUSTERS, n_init=10, random_state=0))
        clusters = model.fit_predict(texts)

    print(f"KMeans(n_clusters={N_CLUSTERS}) on {len(texts)} texts of {len(set(labels))} diseases.")
    print(f"Adjusted Rand index against the labels: {adjusted_rand_score(labels, clusters):.3f} "
          "(1 is a perfect match, 0 is chance)\n")

    cluster = purest_cluster(labels, clusters) if args.cluster is None else args.cluster
    show_cluster(cluster, texts, labels, clusters)
    print(f"\n{describe_usage(usage)}")


def purest_cluster(labels, clusters):
    """Return the cluster where the most common label has the largest share, then the most texts."""
    def purity_and_size(cluster):
        members = [label for label, c in zip(labels, clusters) if c == cluster]
        n_top = collections.Counter(members).most_common(1)[0][1]
        return n_top / len(members), len(members)

    return max(np.unique(clusters), key=purity_and_size)


def show_cluster(cluster, texts, labels, clusters):
    """Print the label make-up of one cluster and a few of its texts."""
    members = np.flatnonzero(clusters == cluster)
    counts = collections.Counter(labels[i] for i in members)
    make_up = ", ".join(f"{name} {count}" for name, count in counts.most_common(3))
    print(f"Cluster {cluster}: {len(members)} texts; most common labels: {make_up}")

    for i in members[:N_SAMPLE_TEXTS]:
        text = texts[i].strip()
        if len(text) > MAX_TEXT_LENGTH:
            text = text[: MAX_TEXT_LENGTH - 3] + "..."
        print(f"  [{labels[i]}] {text}")


if __name__ == "__main__":
    main()
