"""The on-disk vector cache: diskcache underneath, keyed by a hash, values as raw bytes.

diskcache keeps entries in SQLite, which makes one cache directory safe to share between
threads and between processes on one machine: each write below is one transaction, so
a reader sees a batch entirely or not at all, and a killed process loses only the batch
it was writing.
"""

import concurrent.futures
import functools
import hashlib
import logging
import os
import sqlite3
import threading
import time
from urllib.parse import urlsplit

import diskcache
import numpy as np

__all__ = ["BackgroundWriter", "VectorCache", "default_cache_dir", "endpoint_family", "open_cache"]

logger = logging.getLogger("sklearn_mistral")

CACHE_DIR_ENV = "SKLEARN_MISTRAL_CACHE_DIR"

# Appended to every stored vector: a little-endian uint64 checksum (see _checksums).
_CHECKSUM_SIZE = 8

# Part of every key: entries written in another layout (before version 2, checksums
# were BLAKE2b digests) live under other keys, so they are never read as damaged.
_FORMAT_VERSION = 2

# diskcache stores values below this size inside SQLite rather than as files, which
# the bulk read needs. 1 MiB is far above the largest vector (3072 float32 = 12 KiB).
_MIN_FILE_SIZE = 2**20

# SQLite builds before 3.32 allow 999 parameters per statement.
_KEYS_PER_QUERY = 900

# The UPSERT below needs SQLite 3.24; older builds store one key at a time.
_HAS_UPSERT = sqlite3.sqlite_version_info >= (3, 24, 0)

# One statement that inserts a vector or replaces the stored one, with the columns that
# diskcache's Cache.set writes for a bytes key and a bytes value kept inside SQLite.
# diskcache's triggers keep its entry count and total size up to date. A row whose value
# lives in a file is left alone, so that no file is orphaned.
_UPSERT = f"""
INSERT INTO Cache(key, raw, store_time, expire_time, access_time, access_count, tag, size, mode, filename, value)
VALUES (?, 1, ?, NULL, ?, 0, NULL, ?, {diskcache.core.MODE_RAW}, NULL, ?)
ON CONFLICT(key, raw) DO UPDATE SET
    store_time = excluded.store_time, expire_time = NULL, access_time = excluded.access_time,
    access_count = 0, tag = NULL, size = excluded.size, mode = excluded.mode, value = excluded.value
WHERE filename IS NULL
"""

# Path prefix of the offline fake's base_url, followed by its vectors' version.
FAKE_PATH_PREFIX = "sklearn-mistral-fake-"

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def default_cache_dir():
    """Return ``$SKLEARN_MISTRAL_CACHE_DIR``, else the per-user cache directory."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sklearn-mistral")


def endpoint_family(base_url):
    """Name the server whose vectors a cache entry holds.

    Every ``*.mistral.ai`` host (regional ones included) serves the same models, so they
    share entries. The offline fake of :mod:`sklearn_mistral.testing` is known by the
    versioned path prefix of its ``base_url`` on any loopback port, so a rerun against a
    fake on a new port finds its vectors. Any other server keeps its own entries, by
    host, port and path, so two local servers never lend each other vectors.
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host == "mistral.ai" or host.endswith(".mistral.ai"):
        return "mistral.ai"

    path = parts.path.rstrip("/")
    loopback = host in _LOOPBACK_HOSTS or host.startswith("127.")
    fake_prefix = path.split("/")[1] if path.count("/") >= 2 else ""
    if loopback and fake_prefix.startswith(FAKE_PATH_PREFIX):
        return fake_prefix

    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{host}:{port}{path}"


