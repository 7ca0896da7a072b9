"""One transform from validated texts to vectors: dedupe, cache, count, batch, send, assemble."""

import dataclasses
import logging
import os
import re
import time
import warnings

import numpy as np

from ._batching import deduplicate, plan_batches
from ._cache import BackgroundWriter, VectorCache, default_cache_dir, endpoint_family, open_cache
from ._client import EmbeddingsClient, make_http_client
from ._errors import MissingAPIKeyError, TextTooLongError
from ._output import OutputArray, stored_dtype, stored_length
from ._runner import fetch_batches, run_coroutine
from ._throttle import Throttle
from ._tokens import get_token_counter
from ._usage import Usage, record_usage

__all__ = ["EmbeddingSettings", "embed_texts", "n_features_of"]

logger = logging.getLogger("sklearn_mistral")

# Billed tokens allowed in one input: the models' 8k context, from Mistral's docs.
MAX_TOKENS_PER_INPUT = 8192

# Output sizes of Mistral's embedding models when no output_dimension is sent.
_DEFAULT_DIMENSIONS = {"mistral-embed": 1024, "codestral-embed": 1536}

# Output widths returned by models this package does not know, per endpoint and model.
_observed_dimensions = {}

# Texts whose tokens are counted in one call of the tokenizer.
_TEXTS_PER_COUNT = 4096


@dataclasses.dataclass(frozen=True)
class EmbeddingSettings:
    """The vectorizer's parameters, as one transform uses them."""

    model: str
    base_url: str
    api_key_env: str
    cache_dir: object
    batch_size: int
    max_tokens_per_request: int
    max_concurrency: int
    max_retries: int
    timeout: float
    output_dimension: object
    output_dtype: str
    truncate: bool
    progress_bar: bool

    @property
    def namespace(self):
        """Everything besides the text that changes a vector: the cache key's prefix."""
        return {
            "endpoint": endpoint_family(self.base_url),
            "model": self.model,
            "output_dimension": self.output_dimension,
            "output_dtype": self.output_dtype,
        }

    @property
    def request_fields(self):
        fields = {"model": self.model}
        if self.output_dimension is not None:
            fields["output_dimension"] = self.output_dimension
        if self.output_dtype != "float":
            fields["output_dtype"] = self.output_dtype
        return fields


def n_features_of(settings):
    """Return the output width for ``settings``, or ``None`` if not known yet."""
    if settings.output_dimension is not None:
        return settings.output_dimension
    for prefix, n_features in _DEFAULT_DIMENSIONS.items():
        if settings.model.startswith(prefix):
            return n_features
    return _observed_dimensions.get((endpoint_family(settings.base_url), settings.model))


def embed_texts(texts, settings):
    """Return the float32 embeddings of ``texts`` (a list of valid strings), in order."""
    started = time.perf_counter()
    stats = Usage(n_texts=len(texts))
    unique, inverse = deduplicate(texts)
    stats.n_distinct = len(unique)

    n_features = n_features_of(settings)
    output = OutputArray(inverse, len(unique), n_features, settings.output_dtype)
    store = _open_store(settings)
    try:
        keys = store.keys(unique) if store else None
        missing = _read_hits(store, keys, output, n_features, settings, stats)
        if missing:
            _fetch_missing(unique, missing, keys, store, output, inverse, settings, stats)
    finally:
        record_usage(stats)

    logger.info(
        "embedded %d texts (%d distinct): %d cache hits, %d requests, %d tokens billed, "
        "%d retries, %d rate limited, in %.2f s",
        stats.n_texts, stats.n_distinct, stats.n_cache_hits, stats.n_requests, stats.n_tokens,
        stats.n_retries, stats.n_rate_limited, time.perf_counter() - started,
    )
    return output.array


def _open_store(settings):
    if settings.cache_dir is False:
        return None
    directory = settings.cache_dir if settings.cache_dir is not None else default_cache_dir()
    return VectorCache(open_cache(directory), settings.namespace, stored_dtype(settings.output_dtype))


def _read_hits(store, keys, output, n_features, settings, stats):
    """Copy cached vectors into ``output``; return the distinct ids still missing."""
    if store is None:
        return list(range(stats.n_distinct))

    # Each chunk of hits goes straight into the output, so no second output-sized copy
    # of the vectors is ever held.
    found = store.read_into(keys, stored_length(n_features, settings.output_dtype), output.put)
    stats.n_cache_hits = int(np.count_nonzero(found))
    return np.flatnonzero(~found).tolist()


