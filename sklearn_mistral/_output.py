"""Assemble the output array in input order, straight from cache hits and API batches."""

import numpy as np

from ._batching import group_positions

__all__ = ["OutputArray", "dequantize", "stored_dtype", "stored_length"]

# Dtypes of the vectors as the API sends and the cache stores them, per output_dtype.
_STORED_DTYPES = {"float": np.float32, "int8": np.int8, "uint8": np.uint8, "binary": np.int8, "ubinary": np.uint8}


def stored_dtype(output_dtype):
    """Return the numpy dtype the API uses for ``output_dtype``."""
    return np.dtype(_STORED_DTYPES[output_dtype])


def stored_length(n_features, output_dtype):
    """Return the values per vector on the wire: one per dimension, or one per 8 bits."""
    if n_features is None:
        return None
    if output_dtype in ("binary", "ubinary"):
        return -(-n_features // 8)
    return n_features


def dequantize(vectors, output_dtype, n_features):
    """Return float32 vectors from the API's (possibly quantized) values.

    Follows Mistral's examples: int8 q / 127; uint8 q / 127.5 - 1; bit-packed dtypes
    (MSB first) give +1 for a set bit and -1 for a clear one.
    """
    if output_dtype == "float":
        return vectors
    if output_dtype == "int8":
        return vectors.astype(np.float32) / np.float32(127)
    if output_dtype == "uint8":
        return vectors.astype(np.float32) / np.float32(127.5) - np.float32(1)

    packed = vectors.astype(np.int16) + 128 if output_dtype == "binary" else vectors
    bits = np.unpackbits(packed.astype(np.uint8), axis=1)[:, :n_features]
    return bits.astype(np.float32) * 2 - 1


class OutputArray:
    """The ``(n_samples, n_features)`` float32 result, filled by distinct-text id.

    Each vector is written into every row whose text it embeds, so duplicates cost no
    second output-sized array. The array is allocated on the first vector when the
    model's size was not known up front.
    """

    def __init__(self, inverse, n_unique, n_features, output_dtype):
        self._n_samples = len(inverse)
        self._identity = n_unique == len(inverse)
        if not self._identity:
            self._order, self._starts = group_positions(inverse, n_unique)
            self._counts = np.diff(self._starts)
        self._output_dtype = output_dtype
        self._n_features = n_features
        self.array = None if n_features is None else self._allocate(n_features)

    def _allocate(self, n_features):
        return np.empty((self._n_samples, n_features), dtype=np.float32)

    def put(self, ids, vectors):
        """Write ``vectors`` (as the API sends them) for the distinct ids ``ids``."""
        if self.array is None:
            self._n_features = vectors.shape[1] * (8 if self._output_dtype in ("binary", "ubinary") else 1)
            self.array = self._allocate(self._n_features)

        vectors = dequantize(vectors, self._output_dtype, self._n_features)
        ids = np.asarray(ids, dtype=np.int64)
        if self._identity:
            self._write_rows(ids, vectors)
            return
        rows = np.concatenate([self._order[self._starts[j] : self._starts[j + 1]] for j in ids])
        self.array[rows] = np.repeat(vectors, self._counts[ids], axis=0)

    def _write_rows(self, rows, vectors):
        # Rows read back from a cache filled in input order are usually consecutive,
        # and a slice copy is several times faster than fancy indexing.
        if rows.size and rows[-1] - rows[0] == rows.size - 1 and (rows.size < 2 or np.all(np.diff(rows) == 1)):
            self.array[rows[0] : rows[-1] + 1] = vectors
        else:
            self.array[rows] = vectors
