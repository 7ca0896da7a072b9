"""The record of the requests that the fake received."""

import dataclasses

import numpy as np

__all__ = ["Exchange", "RequestRecord"]


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    """One request that :class:`FakeMistralAPI` received, including rejected ones.

    It contains no request headers, so never the key sent in ``Authorization``.

    Attributes
    ----------
    start, end : float
        ``time.monotonic()`` when the request was read and when its response was ready
        to send, after any latency.
    status : int or None
        The HTTP status sent, ``None`` when the fake closed the connection instead.
    model : str or None
        The ``model`` field, if it was a string.
    inputs : list of str
        The input texts; empty when ``input`` was missing or not a string or a list
        of strings.
    n_tokens : int
        Billed tokens of ``inputs``, counted even when the request was rejected.
    fault : str or None
        The injected fault applied: an ``inject`` kind, ``"fail-every-request"``, or
        ``None``. Random faults are named like injected ones (``"429"``, ``"500"``,
        ``"drop"``). A 429 from ``rate_limit_rps`` or ``rate_limit_tpm`` is no fault.
    request_id : str
        The ``x-request-id`` header of the response.
    authorized : bool
        Whether the bearer token was accepted.
    early_retry : bool
        Whether the same inputs had received a 429 whose requested wait had not passed.
    body : dict or None
        The parsed JSON body, if it was an object.
    prompt_tokens : int
        ``usage.prompt_tokens`` of the response, 0 when it had no usage.
    """

    start: float
    end: float
    status: "int | None"
    model: "str | None"
    inputs: list
    n_tokens: int
    fault: "str | None"
    request_id: str
    authorized: bool
    early_retry: bool
    body: "dict | None"
    prompt_tokens: int = 0


@dataclasses.dataclass
class Exchange:
    """The facts gathered about one request while the fake handles it."""

    start: float
    request_id: str
    parsed: object = None
    rejection: "Response | None" = None
    inputs: list = dataclasses.field(default_factory=list)
    token_counts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    authorized: bool = False
    early_retry: bool = False
    fault: "str | None" = None
    delay: float = 0.0

    @property
    def body(self):
        return self.parsed if isinstance(self.parsed, dict) else None

    @property
    def model(self):
        model = self.body.get("model") if self.body is not None else None
        return model if isinstance(model, str) else None
