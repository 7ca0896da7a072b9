"""An offline fake of the Mistral embeddings API, for tests, examples and benchmarks.

:class:`FakeMistralAPI` serves ``POST /v1/embeddings`` over real HTTP on 127.0.0.1,
so that any client pointed at its ``base_url`` (the vectorizer, httpx, the official
``mistralai`` SDK) talks to it through sockets. It enforces the API's limits and error
bodies, bills ``usage`` with Mistral's tokenizers, records every request and injects
faults on request. :func:`fake_embedding` computes the vector the fake returns for a
text. The vectors are deterministic and carry some meaning, but they are not
mistral-embed's vectors.

Run ``python -m sklearn_mistral.testing`` to serve the fake until Ctrl-C.
"""

from ._fake import FakeMistralAPI, RequestRecord
from ._faults import FaultPlan
from ._vectors import fake_embedding

__all__ = ["FakeMistralAPI", "FaultPlan", "RequestRecord", "fake_embedding"]
