"""The on-disk vector cache: diskcache underneath, keyed by a hash, values as raw bytes.

diskcache keeps entries in SQLite, which makes one cache directory safe to share between
threads and between processes on one machine: each write below is one transaction, so
a reader sees a batch entirely or not at all, and a killed process loses only the batch
it was writing.
"""

import hashlib
import logging
import os
import threading
from urllib.parse import urlsplit

import diskcache
import numpy as np

__all__ = ["VectorCache", "default_cache_dir", "endpoint_family", "open_cache"]

logger = logging.getLogger("sklearn_mistral")

CACHE_DIR_ENV = "SKLEARN_MISTRAL_CACHE_DIR"

# Appended to every stored vector; a flipped or missing byte fails the check.
_CHECKSUM_SIZE = 8

# diskcache stores values below this size inside SQLite rather than as files, which
# the bulk read needs; 1 MiB holds the largest vector (3072 float32 = 12 KiB).
_MIN_FILE_SIZE = 2**20

# SQLite builds before 3.32 allow 999 parameters per statement.
_KEYS_PER_QUERY = 900

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def default_cache_dir():
    """Return ``$SKLEARN_MISTRAL_CACHE_DIR``, else the per-user cache directory."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sklearn-mistral")


def endpoint_family(base_url):
    """Name the server family whose vectors a cache entry holds.

    Every ``*.mistral.ai`` host (regional ones included) serves the same models, so they
    share entries. Any other host keeps its own, without the port, so that a local server
    restarted on another port still finds its vectors.
    """
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "mistral.ai" or host.endswith(".mistral.ai"):
        return "mistral.ai"
    if host in _LOOPBACK_HOSTS or host.startswith("127."):
        return "loopback"
    return host


class VectorCache:
    """Vectors stored under a namespace: everything except the text that shapes a vector.

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
        self._prefix = hashlib.sha256(repr(sorted(namespace.items())).encode()).digest()
        self._dtype = np.dtype(dtype)

    def keys(self, texts):
        """Return the cache key of each text: a SHA-256 digest, so no text is stored."""
        prefix = self._prefix
        return [hashlib.sha256(prefix + text.encode("utf-8")).digest() for text in texts]

    def get_many(self, keys, n_features):
        """Return ``{position: vector}`` for the keys found intact.

        Damaged entries (wrong length, failed checksum, non-finite values) are left out,
        so their texts are fetched again and overwritten.
        """
        found = {}
        n_damaged = 0
        positions = {key: i for i, key in enumerate(keys)}
        for key, value in self._select(list(positions)):
            vector = self._decode(key, value, n_features)
            if vector is None:
                n_damaged += 1
            else:
                found[positions[key]] = vector

        if n_damaged:
            logger.warning("%d damaged cache entries were ignored and will be fetched again", n_damaged)
        return found

    def set_many(self, keys, vectors):
        """Store one row of ``vectors`` per key, in a single transaction."""
        vectors = np.ascontiguousarray(vectors, dtype=self._dtype)
        with self._cache.transact(retry=True):
            for key, row in zip(keys, vectors):
                payload = row.tobytes()
                self._cache.set(key, payload + _checksum(key, payload), retry=True)

    def _select(self, keys):
        """Yield ``(key, value)`` for the stored keys, many per SQL statement."""
        # diskcache reads one key per statement; selecting hundreds at once from its
        # table (read-only) makes warm transforms of 10^5 texts several times faster.
        sql = self._cache._sql
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[start : start + _KEYS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            rows = sql(
                f"SELECT key, value, filename FROM Cache WHERE raw = 1 AND key IN ({marks})",
                chunk,
            ).fetchall()
            for key, value, filename in rows:
                if filename is not None:
                    value = self._cache.get(bytes(key))
                if value is not None:
                    yield bytes(key), bytes(value)

    def _decode(self, key, value, n_features):
        payload, checksum = value[:-_CHECKSUM_SIZE], value[-_CHECKSUM_SIZE:]
        if n_features is not None and len(payload) != n_features * self._dtype.itemsize:
            return None
        if len(payload) % self._dtype.itemsize or checksum != _checksum(key, payload):
            return None

        vector = np.frombuffer(payload, dtype=self._dtype)
        if vector.dtype.kind == "f" and not np.isfinite(vector).all():
            return None
        return vector


def _checksum(key, payload):
    return hashlib.blake2b(key + payload, digest_size=_CHECKSUM_SIZE).digest()


_open_caches = {}
_open_caches_lock = threading.Lock()


def open_cache(directory):
    """Return this process's diskcache for ``directory``, creating it private (0700)."""
    directory = os.path.abspath(os.path.expanduser(os.fspath(directory)))
    key = (os.getpid(), directory)
    with _open_caches_lock:
        if key not in _open_caches:
            _make_private_dir(directory)
            # No eviction: a vector costs money to fetch again, and with "none" reads
            # never write, so readers never wait on a writer's lock.
            _open_caches[key] = diskcache.Cache(
                directory,
                eviction_policy="none",
                size_limit=2**62,
                disk_min_file_size=_MIN_FILE_SIZE,
                statistics=False,
            )
        return _open_caches[key]


def _make_private_dir(directory):
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # makedirs applies the umask; set the mode explicitly on the leaf we created.
        os.chmod(directory, 0o700)
