"""The scikit-learn contract of ``MistralEmbeddingVectorizer``, against the loopback fake.

``check_estimator`` runs a single check for an estimator that takes strings. So the
contract is proven in three parts. The checks that need no data are called directly
on the real class. scikit-learn's whole generic suite runs on a test-only subclass
that embeds numeric rows as texts through the real plumbing. Text-specific tests
cover the rest.
"""

import inspect
import io
import pickle
import warnings
from urllib.parse import urlsplit

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import SkipTestWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_array, get_tags
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator,
    check_estimator_cloneable,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_feature_names_out_error,
    check_get_params_invariance,
    check_global_output_transform_pandas,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_param_validation,
    check_parameters_default_constructible,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_set_params,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    check_valid_tag_types,
    parametrize_with_checks,
)

from sklearn_mistral import MistralEmbeddingVectorizer
from sklearn_mistral.testing import fake_embedding

N_FEATURES = 1024
FEATURE_NAMES = [f"mistralembeddingvectorizer{i}" for i in range(N_FEATURES)]

# Two topics whose fake vectors share words within a topic, so that classifiers,
# clusterings and neighbour searches on them have a known correct result.
SKIN = [
    "my skin itches all day",
    "a red itchy rash on my arm",
    "itchy skin and a red rash",
    "the rash on my skin is spreading",
    "dry itchy skin on my hands",
    "a skin rash that itches at night",
]
HEAD = [
    "a sharp headache behind my eyes",
    "my head hurts every morning",
    "a pounding headache and dizziness",
    "my head aches after reading",
    "a headache that makes my head throb",
    "a dull ache in my head",
]
TEXTS = SKIN + HEAD
LABELS = ["skin"] * len(SKIN) + ["head"] * len(HEAD)


def sent_texts(fake):
    """Return every input text the fake received, in arrival order."""
    return [text for record in fake.requests for text in record.inputs]


# Checks that need no data, on the real class


DATA_FREE_CHECKS = [
    check_estimator_cloneable,
    check_estimator_tags_renamed,
    check_valid_tag_types,
    check_estimator_repr,
    check_no_attributes_set_in_init,
    check_get_params_invariance,
    check_set_params,
    check_parameters_default_constructible,
    check_do_not_raise_errors_in_init_or_set_params,
    check_mixin_order,
]

ESTIMATORS = {
    "defaults": MistralEmbeddingVectorizer(),
    "custom": MistralEmbeddingVectorizer(
        model="codestral-embed",
        base_url="http://127.0.0.1:9/v1",
        cache_dir=False,
        batch_size=16,
        output_dimension=256,
        output_dtype="int8",
        truncate=True,
    ),
}


@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("estimator", list(ESTIMATORS.values()), ids=list(ESTIMATORS))
def test_data_free_check_passes(check, estimator):
    with warnings.catch_warnings():
        # check_set_params only warns when set_params rejects a fuzzed value, so make
        # that warning fail the test.
        warnings.simplefilter("error", UserWarning)
        check(type(estimator).__name__, estimator)


def test_check_estimator_passes_on_real_class():
    with pytest.warns(SkipTestWarning, match="Can't test estimator"):
        results = check_estimator(MistralEmbeddingVectorizer())

    assert [result["check_name"] for result in results] == ["check_estimator_cloneable"]
    assert [result["status"] for result in results] == ["passed"]


def test_tags_declare_stateless_text_transformer():
    tags = get_tags(MistralEmbeddingVectorizer())

    assert tags.input_tags.string is True
    assert tags.input_tags.two_d_array is False
    assert tags.requires_fit is False
    assert tags.transformer_tags.preserves_dtype == []


def test_fit_sets_no_n_features_in(make_vectorizer):
    vectorizer = make_vectorizer().fit(TEXTS)

    assert not hasattr(vectorizer, "n_features_in_")
    assert not hasattr(vectorizer, "feature_names_in_")


# scikit-learn's generic suite, on numeric rows embedded as texts


