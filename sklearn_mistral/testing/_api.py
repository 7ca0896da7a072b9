"""Request validation and response bodies of the fake ``POST /v1/embeddings``.

The bodies copy what Mistral's API is documented or reported to send. Errors use
Mistral's shape ``{"object": "error", "message", "type", "param", "code"}``, and
schema errors (422) wrap a FastAPI ``{"detail": [...]}`` list in ``message``, as the
live API does for requests that its pydantic models reject.
"""

import dataclasses
import json
import uuid

from ._encoding import format_json_rows
from ._vectors import CODESTRAL_FULL_DIMENSION, OUTPUT_DTYPES, is_codestral, wire_integers

__all__ = ["APIError", "EmbeddingRequest", "Limits", "Response", "embedding_response"]

KNOWN_MODELS = ("mistral-embed", "mistral-embed-2312", "codestral-embed", "codestral-embed-2505")
ENCODING_FORMATS = ("float", "base64")
_FIELDS = ("model", "input", "output_dimension", "output_dtype", "encoding_format")


@dataclasses.dataclass
class Response:
    """An HTTP response to send, or ``status=None`` to close the connection instead."""

    status: "int | None"
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = dataclasses.field(default_factory=dict)
    # Billed tokens reported in ``usage``; 0 for a response without usage.
    prompt_tokens: int = 0
    # For a 429: the seconds its headers ask the client to wait, None if they ask nothing.
    retry_after: "float | None" = None


class APIError(Exception):
    """A request rejected by validation; ``response`` is what the API sends back."""

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


def json_response(status, payload, headers=None):
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, headers=dict(headers or {}))


def error_payload(message, error_type, code=None):
    return {"object": "error", "message": message, "type": error_type, "param": None, "code": code}


def error_response(status, message, error_type, code=None, headers=None):
    return json_response(status, error_payload(message, error_type, code), headers)


def validation_error(details):
    """Return the 422 response for pydantic-style error ``details``."""
    payload = error_payload({"detail": details}, "invalid_request_error")
    return json_response(422, payload)


def unauthorized_response(request_id, body_shape="message"):
    """Return a 401 in one of the body shapes seen from Mistral's gateway and API."""
    if body_shape == "message":
        payload = {"message": "Unauthorized", "request_id": request_id}
    elif body_shape == "detail":
        payload = {"detail": "Unauthorized"}
    else:
        payload = error_payload("Unauthorized", "authentication_error")
    return json_response(401, payload)


def rate_limited_response(headers, retry_after, body_shape="mistral"):
    """Return a 429; ``body_shape="message"`` is the gateway's request-rate body."""
    if body_shape == "message":
        payload = {"message": "Requests rate limit exceeded"}
    else:
        payload = error_payload("Rate limit exceeded", "rate_limited", "1300")
    response = json_response(429, payload, headers)
    response.retry_after = retry_after
    return response


def _html_response(status, title, text):
    page = (
        f"<html><head><title>{title}</title></head><body>"
        f"<center><h1>{title}</h1></center><hr><center>{text}</center></body></html>\n"
    )
    return Response(status, page.encode(), content_type="text/html; charset=utf-8")


def server_error_response(status):
    """Return a 5xx: JSON from the API itself, HTML for 502 and 504 from a proxy."""
    if status == 502:
        return _html_response(502, "502 Bad Gateway", "nginx")
    if status == 504:
        return _html_response(504, "504 Gateway Time-out", "nginx")
    if status == 503:
        return error_response(503, "Service unavailable.", "service_unavailable")
    return error_response(status, "Internal server error.", "server_error")


def proxy_page_response():
    """Return a 200 whose body is an HTML page, as a captive portal or proxy sends."""
    return _html_response(200, "Proxy authentication required", "Sign in to continue.")


def route_not_found_response():
    return json_response(404, {"detail": "Not Found"})


def method_not_allowed_response():
    return json_response(405, {"detail": "Method Not Allowed"}, {"Allow": "POST"})


def _detail(error_type, loc, msg, value, ctx=None):
    detail = {"type": error_type, "loc": ["body", *loc], "msg": msg, "input": value}
    if ctx is not None:
        detail["ctx"] = ctx
    return detail


def parse_json(raw):
    """Parse a request body, raising the 422 that FastAPI sends for bad JSON."""
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
        msg = "Input should be a valid string, unable to parse raw data as a unicode string"
        return [_detail("string_unicode", ["input", "str"], msg, value)]

    if not isinstance(value, list):
        return [
            _detail("string_type", ["input", "str"], "Input should be a valid string", value),
            _detail("list_type", ["input", "list[str]"], "Input should be a valid list", value),
        ]

    errors = []
    for i, item in enumerate(value):
        loc = ["input", "list[str]", i]
        if not isinstance(item, str):
            errors.append(_detail("string_type", loc, "Input should be a valid string", item))
        elif not _is_encodable(item):
            msg = "Input should be a valid string, unable to parse raw data as a unicode string"
            errors.append(_detail("string_unicode", loc, msg, item))
    if errors:
        errors.insert(0, _detail("string_type", ["input", "str"], "Input should be a valid string", value))
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
        errors.append(_detail("string_type", ["model"], "Input should be a valid string", body["model"]))
    if "input" in body:
        errors.extend(_input_errors(body["input"]))

    errors.extend(_output_dimension_errors(body.get("output_dimension")))
    errors.extend(_enum_errors(body, "output_dtype", OUTPUT_DTYPES))
    errors.extend(_enum_errors(body, "encoding_format", ENCODING_FORMATS))
    for field, value in body.items():
        if field not in _FIELDS:
            errors.append(_detail("extra_forbidden", [field], "Extra inputs are not permitted", value))
    return errors


def _check_model(model, output_dimension):
    # The live API answers an unknown model with this body (code "1500", reported).
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


def too_many_inputs_response():
    message = "Too many inputs in request, split into more batches."
    return error_response(400, message, "invalid_request_prompt", "3210")


def too_many_tokens_response():
    message = "Too many tokens overall, split into more batches."
    return error_response(400, message, "invalid_request_prompt", "3210")


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

    ``token_counts`` holds the billed tokens of each input of ``read_inputs(body)``.
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
