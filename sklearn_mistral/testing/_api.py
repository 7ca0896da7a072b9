"""Request validation and the 200 response of the fake ``POST /v1/embeddings``.

The checks and their error bodies copy what Mistral's API is documented or reported
to do. Schema errors (422) wrap a FastAPI ``{"detail": [...]}`` list in ``message``,
as the live API does for requests that its pydantic models reject.
"""

import dataclasses
import hmac
import json
import uuid

from ._encoding import format_json_rows
from ._responses import (
    Response,
    error_response,
    too_many_inputs_response,
    too_many_tokens_response,
    validation_error,
)
from ._vectors import CODESTRAL_FULL_DIMENSION, OUTPUT_DTYPES, is_codestral, wire_integers

__all__ = [
    "KNOWN_MODELS",
    "APIError",
    "EmbeddingRequest",
    "Limits",
    "embedding_response",
    "is_authorized",
    "parse_json",
    "read_inputs",
    "validate_request",
]

KNOWN_MODELS = ("mistral-embed", "mistral-embed-2312", "codestral-embed", "codestral-embed-2505")
ENCODING_FORMATS = ("float", "base64")
# The request fields of the official SDK's EmbeddingRequest model; ``metadata`` (an
# object or null) is accepted and ignored.
_FIELDS = ("model", "input", "metadata", "output_dimension", "output_dtype", "encoding_format")
_NOT_A_STRING = "Input should be a valid string"
_NOT_UNICODE = "Input should be a valid string, unable to parse raw data as a unicode string"


class APIError(Exception):
    """A request rejected by validation. ``response`` is what the API sends back."""

    def __init__(self, response):
        super().__init__(response.status)
        self.response = response


@dataclasses.dataclass(frozen=True)
class Limits:
    """The per-request limits the fake enforces."""

    max_inputs_per_request: int
    max_tokens_per_request: int
    max_tokens_per_input: int


@dataclasses.dataclass(frozen=True)
class EmbeddingRequest:
    """A validated embeddings request."""

    model: str
    inputs: list
    output_dimension: "int | None" = None
    output_dtype: str = "float"


def is_authorized(authorization, api_key):
    """Return whether an ``Authorization`` header carries an accepted bearer token.

    ``api_key=None`` accepts any non-empty bearer token.
    """
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return False
    if api_key is None:
        return True
    return hmac.compare_digest(token.encode(), api_key.encode())


def _detail(error_type, loc, msg, value, ctx=None):
    detail = {"type": error_type, "loc": ["body", *loc], "msg": msg, "input": value}
    if ctx is not None:
        detail["ctx"] = ctx
    return detail


def _is_json_type(content_type):
    media_type = content_type.split(";")[0].strip().lower()
    return not media_type or media_type.endswith(("/json", "+json"))


def parse_json(raw, content_type=""):
    """Parse a request body, raising the 422 that FastAPI sends for bad JSON.

    As in FastAPI, a body without ``Content-Type`` is parsed as JSON, and a body of
    another media type, such as a form, fails validation.
    """
    if not _is_json_type(content_type):
        msg = "Input should be a valid dictionary or object to extract fields from"
        value = raw.decode("utf-8", "replace")
        raise APIError(validation_error([_detail("model_attributes_type", [], msg, value)]))
    if not raw.strip():
        raise APIError(validation_error([_detail("missing", [], "Field required", None)]))
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        ctx = {"error": str(exc)}
        detail = _detail("json_invalid", [0], "JSON decode error", {}, ctx)
        raise APIError(validation_error([detail])) from None
    except json.JSONDecodeError as exc:
        ctx = {"error": exc.msg}
        detail = _detail("json_invalid", [exc.pos], "JSON decode error", {}, ctx)
        raise APIError(validation_error([detail])) from None


def _is_encodable(text):
    # JSON may escape lone surrogates, which are not valid Unicode text.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_inputs(body):
    """Return the input texts of ``body``, or ``[]`` when ``input`` is not valid text."""
    if not isinstance(body, dict):
        return []
    value = body.get("input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list):
        return []
    if all(isinstance(text, str) and _is_encodable(text) for text in texts):
        return list(texts)
    return []


def _input_errors(value):
    if isinstance(value, str):
        if _is_encodable(value):
            return []
        return [_detail("string_unicode", ["input", "str"], _NOT_UNICODE, value)]

    if not isinstance(value, list):
        return [
            _detail("string_type", ["input", "str"], _NOT_A_STRING, value),
            _detail("list_type", ["input", "list[str]"], "Input should be a valid list", value),
        ]

    errors = []
    for i, item in enumerate(value):
        loc = ["input", "list[str]", i]
        if not isinstance(item, str):
            errors.append(_detail("string_type", loc, _NOT_A_STRING, item))
        elif not _is_encodable(item):
            errors.append(_detail("string_unicode", loc, _NOT_UNICODE, item))
    if errors:
        # pydantic reports the failed alternatives of ``str | list[str]`` in order.
        errors.insert(0, _detail("string_type", ["input", "str"], _NOT_A_STRING, value))
    return errors


def _output_dimension_errors(value):
    # NOTE: stricter than pydantic's lax mode, which would also accept 256.0 or "256".
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int):
        return [_detail("int_type", ["output_dimension"], "Input should be a valid integer", value)]
    if value <= 0:
        msg = "Input should be greater than 0"
        return [_detail("greater_than", ["output_dimension"], msg, value, {"gt": 0})]
    return []


