"""Deterministic embedding vectors that carry some meaning.

A text's vector is a weighted bag of words: every word stem maps to a pseudo-random
Gaussian vector derived from its SHAKE-256 digest, stop words weigh little, and a small
component seeded from the whole text keeps distinct texts apart. Texts that share
content words are therefore closer than unrelated texts, and a linear classifier
trained on the vectors behaves roughly like one trained on a bag of words.

Every random number comes from a ``hashlib`` digest, never from ``hash()``, so the
vectors are identical across processes. These are not mistral-embed's vectors.
"""

import collections
import functools
import hashlib
import re
import threading

import numpy as np
import scipy.sparse

__all__ = [
    "embed_texts",
    "embedding_dimension",
    "fake_embedding",
    "quantize",
    "wire_integers",
]

# mistral-embed returns 1024 dimensions. codestral-embed computes 3072 and returns the
# first 1536 unless the request sets ``output_dimension`` (Mistral's embeddings docs).
MISTRAL_EMBED_DIMENSION = 1024
CODESTRAL_FULL_DIMENSION = 3072
CODESTRAL_DEFAULT_DIMENSION = 1536

# Dated names that Mistral documents as the same model as the short name.
MODEL_ALIASES = {
    "mistral-embed-2312": "mistral-embed",
    "codestral-embed-2505": "codestral-embed",
}

OUTPUT_DTYPES = ("float", "int8", "uint8", "binary", "ubinary")
_QUANTIZED_DTYPES = {"int8": np.int8, "uint8": np.uint8, "binary": np.int8, "ubinary": np.uint8}

# Values travel as fixed-point decimals with this many places: about 7 significant
# digits for the typical component of a unit vector, as precise as float32.
N_DECIMALS = 8

_STOP_WORD_WEIGHT = 0.15
_TEXT_COMPONENT_WEIGHT = 0.3

_STOP_WORDS = frozenset(
    """a about after all also am an and any are as at be been before but by can could
    d did do does for from had has have he her him his how i if in into is it its just
    ll m me more most my no not now of on only or our out re s she so some such t than
    that the their them then there these they this those to too up us ve very was we
    were what when which who why will with would you your""".split()
)
_WORD_PATTERN = re.compile(r"[^\W\d_]+|\d+")
_SUFFIXES = ("ing", "ed", "es", "s", "ly")
_MIN_STEM_LENGTH = 3


def canonical_model(model):
    """Return the model name that ``model`` is an alias of, or ``model`` itself."""
    return MODEL_ALIASES.get(model, model)


def is_codestral(model):
    return canonical_model(model).startswith("codestral-embed")


def embedding_dimension(model, output_dimension=None):
    """Return the number of dimensions the API returns for ``model``."""
    if not is_codestral(model):
        return MISTRAL_EMBED_DIMENSION
    if output_dimension is None:
        return CODESTRAL_DEFAULT_DIMENSION
    return output_dimension


@functools.lru_cache(maxsize=65536)
def _stem(word):
    # A crude suffix stripper: enough to map "books" and "book", "rashes" and "rash"
    # to the same stem. It never strips the "s" of words ending in "ss".
    for suffix in _SUFFIXES:
        if suffix == "s" and word.endswith("ss"):
            break
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM_LENGTH:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > _MIN_STEM_LENGTH:
        word = word[:-1]
    return word


def _word_weights(text):
    weights = {}
    for word in _WORD_PATTERN.findall(text.lower()):
        weight = _STOP_WORD_WEIGHT if word in _STOP_WORDS else 1.0
        stem = _stem(word)
        weights[stem] = weights.get(stem, 0.0) + weight
    return weights


