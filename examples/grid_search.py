"""Tune a classifier on the embeddings with GridSearchCV, paying for each text once.

    python examples/grid_search.py

Offline by default (the fake API on loopback); with MISTRAL_API_KEY set, it uses the
real API. The vectorizer sits inside the searched pipeline, so every fit of the
5-fold search embeds its fold's texts again. The on-disk cache, shared by the two
worker processes, returns every one of those vectors. The texts are embedded once
before the search, so that the workers do not race each other to fetch the same texts.
"""

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _common import describe_usage, embedding_server, load_symptoms, make_vectorizer, parse_args
from sklearn_mistral import track_usage

PARAM_GRID = {"logisticregression__C": [0.01, 0.1, 1.0]}
N_FOLDS = 5
N_JOBS = 2


def main():
    args = parse_args(__doc__.splitlines()[0])
    texts, labels = load_symptoms(args)

    # The workers of GridSearchCV start after the fake, so they inherit the variable
    # that contains its key, and they reach it over loopback through ``base_url``.
    with embedding_server() as (service, fake), track_usage() as usage:
        vectorizer = make_vectorizer(args, service)
        model = make_pipeline(vectorizer, StandardScaler(), LogisticRegression(max_iter=500))

        # Fill the cache first: two workers that start on a cold cache both fetch the
        # texts their folds share, and pay for them twice.
        vectorizer.transform(texts)
        n_warm_up = fake.n_requests if fake is not None else usage.n_requests

        search = GridSearchCV(model, PARAM_GRID, cv=StratifiedKFold(N_FOLDS), n_jobs=N_JOBS)
        search.fit(texts, labels)
        n_total = fake.n_requests if fake is not None else None

    print_search(search, len(texts))
    print(f"Embedding the {len(set(texts))} distinct texts before the search: {n_warm_up} requests.")
    if fake is not None:
        print(f"Requests the fake API received during the search, from every process: {n_total - n_warm_up}")
        print(f"Requests in total: {n_total}")
    else:
        # NOTE: only the fake's branch above runs in the tests, since they never reach the real API.
        print("Requests of the worker processes are not counted here: track_usage sees only this process.")
        print(f"Requests sent by this process during the search (the refit): {usage.n_requests - n_warm_up}")
    print(describe_usage(usage) + " (this process only)")


def print_search(search, n_texts):
    """Print the cross-validated accuracy of each value of C and the best one."""
    values = PARAM_GRID["logisticregression__C"]
    print(f"GridSearchCV: {N_FOLDS * len(values)} fits ({N_FOLDS} folds x {len(values)} values of C) "
          f"in {N_JOBS} processes, then a refit on all {n_texts} texts.")
    for C, score in zip(search.cv_results_["param_logisticregression__C"], search.cv_results_["mean_test_score"]):
        print(f"  C={C:<5} mean cross-validated accuracy {score:.2%}")
    print(f"Best: C={search.best_params_['logisticregression__C']} ({search.best_score_:.2%})\n")


if __name__ == "__main__":
    main()
