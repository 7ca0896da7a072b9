"""Parse the API's responses: embeddings from a 200, a typed error from any other status."""

import base64
import json

import numpy as np

from ._errors import (
    AuthenticationError,
    BadRequestError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
)

try:
    # orjson parses numbers about six times faster than the json module: 5 ms against
    # 29 ms for a fake response of 128 x 1024 numbers (2 cores, AMD EPYC, orjson 3.13).
    # Both returned the same float for each of 1.1 million decimals tried (float64 and
    # float32 reprs, 25-digit fractions), so orjson stays an optional speed-up.
    from orjson import loads as _loads
except ImportError:
    _loads = json.loads

__all__ = ["error_from_response", "is_limit_error", "parse_embeddings"]

# Fragments of the 400 messages Mistral sends when a batch breaks a request limit:
# "Too many tokens overall, split into more batches." (code 3210), the older
# "Too many tokens in batch. Max is 16384 got N", and
# "Too many inputs in request, split into more batches.".
_LIMIT_MESSAGES = ("too many tokens", "too many inputs", "split into more batches")
_LIMIT_CODES = {"3210"}

_REQUEST_ID_HEADERS = ("x-request-id", "mistral-correlation-id", "request-id")


def parse_embeddings(response, n_inputs, n_features, dtype):
    """Return ``(vectors, prompt_tokens)`` from a 200 response, ordered by ``index``.

    Raises :class:`ResponseFormatError` for any body that is not a complete embeddings
    response for ``n_inputs`` inputs of ``n_features`` values (``None``: any length,
    but the same for every row).
    """
    body = _json_body(response)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise _format_error(response, f"the body has no 'data' list (keys: {_keys(body)})")
    if len(data) != n_inputs:
        raise _format_error(response, f"'data' has {len(data)} items for {n_inputs} inputs")

    rows = _order_by_index(response, data, n_inputs)
    vectors = _stack(response, rows, n_features, dtype)
    return vectors, _prompt_tokens(body)


def _json_body(response):
    # Both decoders raise a ValueError subclass; orjson also rejects NaN and Infinity,
    # which are not JSON and which no embedding may contain.
    try:
        return _loads(response.content)
    except ValueError:
        kind = response.headers.get("content-type", "unknown content type")
        raise _format_error(response, f"the body is not JSON ({kind}): {response.text[:80]!r}") from None


def _order_by_index(response, data, n_inputs):
    rows = [None] * n_inputs
    for item in data:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n_inputs:
            raise _format_error(response, f"an item has index {index!r}, expected 0 to {n_inputs - 1}")
        if rows[index] is not None:
            raise _format_error(response, f"index {index} appears twice in 'data'")
        rows[index] = item.get("embedding")
    return rows


def _stack(response, rows, n_features, dtype):
    if any(isinstance(row, str) for row in rows):
        # A base64 response: little-endian float32 (or the quantized dtype's) bytes.
        rows = [np.frombuffer(base64.b64decode(row), dtype=dtype) for row in rows]

    lengths = {len(row) if isinstance(row, (list, np.ndarray)) else -1 for row in rows}
    expected = {n_features} if n_features is not None else lengths
    if len(lengths) != 1 or lengths != expected or -1 in lengths:
        raise _format_error(response, f"embedding lengths {sorted(lengths)}, expected {n_features or 'equal lengths'}")

    try:
        vectors = np.array(rows, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise _format_error(response, f"an embedding contains a non-numeric value ({exc})") from None

    # The json module reads NaN and Infinity, which no embedding may contain.
    if vectors.dtype.kind == "f" and not np.isfinite(vectors).all():
        row = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise _format_error(response, f"the embedding at index {row} contains NaN or infinite values")
    return vectors


def _prompt_tokens(body):
    usage = body.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
        return usage["prompt_tokens"]
    return 0


def _keys(body):
    return sorted(body)[:8] if isinstance(body, dict) else type(body).__name__


def _format_error(response, problem):
    return ResponseFormatError(
        f"unexpected embeddings response: {problem}",
        status_code=response.status_code,
        request_id=request_id(response),
        path=response.request.url.path,
    )


def request_id(response):
    """Return the request id the server sent in a header, or ``None``."""
    for header in _REQUEST_ID_HEADERS:
        if header in response.headers:
            return response.headers[header]
    return None


def error_from_response(response):
    """Return the typed exception for an error response (status 4xx or 5xx)."""
    message, code, body_request_id = _error_details(response)
    status = response.status_code
    if status in (401, 403):
        cls = AuthenticationError
    elif status == 429:
        cls = RateLimitError
    elif status >= 500:
        cls = ServerError
    else:
        cls = BadRequestError
    if status == 404 and "model" not in message.lower():
        # No model named: most likely the path itself is wrong.
        message += f" (check base_url: requests go to {{base_url}}/embeddings, here {response.request.url.path})"
    return cls(
        message,
        status_code=status,
        code=code,
        request_id=request_id(response) or body_request_id,
        path=response.request.url.path,
    )


def _error_details(response):
    """Return ``(message, code, request_id)`` from any of the error bodies seen in practice."""
    try:
        body = json.loads(response.content)
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return (text[:200] or response.reason_phrase or "no message"), None, None
    if not isinstance(body, dict):
        return str(body)[:200], None, None

    message = body.get("message", body.get("detail", ""))
    message = _unwrap_validation_detail(message)
    code = body.get("code")
    return (message or "no message"), (str(code) if code is not None else None), body.get("request_id")


def _unwrap_validation_detail(message):
    """Turn a FastAPI ``detail`` list, bare or inside ``{"detail": ...}`` (an object or JSON text), into one line."""
    if isinstance(message, str) and message.lstrip().startswith("{"):
        try:
            message = json.loads(message)
        except ValueError:
            return message
    if isinstance(message, dict):
        message = message.get("detail", message)
    if isinstance(message, list):
        parts = []
        for item in message:
            if isinstance(item, dict):
                location = ".".join(str(part) for part in item.get("loc", []))
                parts.append(f"{location}: {item.get('msg', item)}")
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(message)


def is_limit_error(error):
    """Return whether a 400 reports a broken per-request limit, so that halves would pass."""
    if not isinstance(error, BadRequestError) or error.status_code != 400:
        return False
    if error.code in _LIMIT_CODES:
        return True
    message = error.message.lower()
    return any(fragment in message for fragment in _LIMIT_MESSAGES)
