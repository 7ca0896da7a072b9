import collections

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import TEST_API_KEY, TEST_API_KEY_ENV
from sklearn_mistral import MistralEmbeddingVectorizer
from sklearn_mistral.datasets import load_symptom2disease
from sklearn_mistral.testing import FakeMistralAPI


def test_grid_search_cold_cache_two_processes(tmp_path):
    data = load_symptom2disease()
    texts, labels = data.text[::5], data.label[::5]

    with FakeMistralAPI(api_key=TEST_API_KEY) as fake:
        vectorizer = MistralEmbeddingVectorizer(
            base_url=fake.base_url, api_key_env=TEST_API_KEY_ENV, cache_dir=str(tmp_path / "cache")
        )
        model = make_pipeline(vectorizer, StandardScaler(), LogisticRegression(max_iter=500))
        search = GridSearchCV(model, {"logisticregression__C": [0.1, 1.0]}, cv=3, n_jobs=2, error_score="raise")
        search.fit(texts, labels)
        sent = collections.Counter(text for record in fake.requests if record.status == 200 for text in record.inputs)

    # Two workers may both miss a text on the cold cache at the same moment, but every
    # later fit, score and the final refit read it from the shared cache.
    assert set(sent) == set(texts)
    assert max(sent.values()) <= 2
    assert search.best_score_ > 0.5
