"""Run every script of ``examples/`` offline, in ``--fast`` mode, and check what it prints.

Each example runs once per module in a subprocess, against the fake API it starts
itself, with ``MISTRAL_API_KEY`` removed from the environment. The examples share one
cache directory, as they would on a user's machine, and each one runs in an empty
working directory so that a file written outside ``--output-dir`` shows up.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(path.name for path in EXAMPLES_DIR.glob("*.py") if not path.name.startswith("_"))
FAKE_NOTICE = "MISTRAL_API_KEY is not set, so this example runs offline against the fake Mistral API"
# Generous: on a loaded two-core machine the slowest example takes ~20 s in fast mode.
TIMEOUT_SECONDS = 180

# A stand-in for the fastText package: 16-dimensional bag-of-words sentence vectors.
FASTTEXT_STUB = '''
import hashlib

import numpy as np


class _Model:
    def get_sentence_vector(self, text):
        if "\\n" in text:
            raise ValueError("get_sentence_vector processes one line at a time")
        vector = np.zeros(16, dtype=np.float32)
        for word in text.lower().split():
            seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            vector += np.random.default_rng(seed).standard_normal(16).astype(np.float32)
        return vector


def load_model(path):
    return _Model()
'''
FASTTEXT_MISSING = 'raise ImportError("No module named \'fasttext\'")\n'


class Run:
    """The outcome of one example run: its output and the files left in its working directory."""

    def __init__(self, completed, workdir, output_dir):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.workdir_files = sorted(os.listdir(workdir))
        self.output_dir = output_dir

    def lines_starting(self, prefix):
        return [line for line in self.stdout.splitlines() if line.startswith(prefix)]


def run_example(script, tmp_dir, cache_dir, *options, pythonpath=None):
    """Run ``examples/<script> --fast`` in a subprocess and return its :class:`Run`."""
    workdir = Path(tmp_dir) / "workdir"
    output_dir = Path(tmp_dir) / "output"
    workdir.mkdir(parents=True)

    env = dict(os.environ)
    env.pop("MISTRAL_API_KEY", None)
    env.pop("SKLEARN_MISTRAL_CACHE_DIR", None)
    # The samples of --fast are small, so extra OpenMP and BLAS threads only contend
    # for the cores. On a loaded two-core machine, t-SNE ran ~3x slower with two threads.
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))

    command = [sys.executable, str(EXAMPLES_DIR / script), "--fast"]
    command += ["--cache-dir", str(cache_dir), "--output-dir", str(output_dir), *options]
    completed = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
    )
    return Run(completed, workdir, output_dir)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """Run an example once per module with the shared cache. Later calls reuse the run."""
    cache_dir = tmp_path_factory.mktemp("shared-cache")
    runs = {}

    def get(script):
        if script not in runs:
            runs[script] = run_example(script, tmp_path_factory.mktemp(script.removesuffix(".py")), cache_dir)
        run = runs[script]
        assert run.returncode == 0, f"{script} failed:\n{run.stdout}\n{run.stderr}"
        return run

    return get


def parse_percent(line):
    return float(re.search(r"(\d+\.\d+)%", line).group(1))


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_announces_fake_first(example, script):
    assert example(script).stdout.startswith(FAKE_NOTICE)


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_writes_only_to_output_dir(example, script):
    assert example(script).workdir_files == []


def test_embed_texts_prints_shape(example):
    output = example("embed_texts.py").stdout

    assert "array of shape (2, 1024)" in output
    assert "1024 dimensions per text" in output


def test_distances_book_closer_than_cat(example):
    run = example("distances.py")
    distances = {}
    for line in run.stdout.splitlines():
        match = re.match(r"\s+(\d+\.\d+)\s+(.*)", line)
        if match:
            distances["book" if "books are like people" in line else "cat"] = float(match.group(1))

    assert set(distances) == {"book", "cat"}
    assert distances["book"] < distances["cat"]
    assert "books are like people" in run.lines_starting("Closest to the reference:")[0]


def test_paraphrase_flags_memorial_day_pair(example):
    run = example("paraphrase.py")
    [verdict] = run.lines_starting("Paraphrase:")

    assert verdict.count("Memorial Day") == 2
    assert "cheese" not in verdict
    assert run.stdout.count("<- paraphrase") == 1


def test_batch_dataset_saves_vectors_and_labels(example):
    run = example("batch_dataset.py")
    with np.load(run.output_dir / "symptom2disease_embeddings.npz") as saved:
        X, labels, texts = saved["X"], saved["label"], saved["text"]

    assert X.shape == (240, 1024)
    assert X.dtype == np.float32
    assert labels.shape == (240,)
    assert texts.shape == (240,)
    assert len(set(labels.tolist())) == 24


def test_batch_dataset_prints_counts_and_cost(example):
    run = example("batch_dataset.py")

    assert len(run.lines_starting("Before sending: 240 texts, 238 distinct")) == 1
    assert re.search(r"240 texts embedded \(238 distinct\), \d+ cache hits, \d+ requests sent, \d+ tokens billed", run.stdout)
    assert re.search(r"Cost of this run: \$\d+\.\d{6} \(\d+ tokens billed at \$0\.10 per million", run.stdout)


def test_tsne_writes_valid_png(example):
    import matplotlib.image

    path = example("tsne.py").output_dir / "symptom2disease_tsne.png"

    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    image = matplotlib.image.imread(path)
    assert image.ndim == 3
    assert image.shape[0] > 100
    assert image.shape[1] > 100


def test_baseline_prints_every_model(example):
    run = example("baseline.py")

    for name in ("MistralEmbeddingVectorizer (fake API)", "TfidfVectorizer", "HashingVectorizer + TruncatedSVD"):
        [row] = run.lines_starting(name)
        assert 0 <= parse_percent(row) <= 100


def test_baseline_adds_fasttext_row(tmp_path):
    (tmp_path / "stub").mkdir()
    (tmp_path / "stub" / "fasttext.py").write_text(FASTTEXT_STUB)
    model_path = tmp_path / "model.bin"
    model_path.write_bytes(b"")

    run = run_example(
        "baseline.py", tmp_path / "run", tmp_path / "cache", "--fasttext-model", str(model_path),
        pythonpath=tmp_path / "stub",
    )

    assert run.returncode == 0, run.stderr
    [row] = run.lines_starting("fastText sentence vectors")
    assert row.split()[3] == "16"


@pytest.mark.parametrize(
    "stub, model_exists, message",
    [
        (FASTTEXT_MISSING, True, "needs the fasttext package, which is not installed: pip install fasttext"),
        (FASTTEXT_STUB, False, "--fasttext-model: no such file"),
    ],
    ids=["package-missing", "file-missing"],
)
def test_baseline_fasttext_errors_are_clear(tmp_path, stub, model_exists, message):
    (tmp_path / "stub").mkdir()
    (tmp_path / "stub" / "fasttext.py").write_text(stub)
    model_path = tmp_path / "model.bin"
    if model_exists:
        model_path.write_bytes(b"")

    run = run_example(
        "baseline.py", tmp_path / "run", tmp_path / "cache", "--fasttext-model", str(model_path),
        pythonpath=tmp_path / "stub",
    )

    assert run.returncode == 1
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_classify_new_text_is_migraine(example):
    run = example("classify.py")

    assert run.lines_starting("Predicted disease:") == ["Predicted disease: Migraine"]
    assert 0 <= parse_percent(run.lines_starting("Trained on 192 texts")[0]) <= 100


def test_clustering_prints_ari_and_texts(example):
    run = example("clustering.py")
    [ari_line] = run.lines_starting("Adjusted Rand index against the labels:")
    sample_lines = [line for line in run.stdout.splitlines() if re.match(r"  \[.+\] ", line)]

    assert -1 <= float(ari_line.split(":")[1].split()[0]) <= 1
    assert len(run.lines_starting("Cluster ")) == 1
    assert 1 <= len(sample_lines) <= 5


def test_retrieval_prints_k_hits(tmp_path):
    run = run_example("retrieval.py", tmp_path / "run", tmp_path / "cache", "--k", "4")
    hits = re.findall(r"^  (\d)\. \[(-?\d\.\d{3})\] ", run.stdout, flags=re.MULTILINE)

    assert run.returncode == 0, run.stderr
    assert [rank for rank, _ in hits] == ["1", "2", "3", "4"]
    scores = [float(score) for _, score in hits]
    assert scores == sorted(scores, reverse=True)


def test_retrieval_default_query_finds_chicken_pox(example):
    [first_hit] = [line for line in example("retrieval.py").stdout.splitlines() if line.startswith("  1. ")]

    assert "Chicken pox" in first_hit


def test_grid_search_prints_request_count(example):
    run = example("grid_search.py")
    [search_line] = run.lines_starting("Requests the fake API received during the search, from every process:")
    [warm_up_line] = run.lines_starting("Embedding the 238 distinct texts before the search:")
    [total_line] = run.lines_starting("Requests in total:")
    n_warm_up = int(re.search(r"(\d+) requests\.$", warm_up_line).group(1))

    assert search_line.endswith(": 0")
    assert total_line == f"Requests in total: {n_warm_up}"


def test_symptom2disease_second_run_sends_nothing(tmp_path):
    first = run_example("symptom2disease.py", tmp_path / "first", tmp_path / "cache")
    second = run_example("symptom2disease.py", tmp_path / "second", tmp_path / "cache")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert 0 <= parse_percent(first.lines_starting("StandardScaler + LogisticRegression accuracy")[0]) <= 100
    assert ", 0 cache hits, " in first.stdout
    assert ", 0 requests sent, 0 tokens billed" in second.stdout
    assert ", 238 cache hits, " in second.stdout


def test_second_example_reuses_first_examples_cache(tmp_path):
    first = run_example("symptom2disease.py", tmp_path / "first", tmp_path / "cache")
    second = run_example("clustering.py", tmp_path / "second", tmp_path / "cache")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert ", 0 cache hits, " in first.stdout
    assert ", 0 requests sent, 0 tokens billed" in second.stdout
