"""The benchmark script's small mode, run as CI would: its vectorizer rows must be minimal.

The contenders that need ``mistralai`` or ``langchain-mistralai`` (the ``benchmark``
extra) are skipped by the script itself when those packages are missing.
"""

import importlib.util
import pathlib
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_embeddings.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_embeddings", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is built.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


@pytest.fixture(scope="module")
def report(bench, tmp_path_factory):
    options = bench.parse_args(["--small", "--work-dir", str(tmp_path_factory.mktemp("bench"))])
    return bench.run_benchmark(options)


@pytest.fixture(scope="module")
def symptom2disease(report):
    (dataset,) = report.datasets
    return dataset


def test_small_mode_runs_only_symptom2disease(report):
    assert [dataset.name for dataset in report.datasets] == ["symptom2disease"]
    assert report.rate_limited is None


def test_small_mode_minimum_is_ten_requests(symptom2disease):
    # 1153 distinct texts at 128 per request need 10 requests, while 51,181 tokens fit in 4.
    assert symptom2disease.n_distinct == 1153
    assert symptom2disease.distinct_tokens == 51_181
    assert symptom2disease.min_requests == 10


def test_vectorizer_cold_sends_minimum_requests(symptom2disease):
    cold = symptom2disease.row("vectorizer")

    assert cold.skipped is None
    assert cold.n_requests == symptom2disease.min_requests
    assert cold.n_rate_limited == 0


def test_vectorizer_cold_bills_distinct_tokens_once(symptom2disease):
    assert symptom2disease.row("vectorizer").n_tokens == symptom2disease.distinct_tokens


def test_vectorizer_warm_sends_nothing(symptom2disease):
    warm = symptom2disease.row("vectorizer", "warm")

    assert warm.n_requests == 0
    assert warm.fingerprint == symptom2disease.row("vectorizer").fingerprint


def test_guide_loop_pays_for_every_row(symptom2disease):
    guide = symptom2disease.row("guide-httpx")

    # 1200 texts in chunks of 50, duplicates included.
    assert guide.n_requests == 24
    assert guide.n_tokens == 53_561
    assert guide.fingerprint == symptom2disease.row("vectorizer").fingerprint


def test_numpy_load_returns_the_saved_vectors(symptom2disease):
    assert symptom2disease.row("numpy-load").fingerprint == symptom2disease.row("vectorizer").fingerprint


@pytest.mark.parametrize("contender, package", [("langchain", "langchain_mistralai"), ("mistralai-sdk", "mistralai")])
def test_optional_contender_runs_or_is_skipped(symptom2disease, contender, package):
    row = symptom2disease.row(contender)

    if importlib.util.find_spec(package) is None:
        assert row.skipped == f"{package} is not installed"
    else:
        assert row.skipped is None
        assert row.fingerprint == symptom2disease.row("vectorizer").fingerprint


def test_report_has_table_and_targets(bench, report):
    markdown = bench.format_report(report)

    assert "| MistralEmbeddingVectorizer, cold cache |" in markdown
    assert "| Symptom2Disease: requests = minimum (10) | 10 | yes |" in markdown
