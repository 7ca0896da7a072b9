"""The main job: embed Symptom2Disease, then classify and cluster the vectors.

    python examples/symptom2disease.py

Offline by default (the fake API on loopback); with MISTRAL_API_KEY set, it uses the
real API. Run it twice: the second run finds every vector in the cache and sends no
request.
"""

from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, adjusted_rand_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _common import describe_usage, embedding_service, parse_args
from sklearn_mistral import MistralEmbeddingVectorizer, track_usage
from sklearn_mistral.datasets import load_symptom2disease


def main():
    args = parse_args(__doc__.splitlines()[0])
    data = load_symptom2disease()
    texts, labels = data.text, data.label
    if args.fast:
        texts, labels = texts[::5], labels[::5]

    with embedding_service() as service, track_usage() as usage:
        vectorizer = MistralEmbeddingVectorizer(cache_dir=args.cache_dir, progress_bar=not args.fast, **service)
        X = vectorizer.transform(texts)
        accuracy = classify(X, labels)
        ari = cluster(X, labels)

    print(f"Embedded {X.shape[0]} texts into {X.shape[1]} dimensions.")
    print(f"StandardScaler + LogisticRegression accuracy on a fixed 80/20 split: {accuracy:.2%}")
    print(f"KMeans(n_clusters=24) adjusted Rand index against the labels: {ari:.3f}")
    print(describe_usage(usage))


def classify(X, labels):
    """Return the test accuracy of a scaled logistic regression on a fixed 80/20 split."""
    X_train, X_test, y_train, y_test = train_test_split(X, labels, test_size=0.2, random_state=0, stratify=labels)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(X_train, y_train)
    return accuracy_score(y_test, model.predict(X_test))


def cluster(X, labels):
    """Return the adjusted Rand index of 24 k-means clusters against the labels."""
    n_clusters = min(24, len(set(labels)))
    clusters = KMeans(n_clusters=n_clusters, n_init=10, random_state=0).fit_predict(X)
    return adjusted_rand_score(labels, clusters)


if __name__ == "__main__":
    main()