class NumericRowsVectorizer(MistralEmbeddingVectorizer):
    """Test-only subclass that embeds each numeric row as the text of its values.

    Row ``[1.0, 2.5]`` becomes the text ``"1 2.5"``, which the real ``fit`` and
    ``transform`` then handle, so that the checks written for numeric estimators run
    against the real plumbing and the loopback fake. ``check_array`` rejects NaN,
    infinity, complex values and rows of no values here, as in scikit-learn's numeric
    estimators. Sparse input goes through unchanged, so that the real class rejects it.
    """

    def fit(self, X, y=None):
        return super().fit(_rows_as_texts(X), y)

    def transform(self, X):
        # The default base_url is the real API, so this guard stops any check from
        # sending there.
        host = urlsplit(self.base_url).hostname
        if host != "127.0.0.1":
            raise AssertionError(f"a check tried to send to {self.base_url!r}, which is not loopback")
        return super().transform(_rows_as_texts(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = False
        tags.input_tags.two_d_array = True
        return tags


def _rows_as_texts(X):
    """Return one text per row of a numeric ``X``, as a Series if ``X`` has an index.

    A DataFrame's index goes along in a Series, so that ``set_output`` of the real
    ``transform`` is what keeps it.
    """
    if hasattr(X, "tocsr"):
        return X

    index = X.index if isinstance(X, pd.DataFrame) else None
    rows = check_array(X, ensure_min_samples=0)
    texts = [" ".join(f"{value:.6g}" for value in row) for row in rows]
    return texts if index is None else pd.Series(texts, index=index, dtype=object)


# Generic checks that cannot apply to a stateless embedder of one text column, with
# the reason. Every other check of scikit-learn 1.9.1 must pass.
NOT_APPLICABLE_CHECKS = {
    "check_n_features_in": (
        "the input is one text column, so there is no n_features_in_ to set, as in "
        "scikit-learn's own text vectorizers"
    ),
    "check_n_features_in_after_fitting": (
        "fit learns nothing, so transform has no fitted column count to compare against"
    ),
    "check_estimators_empty_data_messages": (
        "empty input is valid, because transform([]) returns shape (0, 1024)"
    ),
}

# set_output and get_feature_names_out checks that scikit-learn runs on its own
# estimators but not in the generic suite of 1.9.1.
EXTRA_CHECKS = [
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_global_output_transform_pandas,
    check_param_validation,
]
_IGNORES_INPUT_FEATURES = (
    "input_features is ignored, because the names come from the output size, not from "
    "the input columns"
)
NOT_APPLICABLE_EXTRA_CHECKS = {
    check_transformer_get_feature_names_out: _IGNORES_INPUT_FEATURES,
    check_transformer_get_feature_names_out_pandas: _IGNORES_INPUT_FEATURES,
    check_get_feature_names_out_error: (
        "get_feature_names_out works unfitted, because fit learns nothing"
    ),
}


def _aim_at_fake(estimator, fake, tmp_path):
    return clone(estimator).set_params(
        base_url=fake.base_url,
        api_key_env=fake.api_key_env,
        cache_dir=str(tmp_path / "cache"),
    )


@parametrize_with_checks(
    [NumericRowsVectorizer()],
    expected_failed_checks=lambda estimator: NOT_APPLICABLE_CHECKS,
    xfail_strict=True,
)
def test_generic_check(estimator, check, fake, tmp_path):
    check(_aim_at_fake(estimator, fake, tmp_path))


@pytest.mark.parametrize("check", EXTRA_CHECKS, ids=lambda check: check.__name__)
def test_extra_check_passes(check, fake, tmp_path):
    check("NumericRowsVectorizer", _aim_at_fake(NumericRowsVectorizer(), fake, tmp_path))


@pytest.mark.parametrize(
    "check",
    [
        pytest.param(check, marks=pytest.mark.xfail(reason=reason, strict=True), id=check.__name__)
        for check, reason in NOT_APPLICABLE_EXTRA_CHECKS.items()
    ],
)
def test_extra_check_not_applicable(check, fake, tmp_path):
    check("NumericRowsVectorizer", _aim_at_fake(NumericRowsVectorizer(), fake, tmp_path))


def test_numeric_rows_reach_fake_as_texts(fake, tmp_path):
    vectorizer = _aim_at_fake(NumericRowsVectorizer(), fake, tmp_path)

    X = vectorizer.fit_transform(np.array([[1.0, 2.5], [-3.0, 0.125]]))

    assert sent_texts(fake) == ["1 2.5", "-3 0.125"]
    np.testing.assert_array_equal(X[0], fake_embedding("1 2.5"))


# Text-specific contract


def test_clone_copies_parameters(make_vectorizer):
    vectorizer = make_vectorizer(batch_size=7, max_retries=2, truncate=True)

    copy = clone(vectorizer)

    assert copy is not vectorizer
    assert copy.get_params() == vectorizer.get_params()


def _pickle_round_trip(estimator):
    return pickle.loads(pickle.dumps(estimator))


def _joblib_round_trip(estimator):
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


@pytest.mark.parametrize("round_trip", [_pickle_round_trip, _joblib_round_trip], ids=["pickle", "joblib"])
def test_serialized_vectorizer_round_trips(make_vectorizer, round_trip):
    vectorizer = make_vectorizer(batch_size=7)
    expected = vectorizer.transform(TEXTS)

    restored = round_trip(vectorizer)

    assert restored.get_params() == vectorizer.get_params()
    np.testing.assert_array_equal(restored.transform(TEXTS), expected)


def test_fit_and_transform_leave_state_unchanged(make_vectorizer):
    vectorizer = make_vectorizer()
    before = pickle.dumps(vectorizer)

    vectorizer.fit(TEXTS).transform(TEXTS)

    assert pickle.dumps(vectorizer) == before


def test_get_params_lists_init_parameters(make_vectorizer):
    vectorizer = make_vectorizer()
    init_parameters = set(inspect.signature(MistralEmbeddingVectorizer).parameters)

    assert set(vectorizer.get_params()) == init_parameters


def test_set_params_updates_and_returns_self(make_vectorizer):
    vectorizer = make_vectorizer()

    returned = vectorizer.set_params(batch_size=3, max_concurrency=1)

    assert returned is vectorizer
    assert vectorizer.get_params()["batch_size"] == 3
    assert vectorizer.get_params()["max_concurrency"] == 1


def test_fit_returns_self_without_request(make_vectorizer, fake):
    vectorizer = make_vectorizer()

    assert vectorizer.fit(TEXTS, LABELS) is vectorizer
    assert fake.requests == []


def test_transform_works_unfitted(make_vectorizer, fake):
    X = make_vectorizer().transform(TEXTS)

    assert X.shape == (len(TEXTS), N_FEATURES)
    assert X.dtype == np.float32
    assert X.flags["C_CONTIGUOUS"]
    assert sorted(sent_texts(fake)) == sorted(TEXTS)


def test_feature_names_out_offline(make_vectorizer, fake):
    names = make_vectorizer().get_feature_names_out()

    assert names.dtype == object
    assert names.tolist() == FEATURE_NAMES
    assert fake.requests == []


def test_feature_names_out_unknown_model_raises():
    vectorizer = MistralEmbeddingVectorizer(model="my-embedder")

    with pytest.raises(ValueError, match="output size of model 'my-embedder' is unknown"):
        vectorizer.get_feature_names_out()


def _text_series():
    return pd.Series(TEXTS, index=[f"patient-{i}" for i in range(len(TEXTS))], name="text")


@pytest.mark.parametrize("container", ["series", "one-column dataframe"])
def test_set_output_pandas_keeps_index(make_vectorizer, container):
    series = _text_series()
    X = series if container == "series" else series.to_frame()
    vectorizer = make_vectorizer()
    expected = vectorizer.transform(TEXTS)

    output = vectorizer.set_output(transform="pandas").transform(X)

    assert isinstance(output, pd.DataFrame)
    assert output.columns.tolist() == FEATURE_NAMES
    assert output.index.equals(series.index)
    np.testing.assert_array_equal(output.to_numpy(), expected)


def test_set_output_pandas_fit_transform_keeps_index(make_vectorizer):
    series = _text_series()

    output = make_vectorizer().set_output(transform="pandas").fit_transform(series)

    assert output.index.equals(series.index)


def test_html_repr_offline(make_vectorizer, fake):
    html = make_vectorizer()._repr_html_()

    assert "MistralEmbeddingVectorizer" in html
    assert "<td>mistralembeddingvectorizer0</td>" in html
    assert fake.requests == []


def test_html_repr_unknown_model_works():
    # Unknown models have no output size yet, so the repr must show no feature names
    # instead of failing.
    vectorizer = MistralEmbeddingVectorizer(model="my-embedder")

    html = vectorizer._repr_html_()

    assert "MistralEmbeddingVectorizer" in html
    assert "mistralembeddingvectorizer0" not in html
    assert "transform" in dir(vectorizer)


def test_pipeline_with_scaler_and_logistic_regression(make_vectorizer, fake):
    model = make_pipeline(make_vectorizer(), StandardScaler(), LogisticRegression())

    model.fit(TEXTS, LABELS)
    predictions = model.predict(["an itchy red rash", "a headache in my head"])
    score = model.score(TEXTS, LABELS)

    assert predictions.tolist() == ["skin", "head"]
    assert score == 1.0
    # score reads the training texts from the cache.
    assert len(sent_texts(fake)) == len(TEXTS) + 2


def _patients():
    return pd.DataFrame({"text": TEXTS, "age": np.arange(len(TEXTS), dtype=float)})


@pytest.mark.parametrize("selector", ["text", ["text"]], ids=["name", "list"])
def test_column_transformer_selects_text_column(make_vectorizer, selector):
    vectorizer = make_vectorizer()
    transformer = ColumnTransformer([("text", vectorizer, selector), ("age", StandardScaler(), ["age"])])

    output = transformer.fit_transform(_patients())

    assert output.shape == (len(TEXTS), N_FEATURES + 1)
    np.testing.assert_array_equal(output[:, :N_FEATURES], vectorizer.transform(TEXTS))
    names = transformer.get_feature_names_out()
    assert names[0] == "text__mistralembeddingvectorizer0"
    assert names[-1] == "age__age"


def test_grid_search_processes_pay_each_text_once(make_vectorizer, fake):
    texts = TEXTS * 2
    labels = LABELS * 2
    vectorizer = make_vectorizer()
    vectorizer.transform(texts)
    n_requests_warm = len(fake.requests)
    # Any request from the search now fails the search, because error_score="raise".
    fake.fail_every_request = True
    search = GridSearchCV(
        make_pipeline(vectorizer, StandardScaler(), LogisticRegression()),
        {"logisticregression__C": [0.1, 1.0]},
        cv=3,
        n_jobs=2,
        error_score="raise",
    )

    search.fit(texts, labels)

    assert sorted(sent_texts(fake)) == sorted(set(texts))
    assert len(fake.requests) == n_requests_warm
    assert search.cv_results_["mean_test_score"].tolist() == [1.0, 1.0]


def test_nearest_neighbors_finds_same_topic(make_vectorizer):
    vectorizer = make_vectorizer()
    neighbors = NearestNeighbors(n_neighbors=3).fit(vectorizer.transform(TEXTS))

    distances, indices = neighbors.kneighbors(vectorizer.transform(["an itchy skin rash", TEXTS[7]]))

    assert all(LABELS[i] == "skin" for i in indices[0])
    assert indices[1, 0] == 7
    assert distances[1, 0] == pytest.approx(0.0, abs=1e-6)


def test_kmeans_separates_topics(make_vectorizer):
    model = make_pipeline(make_vectorizer(), KMeans(n_clusters=2, n_init=10, random_state=0))

    clusters = model.fit_predict(TEXTS)

    assert len(set(clusters[: len(SKIN)])) == 1
    assert len(set(clusters[len(SKIN) :])) == 1
    assert clusters[0] != clusters[-1]


INVALID_PARAMETERS = [
    {"model": 3},
    {"base_url": None},
    {"api_key_env": 1},
    {"cache_dir": True},
    {"batch_size": 0},
    {"max_tokens_per_request": 0},
    {"max_concurrency": 0},
    {"max_retries": -1},
    {"timeout": 0},
    {"output_dimension": 0},
    {"output_dtype": "float16"},
    {"truncate": "yes"},
    {"progress_bar": 1},
]


@pytest.mark.parametrize("method", ["fit", "transform"])
@pytest.mark.parametrize("params", INVALID_PARAMETERS, ids=lambda params: next(iter(params)))
def test_invalid_parameter_raises(make_vectorizer, fake, method, params):
    vectorizer = make_vectorizer(**params)
    name = next(iter(params))

    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter"):
        getattr(vectorizer, method)(TEXTS)
    assert fake.requests == []


@pytest.mark.parametrize("method", ["fit", "transform"])
def test_output_dimension_with_mistral_embed_raises(make_vectorizer, fake, method):
    vectorizer = make_vectorizer(model="mistral-embed", output_dimension=256)

    with pytest.raises(ValueError, match="output_dimension=256 is not supported by 'mistral-embed'"):
        getattr(vectorizer, method)(TEXTS)
    assert fake.requests == []


@pytest.mark.parametrize(
    "X",
    [[], (), np.array([], dtype=object), np.empty((0, 1), dtype=object), pd.Series([], dtype=object)],
    ids=["list", "tuple", "1-d array", "(0, 1) array", "series"],
)
def test_empty_input_gives_zero_rows(make_vectorizer, fake, X):
    output = make_vectorizer().fit_transform(X)

    assert output.shape == (0, N_FEATURES)
    assert output.dtype == np.float32
    assert fake.requests == []
