"""Response bodies of the fake, in the shapes that Mistral's API and gateway send.

Errors use Mistral's shape ``{"object": "error", "message", "type", "param", "code"}``
unless the gateway that sends them is reported to use another.
"""

import dataclasses
import json

__all__ = [
    "Response",
    "error_response",
    "json_response",
    "method_not_allowed_response",
    "proxy_page_response",
    "rate_limited_response",
    "route_not_found_response",
    "server_error_response",
    "too_many_inputs_response",
    "too_many_tokens_response",
    "unauthorized_response",
    "validation_error",
]


@dataclasses.dataclass
class Response:
    """An HTTP response to send, or ``status=None`` to close the connection instead."""

    status: "int | None"
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = dataclasses.field(default_factory=dict)
    # Billed tokens reported in ``usage``, 0 for a response without usage.
    prompt_tokens: int = 0
    # For a 429, the seconds its headers ask the client to wait, or None if they ask
    # for nothing.
    retry_after: "float | None" = None


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
    """Return a 429. ``body_shape="message"`` gives the gateway's request-rate body."""
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
    """Return a 5xx, with JSON from the API itself, or HTML from a proxy for 502 and 504."""
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


def too_many_inputs_response():
    message = "Too many inputs in request, split into more batches."
    return error_response(400, message, "invalid_request_prompt", "3210")


def too_many_tokens_response():
    message = "Too many tokens overall, split into more batches."
    return error_response(400, message, "invalid_request_prompt", "3210")