class VectorCache:
    """Vectors stored under a namespace: everything except the text that shapes a vector.

    Reads and writes go to diskcache's SQLite table directly, many keys per statement:
    ``Cache.get`` and ``Cache.set`` cost one statement (and a transaction) per key,
    which makes a warm transform of 10^5 texts several times slower.

    Parameters
    ----------
    cache : diskcache.Cache
    namespace : dict
        Model, output settings and endpoint family. Two namespaces never share a key.
    dtype : numpy dtype
        The dtype of the stored vectors (float32, or int8 / uint8 for quantized output).
    """

    def __init__(self, cache, namespace, dtype):
        self._cache = cache
        namespace = {**namespace, "format": _FORMAT_VERSION}
        self._prefix = hashlib.sha256(repr(sorted(namespace.items())).encode()).digest()
        self._dtype = np.dtype(dtype)

    def keys(self, texts):
        """Return the cache key of each text: a SHA-256 digest, so no text is stored."""
        prefix = self._prefix
        return [hashlib.sha256(prefix + text.encode("utf-8")).digest() for text in texts]

    def get_many(self, keys, n_features):
        """Return ``{position: vector}`` for the keys found intact."""
        found = {}

        def keep(positions, vectors):
            found.update(zip(positions.tolist(), vectors))

        self.read_into(keys, n_features, keep)
        return found

    def read_into(self, keys, n_features, write):
        """Pass the intact stored vectors to ``write(positions, vectors)``, chunk by chunk.

        ``positions`` index ``keys``, and ``vectors`` contains one row per position,
        valid only during the call. Damaged entries (wrong length, failed checksum,
        non-finite values) are left out, so their texts are fetched again and
        overwritten. Returns a boolean mask of the keys found intact.
        """
        found = np.zeros(len(keys), dtype=bool)
        positions = {key: i for i, key in enumerate(keys)}
        row_size = None if n_features is None else n_features * self._dtype.itemsize + _CHECKSUM_SIZE
        n_damaged = 0

        for rows in self._select(positions):
            # A model of unknown size: the first entry read sets the expected length.
            row_size = row_size or len(rows[0][1])
            ids, vectors, n_bad = self._decode(rows, positions, row_size)
            n_damaged += n_bad
            if ids.size:
                found[ids] = True
                write(ids, vectors)

        if n_damaged:
            logger.warning("%d damaged cache entries were ignored and will be fetched again", n_damaged)
        return found

    def set_many(self, keys, vectors):
        """Store one row of ``vectors`` per key, in a single transaction."""
        vectors = np.ascontiguousarray(vectors, dtype=self._dtype)
        if len(keys) == 0:
            return
        payloads = vectors.view(np.uint8).reshape(len(keys), -1)
        table = np.empty((len(keys), payloads.shape[1] + _CHECKSUM_SIZE), dtype=np.uint8)
        table[:, :-_CHECKSUM_SIZE] = payloads
        table[:, -_CHECKSUM_SIZE:] = _checksums(keys, payloads).astype("<u8").view(np.uint8).reshape(len(keys), -1)

        if not _HAS_UPSERT:
            with self._cache.transact(retry=True):
                for key, row in zip(keys, table):
                    self._cache.set(key, row.tobytes(), retry=True)
            return

        now = time.time()
        rows = [(key, now, now, table.shape[1], row.tobytes()) for key, row in zip(keys, table)]
        with self._cache.transact(retry=True):
            self._cache._con.executemany(_UPSERT, rows)

    def _select(self, keys):
        """Yield lists of ``(key, value)`` for the stored ``keys`` (a dict or set), chunk by chunk."""
        # Looking keys up costs about twice as much per row as reading the table in
        # storage order, so a request for half the table or more reads all of it.
        if 2 * len(keys) >= len(self._cache):
            chunks = self._scan(keys)
        else:
            chunks = self._look_up(list(keys))

        for rows in chunks:
            # A value kept in a file was not written by this class; diskcache reads it.
            rows = [(key, value if filename is None else self._cache.get(key)) for key, value, filename in rows]
            rows = [(key, value) for key, value in rows if isinstance(value, bytes)]
            if rows:
                yield rows

    def _look_up(self, keys):
        sql = self._cache._sql
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[start : start + _KEYS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            yield sql(
                f"SELECT key, value, filename FROM Cache WHERE raw = 1 AND key IN ({marks})",
                chunk,
            ).fetchall()

    def _scan(self, keys):
        cursor = self._cache._sql("SELECT key, value, filename FROM Cache WHERE raw = 1")
        while rows := cursor.fetchmany(_KEYS_PER_QUERY):
            yield [row for row in rows if row[0] in keys]

    def _decode(self, rows, positions, row_size):
        """Return ``(ids, vectors, n_damaged)`` for the intact rows of one chunk."""
        intact = [(key, value) for key, value in rows if len(value) == row_size]
        n_damaged = len(rows) - len(intact)
        payload_size = row_size - _CHECKSUM_SIZE
        if not intact or payload_size <= 0 or payload_size % self._dtype.itemsize:
            return np.zeros(0, dtype=np.int64), None, len(rows)

        keys = [key for key, _ in intact]
        table = np.frombuffer(b"".join(value for _, value in intact), dtype=np.uint8).reshape(len(intact), row_size)
        payloads = table[:, :payload_size]
        stored = table[:, payload_size:].copy().view("<u8").ravel()
        ok = stored == _checksums(keys, payloads)

        vectors = payloads.view(self._dtype)
        if self._dtype.kind == "f":
            ok &= np.isfinite(vectors).all(axis=1)
        ids = np.fromiter((positions[key] for key in keys), dtype=np.int64, count=len(keys))
        if not ok.all():
            ids, vectors = ids[ok], vectors[ok]
        return ids, vectors, n_damaged + int(np.count_nonzero(~ok))


class BackgroundWriter:
    """Stores batches with :meth:`VectorCache.set_many` on one worker thread, in order.

    SQLite releases the GIL while it writes, so the event loop that receives the
    responses keeps running during commits and checkpoints. :meth:`close` waits for
    every batch submitted, so a batch that arrived is stored even when the transform
    fails later. A failed write is raised by the next :meth:`submit` or by :meth:`close`.
    """

    def __init__(self, store):
        self._store = store
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sklearn-mistral-cache")
        self._error = None

    def submit(self, keys, vectors):
        """Queue one batch; ``vectors`` must not change afterwards."""
        if self._error is not None:
            raise self._error
        future = self._executor.submit(self._store.set_many, keys, vectors)
        future.add_done_callback(self._keep_error)

    def close(self, raise_error=True):
        """Wait for the queued batches; raise the first failed write if ``raise_error``."""
        self._executor.shutdown(wait=True)
        if raise_error and self._error is not None:
            raise self._error

    def _keep_error(self, future):
        if self._error is None and not future.cancelled() and future.exception() is not None:
            self._error = future.exception()


@functools.lru_cache(maxsize=None)
def _checksum_weights(n_words):
    # Odd 64-bit weights drawn from SHAKE-128, so they never change between versions.
    digest = hashlib.shake_128(b"sklearn-mistral vector checksum").digest(8 * n_words)
    return np.frombuffer(digest, dtype="<u8") | np.uint64(1)


def _checksums(keys, payloads):
    """Return a uint64 checksum per row of ``payloads`` (uint8, one row per key).

    The checksum is a weighted sum modulo 2**64 of the 64-bit words of the key and the
    payload, with odd weights. Damage confined to one word always changes it. Other
    damage, a value stored under another key included, goes unnoticed with a
    probability of about 2**-64. NumPy computes it for a whole chunk at once: about
    0.3 µs per 4 KiB vector against 15 µs for a BLAKE2b digest per row (2 cores, AMD
    EPYC). It detects damage, not tampering.
    """
    n_rows, size = payloads.shape
    if size % 8:
        padded = np.zeros((n_rows, size + (-size) % 8), dtype=np.uint8)
        padded[:, :size] = payloads
        payloads = padded

    key_words = np.frombuffer(b"".join(keys), dtype="<u8").reshape(n_rows, -1)
    words = payloads.view("<u8")
    weights = _checksum_weights(key_words.shape[1] + words.shape[1])
    key_sums = np.einsum("ij,j->i", key_words, weights[: key_words.shape[1]])
    return key_sums + np.einsum("ij,j->i", words, weights[key_words.shape[1] :])


_open_caches = {}
_open_caches_lock = threading.Lock()


def open_cache(directory):
    """Return this process's diskcache for ``directory``, creating it private (0700)."""
    directory = os.path.abspath(os.path.expanduser(os.fspath(directory)))
    key = (os.getpid(), directory)
    with _open_caches_lock:
        if key not in _open_caches:
            _make_private_dir(directory)
            # No eviction, because a vector costs money to fetch again. With eviction
            # "none" and statistics off, diskcache's reads never write, so readers never
            # wait on a writer's lock.
            _open_caches[key] = diskcache.Cache(
                directory,
                eviction_policy="none",
                size_limit=2**62,
                disk_min_file_size=_MIN_FILE_SIZE,
                statistics=False,
            )
        return _open_caches[key]


def _make_private_dir(directory):
    if os.path.isdir(directory):
        return
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"cannot create the vector cache directory {directory!r} ({exc.strerror}). "
            f"Pass another cache_dir, set {CACHE_DIR_ENV}, or pass cache_dir=False to turn "
            "caching off",
        ) from exc
    # makedirs applies the umask, so set the mode explicitly on the leaf it created.
    os.chmod(directory, 0o700)
