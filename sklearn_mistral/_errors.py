"""Exceptions raised by sklearn-mistral.

The hierarchy::

    MistralEmbeddingError
    ├── InvalidInputError (also ValueError)   bad text in X, raised before any request
    │   └── TextTooLongError                  a text over the per-input token limit
    ├── MissingAPIKeyError                    the key's environment variable is unset or invalid
    ├── APIConnectionError                    no HTTP response: connection failed or dropped
    │   └── APITimeoutError                   no response within ``timeout`` seconds
    └── APIStatusError                        an HTTP response that is an error
        ├── BadRequestError                   400, 404, 422 and other 4xx: fix the request, never retried
        ├── AuthenticationError               401 and 403: fix the key, never retried
        ├── RateLimitError                    429 after the last retry
        ├── ServerError                       5xx after the last retry
        └── ResponseFormatError               a 200 whose body is not a valid embeddings response

Errors about the API keep the HTTP ``status_code``, the API's ``message``, its error
``code`` and the ``request_id`` when the server sent them. They never contain the API
key or request headers.
"""

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "InvalidInputError",
    "MissingAPIKeyError",
    "MistralEmbeddingError",
    "RateLimitError",
    "ResponseFormatError",
    "ServerError",
    "TextTooLongError",
]


class MistralEmbeddingError(Exception):
    """Base class of every error that sklearn-mistral raises on purpose."""


class InvalidInputError(MistralEmbeddingError, ValueError):
    """An input text that cannot be sent; the message names the row and the fix.

    Attributes
    ----------
    rows : list of int
        Positions of the offending texts in the input, 0-based.
    """

    def __init__(self, message, rows=()):
        super().__init__(message)
        self.rows = list(rows)


class TextTooLongError(InvalidInputError):
    """Texts over the per-input token limit, found before any request was sent.

    Attributes
    ----------
    rows : list of int
        Positions of the texts over the limit, 0-based.
    n_tokens : list of int
        Billed tokens of each of those texts, in the order of ``rows``.
    """

    def __init__(self, message, rows=(), n_tokens=()):
        super().__init__(message, rows)
        self.n_tokens = list(n_tokens)


class MissingAPIKeyError(MistralEmbeddingError):
    """The environment variable named by ``api_key_env`` is unset, empty or not a valid key."""


class APIConnectionError(MistralEmbeddingError):
    """The request got no HTTP response after the last retry."""


class APITimeoutError(APIConnectionError):
    """The server sent no response within ``timeout`` seconds, after the last retry."""


class APIStatusError(MistralEmbeddingError):
    """The API responded with an error status, or with a body that cannot be used.

    Attributes
    ----------
    status_code : int
        The HTTP status of the response.
    message : str
        The API's own error message, or a description of what was wrong with the body.
    code : str or None
        The API's error code, such as ``"3210"``, when it sent one.
    request_id : str or None
        The request id the server sent back, for support tickets.
    path : str
        The URL path that was requested, without host or query.
    """

    def __init__(self, message, *, status_code, code=None, request_id=None, path=""):
        self.status_code = status_code
        self.message = message
        self.code = code
        self.request_id = request_id
        self.path = path
        super().__init__(self._describe())

    def _describe(self):
        text = f"HTTP {self.status_code} from POST {self.path}: {self.message}"
        if self.code:
            text += f" (code {self.code})"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def __reduce__(self):
        # Keyword-only arguments need an explicit reduce to survive pickling, which
        # joblib uses to send errors back from GridSearchCV workers.
        return (
            _rebuild_status_error,
            (type(self), self.message, self.status_code, self.code, self.request_id, self.path),
        )


def _rebuild_status_error(cls, message, status_code, code, request_id, path):
    return cls(message, status_code=status_code, code=code, request_id=request_id, path=path)


class BadRequestError(APIStatusError):
    """The API rejected the request itself (400, 404, 422 or another 4xx); retrying cannot help.

    A 400 that reports a per-request limit is not raised while the batch can still be
    split: the halves are sent instead.
    """


class AuthenticationError(APIStatusError):
    """The API rejected the key (401) or its access (403)."""


class RateLimitError(APIStatusError):
    """The API still responded 429 after the last retry."""


class ServerError(APIStatusError):
    """The API still responded 5xx after the last retry."""


class ResponseFormatError(APIStatusError):
    """A successful response whose body is not a valid embeddings response."""