def _fetch_missing(unique, missing, keys, store, output, inverse, settings, stats):
    """Send the texts not in the cache; store and place each batch as it arrives."""
    texts = [unique[j] for j in missing]
    counter = get_token_counter(settings.model)
    n_tokens = _count_tokens(counter, texts)
    texts, n_tokens = _enforce_input_limit(texts, n_tokens, missing, inverse, counter, settings, stats)
    keys = [keys[j] for j in missing] if store is not None else None
    cut = [i for i, j in enumerate(missing) if texts[i] is not unique[j]]
    if store is not None and cut:
        texts, n_tokens, missing, keys = _reuse_truncated(texts, n_tokens, missing, keys, cut, store, output, settings, stats)
        if not texts:
            return
    # A text bigger than the request budget still goes alone, in a batch of its own.
    budget = max(settings.max_tokens_per_request, int(n_tokens.max()))
    batches = plan_batches(n_tokens, settings.batch_size, budget)
    api_key = _read_api_key(settings)
    progress = _progress_bar(len(texts), settings.progress_bar)

    # Writes go to a worker thread, so that the event loop is free to send the next
    # requests while SQLite commits.
    writer = BackgroundWriter(store) if store is not None else None

    def on_batch(positions, vectors, prompt_tokens):
        ids = [missing[p] for p in positions]
        if writer is not None:
            writer.submit([keys[p] for p in positions], vectors)
        output.put(ids, vectors)
        stats.n_tokens += prompt_tokens
        progress.update(len(positions))

    try:
        run_coroutine(lambda: _send_all(texts, batches, on_batch, api_key, settings, stats))
    except BaseException as error:
        # Store what arrived before the failure, and let the failure itself be raised.
        _close(writer, progress, raise_error=False)
        _note_rows(error, missing, inverse)
        raise
    _close(writer, progress, raise_error=True)
    # Record the output width, not the packed length a bit-packed dtype sends.
    _observed_dimensions[(endpoint_family(settings.base_url), settings.model)] = output.array.shape[1]


def _reuse_truncated(texts, n_tokens, missing, keys, cut, store, output, settings, stats):
    """Key truncated texts by what is sent, and take those already cached from the cache.

    A vector of a truncated text is stored under the key of the prefix that was sent,
    never under the full text's key: a later transform with ``truncate=False`` still
    raises for the full text instead of returning the prefix's vector.
    """
    for i in cut:
        keys[i] = store.keys([texts[i]])[0]

    n_values = stored_length(n_features_of(settings), settings.output_dtype)
    hits = store.get_many([keys[i] for i in cut], n_values)
    for position, vector in hits.items():
        output.put([missing[cut[position]]], vector[np.newaxis])
    stats.n_cache_hits += len(hits)

    cached = {cut[position] for position in hits}
    kept = [i for i in range(len(texts)) if i not in cached]
    return [texts[i] for i in kept], n_tokens[kept], [missing[i] for i in kept], [keys[i] for i in kept]


def _note_rows(error, missing, inverse):
    """Add the input rows of a rejected batch to the error, mapped from its positions."""
    positions = getattr(error, "batch_positions", None)
    if not positions:
        return
    rows = _first_rows([missing[p] for p in positions], inverse)
    match = re.search(r"\binput (\d+)\b", getattr(error, "message", ""), flags=re.IGNORECASE)
    if match and int(match.group(1)) < len(rows):
        error.add_note(f"Input {match.group(1)} of the rejected request is row {rows[int(match.group(1))]} of X.")
    elif len(rows) <= 5:
        error.add_note(f"The rejected request held rows {rows} of X.")
    else:
        error.add_note(f"The rejected request held {len(rows)} texts, from row {min(rows)} to row {max(rows)} of X.")


def _close(writer, progress, raise_error):
    progress.close()
    if writer is not None:
        writer.close(raise_error)


async def _send_all(texts, batches, on_batch, api_key, settings, stats):
    n_features = stored_length(n_features_of(settings), settings.output_dtype)
    async with make_http_client(settings.base_url, settings.timeout, settings.max_concurrency) as http:
        client = EmbeddingsClient(
            http,
            url=settings.base_url.rstrip("/") + "/embeddings",
            api_key=api_key,
            fields=settings.request_fields,
            n_features=n_features,
            dtype=stored_dtype(settings.output_dtype),
            max_retries=settings.max_retries,
            throttle=Throttle(settings.max_concurrency),
            stats=stats,
        )
        await fetch_batches(client, texts, batches, on_batch)
    return client.n_features


