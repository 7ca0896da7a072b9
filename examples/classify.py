"""Train a disease classifier on the embeddings, then classify a new description.

    python examples/classify.py [--text "My skin itches and has red patches."]

Offline by default (the fake API on loopback); with MISTRAL_API_KEY set, it uses the
real API. The pipeline is ``MistralEmbeddingVectorizer`` -> ``StandardScaler`` ->
``LogisticRegression``, scored on a stratified 80/20 split of Symptom2Disease, then refit
on all of it to classify the new text.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _common import describe_usage, embedding_service, load_symptoms, make_vectorizer, parse_args, split_train_test
from sklearn_mistral import track_usage

NEW_TEXT = "I've been experiencing frequent headaches and vision problems."
N_TOP_LABELS = 3


def main():
    args = parse_args(
        __doc__.splitlines()[0],
        **{"--text": {"default": NEW_TEXT, "help": "the description to classify (default: %(default)r)"}},
    )
    texts, labels = load_symptoms(args)
    X_train, X_test, y_train, y_test = split_train_test(texts, labels)

    with embedding_service() as service, track_usage() as usage:
        model = make_pipeline(make_vectorizer(args, service), StandardScaler(), LogisticRegression(max_iter=500))
        model.fit(X_train, y_train)
        accuracy = accuracy_score(y_test, model.predict(X_test))

        # Once scored, the model is refit on every labelled text to classify new ones.
        # The vectors come from the cache, so the refit sends no request.
        model.fit(texts, labels)
        probabilities = model.predict_proba([args.text])[0]

    print(f"Trained on {len(X_train)} texts; accuracy on {len(X_test)} held-out texts: {accuracy:.2%}\n")
    print(f"Refit on all {len(texts)} labelled texts to classify a new one.")
    print(f"New text: {args.text!r}")
    print(f"Predicted disease: {model.classes_[probabilities.argmax()]}")
    for i in np.argsort(probabilities)[::-1][:N_TOP_LABELS]:
        print(f"  {probabilities[i]:6.1%}  {model.classes_[i]}")
    print(f"\n{describe_usage(usage)}")


if __name__ == "__main__":
    main()