def _gaussian_rows(keys, dimension):
    """Return one pseudo-random standard normal row per key, as float32.

    SHAKE-256 of the key gives 16-bit uniforms that a Box-Muller transform turns into
    normals, so the rows depend on ``hashlib`` and arithmetic only, not on NumPy's
    random streams, which may change between NumPy versions.
    """
    raw = b"".join(hashlib.shake_256(key).digest(2 * dimension) for key in keys)
    uniforms = np.frombuffer(raw, dtype="<u2").reshape(len(keys), dimension)
    uniforms = (uniforms + 0.5) / 65536

    # float64 keeps CPU-specific rounding of log, cos and sin far below float32's.
    radius = np.sqrt(-2 * np.log(uniforms[:, 0::2]))
    angle = (2 * np.pi) * uniforms[:, 1::2]
    rows = np.empty((len(keys), dimension), dtype=np.float32)
    rows[:, 0::2] = radius * np.cos(angle)
    rows[:, 1::2] = radius * np.sin(angle)
    return rows


def _key(family, kind, value):
    return f"{family}\x00{kind}\x00{value}".encode("utf-8", "surrogatepass")


def _unit_rows(vectors):
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1)


class _WordVectorCache:
    """A thread-safe LRU cache of unit word vectors, keyed by model family and stem.

    It keeps at most ``maxsize`` vectors: 64 MB at 1024 dimensions, 192 MB at 3072.
    """

    def __init__(self, maxsize):
        self.maxsize = maxsize
        self._vectors = collections.OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, family, dimension, stems):
        """Return the vectors of ``stems`` as rows of a ``(len(stems), dimension)`` array."""
        keys = [(family, dimension, stem) for stem in stems]
        with self._lock:
            missing = [key for key in keys if key not in self._vectors]
            if missing:
                new_rows = _unit_rows(_gaussian_rows([_key(*key) for key in missing], dimension))
                self._vectors.update(zip(missing, new_rows))
            for key in keys:
                self._vectors.move_to_end(key)
            rows = np.stack([self._vectors[key] for key in keys])
            while len(self._vectors) > self.maxsize:
                self._vectors.popitem(last=False)
        return rows


_word_vectors = _WordVectorCache(maxsize=16384)


def _bag_of_words(texts, family, dimension):
    rows = [_word_weights(text) for text in texts]
    columns = {}
    for weights in rows:
        for stem in weights:
            columns.setdefault(stem, len(columns))
    if not columns:
        return np.zeros((len(texts), dimension), dtype=np.float32)

    indptr = np.cumsum([0] + [len(weights) for weights in rows])
    indices = [columns[stem] for weights in rows for stem in weights]
    data = [weight for weights in rows for weight in weights.values()]
    counts = scipy.sparse.csr_matrix((data, indices, indptr), shape=(len(texts), len(columns)))
    return counts @ _word_vectors.get_many(family, dimension, list(columns))


def full_vectors(texts, model):
    """Compute the unit vectors of ``texts`` at the model's full dimension (float64)."""
    family = canonical_model(model)
    dimension = CODESTRAL_FULL_DIMENSION if is_codestral(model) else MISTRAL_EMBED_DIMENSION

    bags = _unit_rows(_bag_of_words(texts, family, dimension))
    text_keys = [_key(family, "text", text) for text in texts]
    text_components = _unit_rows(_gaussian_rows(text_keys, dimension))
    vectors = bags + _TEXT_COMPONENT_WEIGHT * text_components
    return _unit_rows(vectors.astype(np.float64))


def fixed_point(texts, model, output_dimension=None):
    """Return the wire values of ``texts`` as integers scaled by ``10**N_DECIMALS``.

    The server formats these integers as decimals, so a client that parses the JSON
    and casts to float32 gets exactly ``fixed_point(...) / 10**N_DECIMALS`` as float32.
    Truncation to ``output_dimension`` keeps the first dimensions without
    renormalizing, which an official Mistral example suggests the live API also does.
    """
    dimension = embedding_dimension(model, output_dimension)
    vectors = full_vectors(texts, model)[:, :dimension]
    return np.rint(vectors * 10**N_DECIMALS).astype(np.int64)