def _count_tokens(counter, texts):
    """Return the billed tokens of each text, counted a chunk of texts at a time."""
    # The tokenizer returns every token id as a Python int, about 36 bytes each with its
    # list slot: an estimated 180 MB for 10^5 texts of 50 tokens at once, 7 MB a chunk.
    if not texts:
        return np.zeros(0, dtype=np.int64)
    chunks = [counter.count(texts[start : start + _TEXTS_PER_COUNT]) for start in range(0, len(texts), _TEXTS_PER_COUNT)]
    return np.concatenate(chunks)


def _read_api_key(settings):
    api_key = os.environ.get(settings.api_key_env, "").strip()
    name = _display_variable(settings.api_key_env)
    if not api_key:
        raise MissingAPIKeyError(
            f"the environment variable {name} is not set or is empty, and some texts are "
            "not in the cache. Set it to your Mistral API key, or set api_key_env to the "
            "name of the variable that holds the key (its name, not the key itself)."
        )
    if not (api_key.isascii() and api_key.isprintable()):
        # An HTTP header cannot carry it, and httpx would quote it in its error.
        raise MissingAPIKeyError(
            f"the environment variable {name} contains an invalid API key: it has a line "
            "break, a control character or a non-ASCII character. Copy the key again from "
            "the Mistral console."
        )
    return _APIKey(api_key)


def _display_variable(name):
    """Return ``name`` for a message, unless it may be a key passed by mistake."""
    # Conventional variable names are upper case. A key pasted into api_key_env is mixed
    # case or has dashes, and it must not reach a message or a log.
    if re.fullmatch(r"[A-Z_][A-Z0-9_]{0,63}", name):
        return name
    return f"named by api_key_env ({len(name)} characters, not shown)"


class _APIKey(str):
    """The API key, as a ``str`` whose repr hides it.

    Tracebacks that show local variables (``pytest --showlocals``, rich, error
    trackers) print each one with ``repr``, and this key is a local of the frames
    that send requests.
    """

    __slots__ = ()

    def __repr__(self):
        return "'<API key hidden>'"


def _enforce_input_limit(texts, n_tokens, missing, inverse, counter, settings, stats):
    """Raise for texts over the per-input limit, or cut them when ``truncate`` is on."""
    too_long = np.flatnonzero(n_tokens > MAX_TOKENS_PER_INPUT)
    if too_long.size == 0:
        return texts, n_tokens

    rows = _first_rows([missing[i] for i in too_long], inverse)
    if not settings.truncate:
        listed = ", ".join(f"row {row} ({n_tokens[i]} tokens)" for row, i in list(zip(rows, too_long))[:5])
        more = f" and {too_long.size - 5} more" if too_long.size > 5 else ""
        raise TextTooLongError(
            f"{_count_texts(too_long.size)} the limit of {MAX_TOKENS_PER_INPUT} tokens per input: "
            f"{listed}{more}. Shorten or split them, or pass truncate=True to cut them to the limit.",
            rows=rows,
            n_tokens=[int(n_tokens[i]) for i in too_long],
        )

    texts = list(texts)
    n_tokens = n_tokens.copy()
    n_cut = 0
    for i in too_long:
        texts[i] = counter.truncate(texts[i], MAX_TOKENS_PER_INPUT)
        n_kept = counter.count([texts[i]])[0]
        n_cut += int(n_tokens[i] - n_kept)
        n_tokens[i] = n_kept
    stats.n_truncated += too_long.size
    warnings.warn(
        f"{_count_texts(too_long.size)} the limit of {MAX_TOKENS_PER_INPUT} tokens per input and "
        f"{'was' if too_long.size == 1 else 'were'} truncated to it, cutting {n_cut} tokens in all "
        f"(first rows: {rows[:5]}).",
        UserWarning,
        stacklevel=4,
    )
    return texts, n_tokens


def _count_texts(n):
    return "1 text exceeds" if n == 1 else f"{n} texts exceed"


def _first_rows(ids, inverse):
    """Return the first input row of each distinct id."""
    first = {}
    for row, j in enumerate(inverse.tolist()):
        first.setdefault(j, row)
    return [first[j] for j in ids]


class _NoProgress:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress_bar(total, enabled):
    if not enabled:
        return _NoProgress()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        warnings.warn("progress_bar=True needs tqdm: pip install tqdm", UserWarning, stacklevel=4)
        return _NoProgress()
    return tqdm(total=total, unit="text", desc="embedding")
