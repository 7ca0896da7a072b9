"""Compare Mistral embeddings with classic text features on the same classification task.

    python examples/baseline.py [--fasttext-model cc.en.300.bin]

Offline by default (the fake API on loopback); with MISTRAL_API_KEY set, it uses the
real API. Every model is a scikit-learn pipeline ending in ``StandardScaler`` and
``LogisticRegression``, trained and scored on the same stratified 80/20 split
(``random_state=0``) of Symptom2Disease. ``--fasttext-model`` adds a row for a local
fastText ``.bin`` model, read with the ``fasttext`` package (``pip install fasttext``).
"""

import os
import sys

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _common import describe_usage, embedding_server, load_symptoms, make_vectorizer, parse_args, split_train_test
from sklearn_mistral import track_usage

# Hashed word-count columns: enough for the few thousand words of the data set, and
# small enough that TruncatedSVD's dense work matrices stay a few tens of MB.
N_HASHED_FEATURES = 2**14
# Components kept by TruncatedSVD. Keep it well below the number of training texts:
# StandardScaler would blow the near-zero trailing components up into noise.
N_SVD_COMPONENTS = 100


class FastTextVectorizer(TransformerMixin, BaseEstimator):
    """Average fastText word vectors per text, from a local ``.bin`` model.

    Parameters
    ----------
    model_path : str
        Path of a fastText ``.bin`` model, for instance ``cc.en.300.bin``.
    """

    def __init__(self, model_path):
        self.model_path = model_path

    def fit(self, X, y=None):
        import fasttext

        self.model_ = fasttext.load_model(self.model_path)
        return self

    def transform(self, X):
        # get_sentence_vector rejects newlines: fastText reads one text per line.
        rows = [self.model_.get_sentence_vector(text.replace("\n", " ")) for text in X]
        return np.asarray(rows, dtype=np.float32)


def main():
    args = parse_args(
        __doc__.splitlines()[0],
        **{"--fasttext-model": {"metavar": "PATH", "help": "a local fastText .bin model to add as a baseline"}},
    )
    if args.fasttext_model is not None:
        check_fasttext(args.fasttext_model)
    texts, labels = load_symptoms(args)
    X_train, X_test, y_train, y_test = split_train_test(texts, labels)

    with embedding_server() as (service, fake), track_usage() as usage:
        source = "fake API" if fake is not None else "mistral-embed"
        models = make_models(make_vectorizer(args, service), source, args.fasttext_model)
        print(f"{len(X_train)} training and {len(X_test)} test texts, {len(set(labels))} diseases.\n")
        print(f"{'features':<48} {'dimensions':>10} {'accuracy':>9}")
        for name, model in models.items():
            model.fit(X_train, y_train)
            n_features = model[-1].n_features_in_
            accuracy = accuracy_score(y_test, model.predict(X_test))
            print(f"{name:<48} {n_features:>10} {accuracy:>9.2%}")

    print(f"\n{describe_usage(usage)}")


def make_models(vectorizer, source, fasttext_model):
    """Return the pipelines to compare, by name. Each ends in a scaler and a classifier."""
    models = {
        f"MistralEmbeddingVectorizer ({source})": make_pipeline(vectorizer, StandardScaler(), classifier()),
        # TF-IDF features are sparse: centring them would make them dense.
        "TfidfVectorizer": make_pipeline(TfidfVectorizer(), StandardScaler(with_mean=False), classifier()),
        f"HashingVectorizer + TruncatedSVD({N_SVD_COMPONENTS})": make_pipeline(
            HashingVectorizer(n_features=N_HASHED_FEATURES),
            TruncatedSVD(n_components=N_SVD_COMPONENTS, random_state=0),
            StandardScaler(),
            classifier(),
        ),
    }
    if fasttext_model is not None:
        models["fastText sentence vectors"] = make_pipeline(
            FastTextVectorizer(fasttext_model), StandardScaler(), classifier()
        )
    return models


def classifier():
    return LogisticRegression(max_iter=500)


def check_fasttext(model_path):
    """Exit with a message unless the fasttext package and the model file are available."""
    try:
        import fasttext  # noqa: F401
    except ImportError:
        sys.exit("--fasttext-model needs the fasttext package, which is not installed: pip install fasttext")
    if not os.path.isfile(model_path):
        sys.exit(f"--fasttext-model: no such file: {model_path!r}. Pass the path of a fastText .bin model.")


if __name__ == "__main__":
    main()