def quantize(values, output_dtype):
    """Quantize float ``values`` (shape ``(n, dim)``) the way the API's ``output_dtype`` does.

    ``int8`` is ``round(x * 127)``, ``uint8`` is ``round((x + 1) * 127.5)``, ``ubinary``
    packs the sign bits (1 when x > 0) most significant bit first, and ``binary`` is
    ``ubinary - 128``. These reproduce the dequantization rules of Mistral's examples.
    """
    if output_dtype == "int8":
        return np.clip(np.rint(values * 127), -128, 127).astype(np.int8)
    if output_dtype == "uint8":
        return np.clip(np.rint((values + 1) * 127.5), 0, 255).astype(np.uint8)

    packed = np.packbits(values > 0, axis=-1)
    if output_dtype == "ubinary":
        return packed
    if output_dtype == "binary":
        return (packed.astype(np.int16) - 128).astype(np.int8)
    raise ValueError(f"output_dtype must be one of {OUTPUT_DTYPES}, got {output_dtype!r}.")


def wire_integers(texts, model, output_dimension=None, output_dtype="float"):
    """Return the values the server sends for ``texts`` as integers and their scale.

    Returns ``(integers, n_decimals)``: the JSON carries ``integers / 10**n_decimals``.
    Float rows are fixed-point with ``N_DECIMALS`` places; quantized rows are integers.
    """
    integers = fixed_point(texts, model, output_dimension)
    if output_dtype == "float":
        return integers, N_DECIMALS
    values = quantize(integers / 10**N_DECIMALS, output_dtype)
    return values.astype(np.int64), 0


def embed_texts(texts, model="mistral-embed", output_dimension=None, output_dtype="float"):
    """Compute the embeddings the fake returns for ``texts``, one row per text.

    Returns float32 rows for ``output_dtype="float"``, else the quantized integers
    (int8 for ``int8`` and ``binary``, uint8 for ``uint8`` and ``ubinary``).
    """
    integers, n_decimals = wire_integers(texts, model, output_dimension, output_dtype)
    if output_dtype == "float":
        return (integers / 10**n_decimals).astype(np.float32)
    return integers.astype(_QUANTIZED_DTYPES[output_dtype])


def fake_embedding(text, model="mistral-embed", output_dimension=None, output_dtype="float"):
    """Compute the embedding that :class:`FakeMistralAPI` returns for one text.

    The vector is deterministic across processes, has unit L2 norm (up to the 8
    decimal places sent on the wire) and is a weighted bag of words, so texts that
    share content words are closer than unrelated texts. It is not mistral-embed's
    vector.

    Parameters
    ----------
    text : str
        The input text.
    model : str, default="mistral-embed"
        The model name. codestral-embed (and its dated alias) returns 1536 dimensions
        by default; every other name returns 1024. Distinct model names give distinct
        vectors, except for documented aliases such as mistral-embed-2312.
    output_dimension : int or None, default=None
        codestral-embed only: keep the first ``output_dimension`` of the 3072
        dimensions, without renormalizing.
    output_dtype : {"float", "int8", "uint8", "binary", "ubinary"}, default="float"
        The quantization the request asked for.

    Returns
    -------
    embedding : ndarray of shape (dim,)
        float32 for ``output_dtype="float"``, else the quantized integers. It equals
        what a client gets by parsing the fake's JSON and casting to this dtype.

    Examples
    --------
    >>> from sklearn_mistral.testing import fake_embedding
    >>> vector = fake_embedding("Embed this sentence.")
    >>> vector.shape, vector.dtype
    ((1024,), dtype('float32'))
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}.")
    if output_dimension is not None:
        if not is_codestral(model):
            raise ValueError(
                f"output_dimension is supported by codestral-embed only, got model={model!r}. "
                "Leave output_dimension=None for this model."
            )
        if not 1 <= output_dimension <= CODESTRAL_FULL_DIMENSION:
            raise ValueError(
                f"output_dimension must be in [1, {CODESTRAL_FULL_DIMENSION}], "
                f"got {output_dimension}."
            )
    if output_dtype not in OUTPUT_DTYPES:
        raise ValueError(f"output_dtype must be one of {OUTPUT_DTYPES}, got {output_dtype!r}.")

    return embed_texts([text], model, output_dimension, output_dtype)[0]
