"""Cost estimates of a transform, worked out offline before anything is sent."""

import dataclasses

from ._batching import deduplicate, plan_batches
from ._embed import MAX_TOKENS_PER_INPUT, _open_store, n_features_of
from ._output import stored_length
from ._tokens import get_token_counter

__all__ = ["CostEstimate", "estimate_cost"]

# US dollars per million input tokens, Mistral's published list prices; the batch API
# halves them. NOTE: prices change, so check Mistral's pricing page before budgeting.
PRICE_PER_MILLION_TOKENS = {"mistral-embed": 0.10, "codestral-embed": 0.15}


@dataclasses.dataclass(frozen=True)
class CostEstimate:
    """The cost of embedding some texts, given what the cache already holds.

    Attributes
    ----------
    n_texts : int
        Texts given, duplicates included.
    n_distinct : int
        Distinct texts among them.
    n_cached : int
        Distinct texts already in the cache, which cost nothing.
    n_tokens : int
        Billed tokens of the distinct texts not cached. Exact with Mistral's tokenizer,
        an upper bound without it.
    n_requests : int
        Requests the batch plan needs for those texts, before any retry or split.
    n_too_long : int
        Distinct texts over the per-input limit of 8192 tokens.
    usd : float or None
        ``n_tokens`` at the model's list price, ``None`` for a model without one.
    exact : bool
        Whether ``n_tokens`` was counted with Mistral's own tokenizer.
    """

    n_texts: int
    n_distinct: int
    n_cached: int
    n_tokens: int
    n_requests: int
    n_too_long: int
    usd: object
    exact: bool


def estimate_cost(texts, settings):
    """Return the :class:`CostEstimate` of embedding ``texts`` (valid strings) now."""
    unique, _ = deduplicate(texts)
    store = _open_store(settings)
    cached = set()
    if store is not None:
        n_values = stored_length(n_features_of(settings), settings.output_dtype)
        cached = set(store.get_many(store.keys(unique), n_values))

    missing = [text for j, text in enumerate(unique) if j not in cached]
    counter = get_token_counter(settings.model)
    n_tokens = counter.count(missing)
    capped = n_tokens.clip(max=MAX_TOKENS_PER_INPUT) if settings.truncate else n_tokens
    budget = max(settings.max_tokens_per_request, int(capped.max(initial=0)))
    n_requests = len(plan_batches(capped, settings.batch_size, budget))

    total = int(capped.sum())
    return CostEstimate(
        n_texts=len(texts),
        n_distinct=len(unique),
        n_cached=len(cached),
        n_tokens=total,
        n_requests=n_requests,
        n_too_long=int((n_tokens > MAX_TOKENS_PER_INPUT).sum()),
        usd=_price(settings.model, total),
        exact=counter.exact,
    )


def _price(model, n_tokens):
    for prefix, price in PRICE_PER_MILLION_TOKENS.items():
        if model.startswith(prefix):
            return n_tokens * price / 1_000_000
    return None