def _enum_errors(body, field, choices):
    value = body.get(field)
    if value is None or value in choices:
        return []
    expected = ", ".join(f"'{choice}'" for choice in choices[:-1]) + f" or '{choices[-1]}'"
    msg = f"Input should be {expected}"
    return [_detail("enum", [field], msg, value, {"expected": expected})]


def _schema_errors(body):
    errors = []
    for field in ("model", "input"):
        if field not in body:
            errors.append(_detail("missing", [field], "Field required", body))
    if "model" in body and not isinstance(body["model"], str):
        errors.append(_detail("string_type", ["model"], _NOT_A_STRING, body["model"]))
    if "input" in body:
        errors.extend(_input_errors(body["input"]))

    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        msg = "Input should be a valid dictionary"
        errors.append(_detail("dict_type", ["metadata"], msg, metadata))
    errors.extend(_output_dimension_errors(body.get("output_dimension")))
    errors.extend(_enum_errors(body, "output_dtype", OUTPUT_DTYPES))
    errors.extend(_enum_errors(body, "encoding_format", ENCODING_FORMATS))
    for field, value in body.items():
        if field not in _FIELDS:
            msg = "Extra inputs are not permitted"
            errors.append(_detail("extra_forbidden", [field], msg, value))
    return errors


def _check_model(model, output_dimension):
    # The live API returns this body for an unknown model (code "1500", reported).
    # NOTE: reports show it with status 400; the fake sends 404 so that clients can
    # tell a wrong model name from a malformed request.
    if model not in KNOWN_MODELS:
        raise APIError(error_response(404, f"Invalid model: {model}", "invalid_model", "1500"))
    if output_dimension is None:
        return
    if not is_codestral(model):
        message = "This model does not support output_dimension."
        raise APIError(error_response(400, message, "invalid_request_error", "3051"))
    if output_dimension > CODESTRAL_FULL_DIMENSION:
        msg = f"Input should be less than or equal to {CODESTRAL_FULL_DIMENSION}"
        ctx = {"le": CODESTRAL_FULL_DIMENSION}
        detail = _detail("less_than_equal", ["output_dimension"], msg, output_dimension, ctx)
        raise APIError(validation_error([detail]))


def _check_limits(inputs, token_counts, limits):
    if not inputs:
        message = "Please provide at least one input element."
        raise APIError(error_response(400, message, "invalid_request_error"))
    if len(inputs) > limits.max_inputs_per_request:
        raise APIError(too_many_inputs_response())

    # NOTE: the live API's wording for one input over the per-input limit is not known.
    for i, n_tokens in enumerate(token_counts):
        if n_tokens > limits.max_tokens_per_input:
            message = (
                f"Input {i} has {n_tokens} tokens, over the limit of "
                f"{limits.max_tokens_per_input} tokens per input."
            )
            raise APIError(error_response(400, message, "invalid_request_prompt"))
    if int(sum(token_counts)) > limits.max_tokens_per_request:
        raise APIError(too_many_tokens_response())


def validate_request(body, token_counts, limits):
    """Validate a parsed request body, raising :class:`APIError` with the API's response.

    ``token_counts`` contains the billed tokens of each input of ``read_inputs(body)``.
    """
    if not isinstance(body, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        raise APIError(validation_error([_detail("model_attributes_type", [], msg, body)]))
    errors = _schema_errors(body)
    if errors:
        raise APIError(validation_error(errors))

    model = body["model"]
    output_dimension = body.get("output_dimension")
    _check_model(model, output_dimension)
    inputs = read_inputs(body)
    _check_limits(inputs, token_counts, limits)
    return EmbeddingRequest(model, inputs, output_dimension, body.get("output_dtype") or "float")


def _data_items(request, data_fault):
    integers, n_decimals = wire_integers(
        request.inputs, request.model, request.output_dimension, request.output_dtype
    )
    rows = format_json_rows(integers, n_decimals)
    if data_fault == "wrong-dim":
        rows[0] = format_json_rows(integers[:1, :-1], n_decimals)[0]

    items = list(enumerate(rows))
    if data_fault == "missing-index":
        items.pop()
    elif data_fault == "duplicate-index":
        if len(items) == 1:
            items.append(items[0])
        else:
            items[-1] = (0, items[-1][1])
    elif data_fault == "shuffled":
        items.reverse()
    return items


def embedding_response(request, n_tokens, data_fault=None):
    """Build the 200 response for a validated request.

    ``data_fault`` names a malformed variant: ``"no-data"``, ``"wrong-dim"``,
    ``"missing-index"``, ``"duplicate-index"`` or ``"shuffled"``.
    """
    usage = {
        "prompt_tokens": n_tokens,
        "total_tokens": n_tokens,
        "completion_tokens": 0,
        "prompt_audio_seconds": None,
    }
    parts = [b'{"id":"', uuid.uuid4().hex.encode(), b'","object":"list",']
    if data_fault != "no-data":
        entries = [
            b'{"object":"embedding","embedding":%s,"index":%d}' % (row, index)
            for index, row in _data_items(request, data_fault)
        ]
        parts += [b'"data":[', b",".join(entries), b"],"]
    parts += [b'"model":', json.dumps(request.model).encode(), b',"usage":']
    parts += [json.dumps(usage, separators=(",", ":")).encode(), b"}"]
    return Response(200, b"".join(parts), prompt_tokens=n_tokens)
