"""Mistral text embeddings as a scikit-learn transformer, batched, concurrent and cached."""

from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InvalidInputError,
    MissingAPIKeyError,
    MistralEmbeddingError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TextTooLongError,
)
from ._estimate import CostEstimate
from ._usage import Usage, track_usage
from ._vectorizer import MistralEmbeddingVectorizer

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CostEstimate",
    "InvalidInputError",
    "MissingAPIKeyError",
    "MistralEmbeddingError",
    "MistralEmbeddingVectorizer",
    "RateLimitError",
    "ResponseFormatError",
    "ServerError",
    "TextTooLongError",
    "Usage",
    "track_usage",
]
